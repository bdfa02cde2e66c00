"""The train stage records the prepared data as the run's MLflow dataset input: its name and a
digest, DVC's hash of data/prepared when dvc.lock describes the folder, else an MD5 of its files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from mlflow.tracking import MlflowClient

from pipeline.data.digest import prepared_digest
from pipeline.stages import run_stage
from pipeline.stages.context import build_context
from tests.project_kit import BIN, fast_params, params_only, run


def dataset_inputs(root: Path) -> list:
    """The dataset inputs of the run models/run.json names, read back through MLflow's client."""
    record = json.loads((root / "models" / "run.json").read_text())
    run_ = MlflowClient(record["tracking_uri"]).get_run(record["run_id"])
    return run_.inputs.dataset_inputs


def md5_of_folder(folder: Path) -> str:
    """Every file's path, size and bytes (the digits' files are all small enough to be whole)."""
    md5 = hashlib.md5()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        assert path.stat().st_size <= 16 << 20
        name = path.relative_to(folder).as_posix()
        md5.update(f"{name}\0{path.stat().st_size}\0".encode() + path.read_bytes())
    return md5.hexdigest()


def test_a_run_without_dvc_records_its_data_by_an_md5_of_the_prepared_files(tmp_path):
    root = params_only(tmp_path, trainer={"max_epochs": 1})
    ctx = build_context(root)
    run_stage("prepare", ctx)
    run_stage("train", ctx)
    (found,) = dataset_inputs(root)
    assert found.dataset.name == "digits"
    assert found.dataset.digest == md5_of_folder(root / "data" / "prepared")
    assert json.loads(found.dataset.source) == {"uri": "data/prepared"}
    profile = json.loads(found.dataset.profile)
    sizes = json.loads((root / "data" / "prepared" / "sizes.json").read_text())
    assert profile == {**sizes, "digest_from": "md5"}
    assert [(t.key, t.value) for t in found.tags] == [("mlflow.data.context", "training")]
    # Another training on the same data names the same data.
    first = json.loads((root / "models" / "run.json").read_text())["run_id"]
    run_stage("train", build_context(root))
    assert json.loads((root / "models" / "run.json").read_text())["run_id"] != first
    assert [i.dataset.digest for i in dataset_inputs(root)] == [found.dataset.digest]


def test_a_dvc_repro_records_the_hash_dvc_lock_gives_the_prepared_folder(make_project, tmp_path):
    root = make_project(tmp_path / "project")
    fast_params(root, epochs=1)
    run([str(BIN / "dvc"), "repro", "train"], root)
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    (out,) = [o for o in lock["stages"]["prepare"]["outs"] if o["path"] == "data/prepared"]
    (found,) = dataset_inputs(root)
    assert out["md5"].endswith(".dir") and found.dataset.digest == out["md5"]
    assert json.loads(found.dataset.profile)["digest_from"] == "dvc.lock"
    assert prepared_digest(root, root / "data" / "prepared") == (out["md5"], "dvc.lock")
    # Prepared again by hand with another seed, the lock no longer describes the folder.
    fast_params(root, epochs=1, seed=1)
    run_stage("prepare", build_context(root))
    digest, origin = prepared_digest(root, root / "data" / "prepared")
    assert origin == "md5" and digest == md5_of_folder(root / "data" / "prepared")
