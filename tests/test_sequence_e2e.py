"""A user's run of a sequence family: `dvc repro` with model.family cln_lm on generated
class-conditional strings, every trick on, trains, evaluates to text samples in samples/ and
exports ONNX only, saying so in MLflow."""

from __future__ import annotations

import json

from mlflow.tracking import MlflowClient

from tests.conftest import fast_params, run

EVERY_TRICK = {
    "grad_accum": {"k": 2},
    "ema": {"decay": 0.9},
    "param_lr": {"multipliers": [["*", 0.5]]},
    "grad_transform": {"clip_norm": [["*", 1.0]], "clip_value": [["*", 0.5]], "zero": []},
    "lookahead": {"k": 5, "alpha": 0.5},
    "weight_decay": {"rate": 0.01},
    "piecewise_lr": {"points": [[10, 1.0], [100, 0.2]], "unit": "steps"},
    "lazy_embedding": {"patterns": ["*"]},
    "orthogonal_reg": {"weight": 0.001, "patterns": ["*"]},
}


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
    run(["dvc", "repro"], project, OMP_NUM_THREADS="1")

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
    (mlrun,) = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
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
