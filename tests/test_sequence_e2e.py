"""A user's run of a sequence family: `dvc repro` with model.family cln_lm on generated
class-conditional strings, every trick on, trains, evaluates to text samples in samples/ and
exports ONNX only, saying so in MLflow."""

from __future__ import annotations

import json

from mlflow.tracking import MlflowClient

from tests.e2e_kit import mlflow_runs
from tests.project_kit import ONE_THREAD, fast_params, run
from tests.trick_kit import every_trick

EVERY_TRICK = every_trick()


def test_dvc_repro_runs_a_language_model_with_every_trick(project):
    fast_params(
        project,
        epochs=2,
        data={"name": "cond_strings", "examples": 600, "length": 16},
        model={
            "family": "cln_lm",
            "hidden": None,
            "loss": None,
            "d_model": 32,
            "heads": 2,
            "layers": 1,
        },
        tricks=EVERY_TRICK,
    )
    run(["dvc", "repro"], project, **ONE_THREAD)

    info = json.loads((project / "data" / "prepared" / "info.json").read_text())
    assert info["labels"] == ["style 0", "style 1", "style 2", "style 3"]
    assert info["vocab"][:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
    # Two short epochs under every trick: trained, not yet good (the family's own tests check that).
    assert 1 < metrics["perplexity"] < 4 * len(info["vocab"])
    samples = sorted(p.name for p in (project / "samples").iterdir())
    assert samples == ["README.md", "generated.txt"]
    assert not list((project / "plots" / "evaluate").glob("*.txt"))
    assert "- generated.txt" in (project / "samples" / "README.md").read_text()
    assert "style 3" in (project / "samples" / "generated.txt").read_text()

    export = json.loads((project / "metrics" / "export.json").read_text())
    assert list(export) == ["onnx_max_abs_diff"] and export["onnx_max_abs_diff"] <= 1e-4
    assert sorted(p.name for p in (project / "exported").iterdir()) == ["model.onnx"]

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    (mlrun,) = mlflow_runs(project)
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.tags["export.formats"] == "ONNX"
    assert {k.split(".")[1] for k in mlrun.data.params if k.startswith("tricks.")} == set(
        EVERY_TRICK
    )
    logged = {a.path for a in client.list_artifacts(mlrun.info.run_id, "samples")}
    assert logged == {f"samples/{name}" for name in samples}
    status = run(["dvc", "status"], project).stdout
    assert [line.strip() for line in status.splitlines() if line.strip()] == [
        "check:",
        "always changed",
    ], status
