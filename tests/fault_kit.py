"""Fault injection over a whole ``dvc repro`` (no tests here): the failure points a repro reaches,
one run with a failure injected at one of them, and the checks every such run must pass. Used by
``tests/test_fault_injection.py`` (a sample of points) and ``benchmarks/fault_injection.py``
(every point). The injector itself is ``tests/faults/sitecustomize.py``.

A scenario starts from a project whose first ``dvc repro`` (2 epochs) succeeded and was committed,
then asks for 3 epochs: the repro reruns check, train, evaluate and export, each of which reaches
its failure points.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.e2e_kit import mlflow_runs, model_weights
from tests.project_kit import ONE_THREAD, edit_params, fast_params, run

FAULTS = Path(__file__).parent / "faults"
CHANGE = {"trainer": {"max_epochs": 3}}
RESULTS = (
    "models/model.pt",
    "models/run.json",
    "metrics/train.json",
    "metrics/evaluate.json",
    "metrics/export.json",
    "plots/history.csv",
    "exported/model.onnx",
    "exported/model.tflite",
    "dvc.lock",
)
# Where a stage works: temporary files it may leave only while it runs.
TEMPORARY = re.compile(r"(\.tmp$|\.tmp/|-restore\.tmp|^\.exported-)")


@dataclass(frozen=True)
class Point:
    """One failure point: the ``number``-th point ``stage`` reaches, of ``kind`` (write, rename,
    tracking), on ``detail`` (a path under the project, or the tracking client's method)."""

    stage: str
    number: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.stage}:{self.number} {self.kind} {self.detail}"


def first_results(root: Path) -> Path:
    """A project after its first, successful ``dvc repro`` (2 epochs), committed."""
    fast_params(root, epochs=2)
    run(["dvc", "repro"], root, **ONE_THREAD)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "first results"], root)
    return root


def repro(root: Path, faults: str | None = None) -> subprocess.CompletedProcess:
    """``dvc repro`` in ``root``, with the injector reading ``faults`` when given."""
    paths = [str(FAULTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {"PYTHONPATH": os.pathsep.join(paths), "PIPELINE_FAULTS": faults} if faults else {}
    return run(["dvc", "repro"], root, check=False, **ONE_THREAD, **env)


def copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    edit_params(target, **CHANGE)
    return target


def count_points(base: Path, folder: Path) -> tuple[list[Point], Path]:
    """Every failure point of the changed repro, in order, and the project it left (the results a
    repro without faults gives)."""
    log = folder / "points.txt"
    reference = copy(base, folder / "reference")
    done = repro(reference, f"count:{log}")
    assert done.returncode == 0, done.stderr[-3000:]
    points = []
    for line in log.read_text().splitlines():
        stage, number, kind, detail = line.split(" ", 3)
        points.append(Point(stage, int(number), kind, detail))
    return points, reference


def find(points: list[Point], stage: str, kind: str, detail: str, nth: int = 1) -> Point:
    """The ``nth`` point of ``stage`` of ``kind`` whose detail contains ``detail``."""
    found = [p for p in points if (p.stage, p.kind) == (stage, kind) and detail in p.detail]
    return found[nth - 1] if nth > 0 else found[nth]


def snapshot(root: Path, results: tuple[str, ...] = RESULTS) -> dict[str, str]:
    """The content hash of every result a user keeps ('missing' for a missing one)."""
    return {
        name: hashlib.md5((root / name).read_bytes()).hexdigest()
        if (root / name).is_file()
        else "missing"
        for name in results
    }


def temporary_files(root: Path) -> list[str]:
    """Temporary files or folders the stages left in the project (DVC's and git's own aside)."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".git/", ".dvc/")) or relative.endswith("points.txt"):
            continue
        if TEMPORARY.search(relative + ("/" if path.is_dir() else "")):
            found.append(relative)
    return found


def statuses(root: Path) -> dict[str, str]:
    return {r.info.run_id: r.info.status for r in mlflow_runs(root)}


def inject(base: Path, reference: Path, point: Point, mode: str, folder: Path) -> str:
    """Run the changed repro with ``mode`` injected at ``point``, check what it left, rerun it
    without the fault and check it gives the reference's results. Returns how the failure looked
    to the user: its ``error:`` line, or what ended the stage."""
    root = copy(base, folder / f"{point.stage}-{point.number}-{mode}")
    before, runs_before = snapshot(root), statuses(root)
    done = repro(root, f"inject:{point.stage}:{point.number}:{mode}")
    where = f"{mode} at {point}"
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    if done.returncode == 0:  # a fault the stage absorbs must not change its results
        seen = "absorbed"
        assert_same_results(root, reference, where)
    else:
        after = snapshot(root)
        if mode == "sigkill":
            # Nothing runs after it: DVC had removed the stage's outputs, the stages before it
            # keep their new results (and dvc.lock, DVC's, their entries), the training's history
            # is rewritten at every checkpoint. But no result is half-written.
            seen = "killed"
            complete = snapshot(reference)
            changed = [k for k in after if after[k] not in (before[k], "missing", complete[k])]
            # (models/run.json names the new MLflow run, another one in every repro.)
            ignored = ("plots/history.csv", "dvc.lock", "models/run.json")
            changed = [k for k in changed if k not in ignored]
            assert not changed, f"{where}: half-written {changed}"
        else:
            seen = errors[0] if errors else "(no error line)"
            assert "Traceback" not in done.stderr, f"{where}:\n{done.stderr[-4000:]}"
            assert len(errors) == 1, f"{where}: {errors}\n{done.stderr[-2000:]}"
            assert after == before, f"{where}: {[k for k in after if after[k] != before[k]]}"
            assert not temporary_files(root), f"{where}: left {temporary_files(root)}"
            # A store that refuses cannot be told the run ended; the rerun closes it (below).
            running = [i for i, s in statuses(root).items() if s == "RUNNING"]
            assert mode == "refused" or not running, f"{where}: runs left RUNNING"
        flipped = [i for i, s in runs_before.items() if statuses(root).get(i) != s]
        assert not flipped, f"{where}: finished runs changed status"
    rerun = repro(root)
    assert rerun.returncode == 0, f"rerun after {where}:\n{rerun.stderr[-4000:]}"
    assert_same_results(root, reference, f"rerun after {where}")
    return seen


def assert_same_results(root: Path, reference: Path, where: str) -> None:
    """The trained weights (bit for bit) and metrics of a repro without faults, no temporary file,
    no run left RUNNING."""
    weights, expected = model_weights(root), model_weights(reference)
    assert weights.keys() == expected.keys(), where
    assert all(weights[k].equal(expected[k]) for k in weights), f"{where}: other weights"
    for name in ("metrics/train.json", "metrics/evaluate.json"):
        ours, theirs = (json.loads((r / name).read_text()) for r in (root, reference))
        assert ours == theirs, f"{where}: {name} {ours} != {theirs}"
    assert not temporary_files(root), f"{where}: left {temporary_files(root)}"
    assert "RUNNING" not in statuses(root).values(), f"{where}: a run left RUNNING"
