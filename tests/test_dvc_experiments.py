"""DVC experiments run from the queue keep their MLflow runs in the user's repository, and the
plugins a run uses are fingerprinted so that editing one reruns the stages that use it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.stages import run_stage
from pipeline.stages.context import build_context
from tests.project_kit import REPO, params_only, run

QUEUE_TIMEOUT_S = 420


def queue_finished(root: Path) -> bool:
    """True once no queued experiment waits or runs."""
    status = run(["dvc", "queue", "status"], root).stdout
    return not any(word in status for word in ("Queued", "Running"))


def test_queued_experiments_record_into_the_workspace_store(tmp_path: Path, make_project) -> None:
    root = make_project(tmp_path / "project")
    baseline = run(["git", "rev-parse", "HEAD"], root).stdout.strip()
    # Hydra composes params.yaml from conf/ for each queued experiment: shrink it there.
    tiny = ["-S", "trainer.max_epochs=1", "-S", "model.hidden=8"]
    for lr in ("0.002", "0.003"):
        run(["dvc", "exp", "run", "--queue", *tiny, "-S", f"optimizer.lr={lr}", "train"], root)
    run(["dvc", "queue", "start", "-j", "2"], root)
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    while not queue_finished(root):
        if time.monotonic() > deadline:
            pytest.fail(f"queue still busy after {QUEUE_TIMEOUT_S} s")
        time.sleep(3)
    status = run(["dvc", "queue", "status"], root).stdout
    assert status.count("Success") == 2, status
    shown = json.loads(run(["dvc", "exp", "show", "--json"], root).stdout)
    names = {exp["name"] for rev in shown for exp in rev.get("experiments") or []}
    assert len(names) == 2, shown

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    assert experiment.artifact_location == (root / "mlruns").resolve().as_uri()
    runs = client.search_runs([experiment.experiment_id])
    assert {r.data.tags.get("dvc.exp_name") for r in runs} == names
    assert {r.info.run_name for r in runs} == {f"classifier-{name}" for name in names}
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.tags.get("dvc.baseline_rev") for r in runs} == {baseline}
    assert {r.data.params["optimizer.lr"] for r in runs} == {"0.002", "0.003"}
    # Artifacts were written beside the store, not into the deleted temporary copy.
    assert all({a.path for a in client.list_artifacts(r.info.run_id)} >= {"plots"} for r in runs)


def editable_install(site: Path, source: Path, name: str, module: str) -> None:
    """Record ``source`` as an editable install of distribution ``name`` in ``site``, the way pip
    does: metadata, the plugin's entry point and a direct_url.json marking it editable."""
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[pipeline.plugins]\n{module} = {module}\n")
    direct = {"url": source.as_uri(), "dir_info": {"editable": True}}
    (info / "direct_url.json").write_text(json.dumps(direct))


def test_editing_an_editable_plugin_changes_the_fingerprint_of_what_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, used, other = tmp_path / "site", tmp_path / "logistic", tmp_path / "other"
    shutil.copytree(
        REPO / "examples" / "logistic_plugin" / "pipeline_logistic", used / "pipeline_logistic"
    )
    (other / "pipeline_other").mkdir(parents=True)
    (other / "pipeline_other" / "__init__.py").write_text('"""Provides nothing this run uses."""\n')
    editable_install(site, used, "pipeline-logistic", "pipeline_logistic")
    editable_install(site, other, "pipeline-other", "pipeline_other")
    for folder in (site, used, other):
        monkeypatch.syspath_prepend(str(folder))
    root = params_only(
        tmp_path / "project",
        data={"name": "blobs"},
        model={"family": "logistic", "hidden": None, "loss": None},
    )

    def check() -> tuple[dict, dict]:
        ctx = build_context(root)
        run_stage("check", ctx)
        return json.loads(ctx.paths.source_record.read_text()), json.loads(
            ctx.paths.plugin_record.read_text()
        )

    source, plugins = check()
    assert plugins["family"]["distribution"] == "pipeline-logistic"
    assert plugins["family"]["version"] == "0.1.0"
    assert set(plugins["family"]["files"]) == {
        "pipeline_logistic/__init__.py",
        "pipeline_logistic/blobs.py",
        "pipeline_logistic/family.py",
    }
    assert source["plugin"] == plugins["family"]  # blobs comes from the same distribution
    assert plugins["tricks"] == {}

    (other / "pipeline_other" / "__init__.py").write_text('"""Edited."""\n')
    assert check() == (source, plugins)

    family = used / "pipeline_logistic" / "family.py"
    family.write_text(family.read_text() + "\n# edited\n")
    edited_source, edited_plugins = check()
    assert (
        edited_plugins["family"]["files"]["pipeline_logistic/family.py"]
        != (plugins["family"]["files"]["pipeline_logistic/family.py"])
    )
    assert edited_source["plugin"] == edited_plugins["family"]
