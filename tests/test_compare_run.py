"""A real comparison in a fresh clone: two variants on the default classifier over seeds, two
workers, summary.json equal to the runs' own metrics, MLflow parent and children, and a rerun that
runs only the pairs still missing."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient

from tests.project_kit import ONE_THREAD, run

SPEC = """
base: {trainer.max_epochs: 3, model.hidden: 32}
variants:
  none: {}
  ema: {tricks.ema: {decay: 0.9}}
seeds: %s
metrics: [accuracy, val_acc]
"""


def evaluated(folder: Path, variant: str, seed: int) -> tuple[dict, dict]:
    metrics = folder / "runs" / variant / f"seed-{seed}" / "metrics"
    return (
        json.loads((metrics / "evaluate.json").read_text()),
        json.loads((metrics / "train.json").read_text()),
    )


def children(client: MlflowClient, parent) -> list:
    found = f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    return client.search_runs([parent.info.experiment_id], found)


def test_compare_runs_each_pair_once_reports_and_resumes(project: Path):
    (project / "conf" / "compare").mkdir(exist_ok=True)
    spec = project / "conf" / "compare" / "tiny.yaml"
    spec.write_text(SPEC % 2)
    first = run(["pipeline", "compare", "tiny", "--workers", "2"], project, **ONE_THREAD)
    assert "compare tiny: 2 variants × 2 seeds, seeds vary init, order; 4 of 4 runs to go" in (
        first.stderr
    )
    folder = project / "comparisons" / "tiny"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["reference"] == "none" and summary["seeds"] == [0, 1]
    assert set(summary["variants"]) == {"none", "ema"}
    for variant, metrics in summary["variants"].items():
        assert set(metrics) == {"test.accuracy", "val.acc"}
        for seed, test, val in zip(
            [0, 1], metrics["test.accuracy"]["values"], metrics["val.acc"]["values"], strict=True
        ):
            own_test, own_train = evaluated(folder, variant, seed)
            assert test == own_test["accuracy"] and val == own_train["val_acc"]
        entry = metrics["test.accuracy"]
        assert entry["n"] == 2 and entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
    assert "vs_reference" not in summary["variants"]["none"]["test.accuracy"]
    against = summary["variants"]["ema"]["test.accuracy"]["vs_reference"]
    assert set(against) >= {"diff", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict"}
    none, ema = (summary["variants"][v]["test.accuracy"]["values"] for v in ("none", "ema"))
    assert abs(against["diff"] - (sum(ema) - sum(none)) / 2) < 1e-12
    assert against["verdict"][:40] in first.stdout and (folder / "values.png").stat().st_size > 1000
    assert max(len(line) for line in first.stdout.splitlines()) <= 100
    assert (
        "summary: comparisons/tiny/summary.json, plot: comparisons/tiny/values.png" in first.stdout
    )

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`pipeline.compare` = 'parent'")
    assert parent.info.run_name == "compare tiny" and parent.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "comparison")}
    assert artifacts == {"comparison/summary.json", "comparison/values.png"}
    runs = children(client, parent)
    pairs = {(c.data.tags["compare.variant"], c.data.tags["compare.seed"]) for c in runs}
    assert len(runs) == 4 and pairs == {(v, s) for v in ("none", "ema") for s in ("0", "1")}
    for child in runs:
        test, train = evaluated(
            folder, child.data.tags["compare.variant"], int(child.data.tags["compare.seed"])
        )
        assert child.data.metrics["test.accuracy"] == test["accuracy"]
        assert child.data.metrics["val.acc"] == train["val_acc"]
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("runs/*/*/metrics/evaluate.json")}

    # A rerun runs nothing; a third seed runs only its two pairs.
    again = run(["pipeline", "compare", "tiny"], project, **ONE_THREAD)
    assert "0 of 4 runs to go" in again.stderr
    spec.write_text(SPEC % 3)
    more = run(["pipeline", "compare", "tiny"], project, **ONE_THREAD)
    assert "2 of 6 runs to go" in more.stderr
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert len(children(client, parent)) == 6
    storage = f"sqlite:///{project / 'comparisons' / 'comparisons.db'}"
    study = optuna.load_study(study_name="compare-tiny", storage=storage)
    assert len(study.trials) == 6
    assert json.loads((folder / "summary.json").read_text())["seeds"] == [0, 1, 2]
