"""Prepared data that is missing or damaged, met by a stage run directly (as the multi-node recipe
runs `pipeline run train`), is one line naming the damaged file and the fix, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.project_kit import params_only, run

FIX = "; rerun `pipeline run prepare` (or `dvc repro`)."


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A folder with params.yaml for a streamed dataset, prepared into shards."""
    root = params_only(
        tmp_path_factory.mktemp("streamed"),
        data={"name": "gaussian_blobs", "examples": 300, "features": 8, "classes": 3},
        trainer={"max_epochs": 1},
    )
    run(["pipeline", "run", "prepare"], root)
    return root


@pytest.fixture
def copy(prepared: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(prepared, target)
    return target


def refused_train(root: Path) -> str:
    done = run(["pipeline", "run", "train"], root, check=False, OMP_NUM_THREADS="1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("error: ")][-1]


def test_a_truncated_shard_is_named(copy: Path):
    folder = copy / "data" / "prepared"
    shard = sorted(folder.rglob("*.tar"))[0]
    with open(shard, "r+b") as f:
        f.truncate(520)  # the first member's tar header and a few bytes of its array
    line = refused_train(copy)
    name = shard.relative_to(folder).as_posix()
    assert line.startswith(f"error: the prepared data in {folder} is damaged: shard {name} ")
    assert "is truncated (520 bytes of at least " in line and line.endswith(FIX)


def test_a_missing_shard_and_a_missing_index_are_named(copy: Path):
    folder = copy / "data" / "prepared"
    shard = sorted(folder.rglob("*.tar"))[-1]
    shard.unlink()
    name = shard.relative_to(folder).as_posix()
    assert refused_train(copy) == (
        f"error: the prepared data in {folder} is damaged: shard {name} is missing{FIX}"
    )
    (folder / "shards.json").unlink()
    assert refused_train(copy) == (
        f"error: the prepared data in {folder} is damaged: its index shards.json is missing{FIX}"
    )


def test_a_damaged_in_memory_split_is_named(tmp_path: Path):
    root = params_only(tmp_path / "project", trainer={"max_epochs": 1})
    run(["pipeline", "run", "prepare"], root)
    folder = root / "data" / "prepared"
    (folder / "val.npz").write_bytes(b"not a zip file")
    line = refused_train(root)
    assert line.startswith(f"error: the prepared data in {folder} is damaged: val.npz cannot be ")
    assert line.endswith(FIX)
