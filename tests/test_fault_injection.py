"""A failure at any point of a ``dvc repro`` keeps the user's results: a sample of the failure
points a default repro reaches, each with a failure injected (a full disk, an I/O error, a tracking
store that refuses, SIGTERM, SIGKILL), checked as ``tests/fault_kit.py`` says, then the same repro
without the fault gives the results of a repro that never failed. ``benchmarks/fault_walk.py``
walks every point with every failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fault_kit import count_points, find, first_results, inject

pytestmark = pytest.mark.slow

# (stage, kind, detail, which one, failure): one per kind of failure a user meets.
SAMPLE = [
    ("train", "write", "models/model.tmp", 1, "enospc"),  # the disk fills as the model is saved
    ("train", "tracking", "log_batch", 2, "refused"),  # the store goes away mid-training
    ("train", "rename", "checkpoints/last.ckpt", 2, "sigkill"),  # kill -9 at a checkpoint
    ("evaluate", "rename", "metrics/evaluate.json", 1, "eio"),  # after train succeeded
    ("export", "write", "model.onnx", 1, "sigterm"),
]


@pytest.fixture(scope="module")
def walked(tmp_path_factory, make_project):
    """The project after its first repro, the changed repro's failure points, and its results."""
    folder = tmp_path_factory.mktemp("faults")
    base = first_results(make_project(folder / "base"))
    points, reference = count_points(base, folder)
    return base, points, reference, folder


def test_a_default_repro_has_failure_points_in_every_stage(walked):
    _, points, _, _ = walked
    kinds = {(p.stage, p.kind) for p in points}
    assert {("train", k) for k in ("write", "rename", "tracking")} <= kinds
    assert {("evaluate", "tracking"), ("export", "tracking"), ("check", "rename")} <= kinds
    assert len(points) > 60


@pytest.mark.parametrize("stage, kind, detail, nth, mode", SAMPLE)
def test_a_failure_keeps_the_results_and_the_rerun_recovers(
    walked, stage, kind, detail, nth, mode, tmp_path: Path
):
    base, points, reference, _ = walked
    seen = inject(base, reference, find(points, stage, kind, detail, nth), mode, tmp_path)
    if mode == "sigkill":
        assert seen == "killed"
    else:
        assert seen.startswith("error: "), seen
