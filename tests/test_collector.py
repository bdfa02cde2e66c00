"""A stage's libraries load with the collector paused and are frozen out of its later passes."""

from __future__ import annotations

import gc

from pipeline._runtime.gc_pause import import_all, paused


def test_paused_freezes_what_exists_and_restores_the_collector():
    assert gc.isenabled()
    before = gc.get_freeze_count()
    with paused():
        assert not gc.isenabled()
        kept = [[] for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept)
    gc.unfreeze()  # leave the test process as it was


def test_import_all_imports_the_named_modules():
    import sys

    sys.modules.pop("colorsys", None)
    import_all(["colorsys"])
    assert "colorsys" in sys.modules
    gc.unfreeze()
