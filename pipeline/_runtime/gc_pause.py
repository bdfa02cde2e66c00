"""A stage's libraries load with Python's cyclic garbage collector paused, and stay out of its
later walks.

Importing torch, Lightning and MLflow allocates about a million objects that live until the process
exits. While they load, the collector's full passes walk the growing heap again and again, freeing
nothing: some 10–15% of the import time. Pausing it for the imports and then moving what they
built to the permanent generation (:func:`gc.freeze`) saves that, and spares every later full pass
(during training too) the walk over them. Objects made afterwards are collected as usual.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterable, Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No collection inside; on leaving, freeze what exists and restore the collector's state."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def import_all(names: Iterable[str]) -> None:
    """Import the modules ``names`` with the collector paused."""
    with paused():
        for name in names:
            # __import__, not importlib.import_module: the interpreter's own import path, which
            # `python -X importtime` reports.
            __import__(name)
