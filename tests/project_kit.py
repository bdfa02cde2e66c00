"""The project as a user has it (no tests here): its folders, what its conf/ composes, its params
edited, and its commands run from a shell. The benchmarks run commands with this environment too.

Tests copy the project through the ``make_project`` fixture in ``conftest.py``, never directly: a
test whose fixtures include it is an end-to-end (``e2e``) test, left out of ``make test-fast``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
BIN = Path(sys.executable).parent
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # tiny models on a shared machine train faster so


def composed(*overrides: str) -> dict:
    """params.yaml as ``dvc exp run -S OVERRIDE ...`` composes it from the project's conf/."""
    from pipeline.params.hydra_groups import compose_params

    return compose_params(CONF, list(overrides))


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


def params_only(root: Path, **sections) -> Path:
    """``root`` holding just the project's params.yaml, with ``sections`` merged in as
    :func:`edit_params` merges them: a folder a stage runs in directly, not a copy of the
    project."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    if sections:
        edit_params(root, **sections)
    return root


def fast_params(root: Path, epochs: int = 3, **sections) -> dict:
    """Shrink training to a few epochs so an end-to-end run takes seconds."""
    trainer = {"max_epochs": epochs, **sections.pop("trainer", {})}
    return edit_params(root, trainer=trainer, **sections)
