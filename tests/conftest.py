"""Shared fixtures: a throw-away copy of the project as its own git + DVC repository, and ways to
run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module that asks (``pytest.mark.usefixtures("one_thread")``):
    tiny models on a shared, loaded machine train many times faster so."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def project_files() -> list[str]:
    """Files a fresh clone would hold: the tracked ones, whatever else the workspace holds (outputs
    of `make repro`)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return [name for name in out.split("\0") if name and (REPO / name).is_file()]


def command_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would give: the venv first on PATH, no inherited MLflow
    server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTEST_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    env.update(extra)
    return env


def run(
    args: list[str], cwd: Path, check: bool = True, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess:
    """Run a command as a user would; on an unexpected exit code, fail showing its output."""
    done = subprocess.run(
        args, cwd=cwd, env=command_env(**env), capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n--- "
            f"stderr\n{done.stderr[-6000:]}"
        )
    return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project in its own git repository (one commit), as after `git clone`."""
    return make_project(tmp_path / "project")


def make_project(root: Path) -> Path:
    """Copy the project's tracked files to ``root`` and make it a git repository with one commit."""
    for name in project_files():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "initial"], root)
    return root


def edit_params(root: Path, **sections) -> dict:
    """Merge ``sections`` into the project's params.yaml (a value of None removes the key); return
    the result."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())

    def merge(into: dict, updates: dict) -> None:
        for key, value in updates.items():
            if value is None:
                into.pop(key, None)
            elif isinstance(value, dict) and isinstance(into.get(key), dict) and value:
                merge(into[key], value)
            else:
                into[key] = value

    merge(params, sections)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def fast_params(root: Path, epochs: int = 3, **sections) -> dict:
    """Shrink training to a few epochs so an end-to-end run takes seconds."""
    trainer = {"max_epochs": epochs, **sections.pop("trainer", {})}
    return edit_params(root, trainer=trainer, **sections)
