"""Wall time of the pipeline's commands as a user runs them: ``dvc repro`` in a fresh clone and
``pipeline run evaluate`` on a trained model."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # a script's path starts at benchmarks/; the tests' helpers are here

# The environment of a user's shell, as the tests run commands: the venv first on PATH, no
# inherited MLflow server.
from tests.project_kit import command_env  # noqa: E402


def run_timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of one command; a failure stops the benchmark with its output."""
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return wall


def copy_project(root: Path) -> Path:
    """The project's tracked and untracked-but-not-ignored files in a new one-commit repository."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    for git in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "initial"]):
        subprocess.run(["git", *git], cwd=root, env=command_env(), check=True, capture_output=True)
    return root


STAGES = ("check", "prepare", "train", "evaluate", "export")  # dvc.yaml's, in order


def time_dvc() -> dict[str, float]:
    """Wall time of a cold and then a no-op ``dvc repro`` in a fresh copy of the project (one torch
    thread, as every other figure), then where the cold one's time goes: each stage's command run
    again on its own, and ``dvc status`` (DVC's own start-up and hashing)."""
    env = command_env(OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_project(Path(tmp) / "project")
        walls = {}
        for label in ("cold", "no-op"):
            walls[label] = run_timed(["dvc", "repro"], root, env)
            walls[f"{label} load1"] = os.getloadavg()[0]
        for stage in STAGES:
            walls[f"stage {stage}"] = run_timed(["pipeline", "run", stage], root, env)
        walls["dvc status"] = run_timed(["dvc", "status"], root, env)
        return walls


def time_evaluate(root: Path, params: dict, tracking_uri: str, repeats: int) -> float:
    """Median wall seconds of ``pipeline run evaluate`` in ``root``, which holds a model trained
    with ``params`` and its MLflow run in ``tracking_uri``."""
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = command_env(OMP_NUM_THREADS="1", MLFLOW_TRACKING_URI=tracking_uri)
    return statistics.median(
        run_timed(["pipeline", "run", "evaluate"], root, env) for _ in range(repeats)
    )
