"""Shared fixtures: a throw-away copy of the project as its own git + DVC repository, and the rule
that marks every test using one as end-to-end (``e2e``, left out of ``make test-fast``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from tests.project_kit import REPO, run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``e2e`` every test whose fixtures include ``make_project``: the ``project`` fixture
    and every fixture or test that copies the project ask for it, so a new one is marked without
    anyone remembering. A test that is slow for another reason is marked by hand (``slow``)."""
    for item in items:
        if "make_project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def own_tracking_store():
    """Each test starts without a tracking URI in the environment and leaves none behind: a
    sweep's or comparison's in-process worker exports its project's, which a later test of the same
    process would otherwise record into."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module that asks (``pytest.mark.usefixtures("one_thread")``):
    tiny models on a shared, loaded machine train many times faster so."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def registry():
    """The installed plugins' registry, built afresh for each module that asks."""
    from pipeline.plugin.registry import Registry, create_plugin_manager

    return Registry(create_plugin_manager())


@pytest.fixture(scope="session")
def make_project() -> Callable[[Path], Path]:
    """``make_project(root)``: copy the project's tracked files to ``root`` and make it a git
    repository with one commit, as after `git clone`; returns ``root``. The only way a test copies
    the project, so that asking for it marks the test ``e2e``."""
    return _copy_project


@pytest.fixture
def project(make_project: Callable[[Path], Path], tmp_path: Path) -> Path:
    """A copy of the project in its own git repository (one commit), as after `git clone`."""
    return make_project(tmp_path / "project")


def _copy_project(root: Path) -> Path:
    """What ``make_project`` does: the files a fresh clone would hold (the tracked ones that the
    workspace holds) copied to ``root``, committed once."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "initial"], root)
    return root
