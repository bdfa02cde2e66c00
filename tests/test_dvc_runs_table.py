"""`make runs`: the runs as `dvc exp show` lists them, narrowed to fit a 120-column terminal, and a
committed run whose results show on its commit (no `!`)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.project_kit import fast_params, run

COLUMNS = "120"


def test_make_runs_fits_120_columns_with_family_params_and_metrics(project: Path):
    fast_params(project, epochs=2)
    run(["git", "commit", "-qam", "two epochs"], project)
    run(["dvc", "repro", "evaluate"], project)
    run(["git", "add", "dvc.lock", "metrics"], project)  # what the README says to do after a run
    run(["git", "commit", "-qm", "a run"], project)

    table = run(["make", "-s", "runs"], project, COLUMNS=COLUMNS).stdout.splitlines()

    rows = [line for line in table if line.strip() and not set(line.strip()) <= {"─"}]
    header, *runs = (line.split() for line in rows)
    # metrics first, then the params in params.yaml's order
    assert header[:5] == ["Experiment", "epochs", "val_acc", "val_loss", "accuracy"]
    assert sorted(header[5:]) == ["model.family", "optimizer.lr"]
    assert max(len(line.rstrip()) for line in table) <= int(COLUMNS)
    train = json.loads((project / "metrics" / "train.json").read_text())
    test = json.loads((project / "metrics" / "evaluate.json").read_text())
    expected = {
        "epochs": "2",
        "val_acc": f"{train['val_acc']:.5g}",
        "val_loss": f"{train['val_loss']:.5g}",
        "accuracy": f"{test['accuracy']:.5g}",
        "optimizer.lr": "0.001",
        "model.family": "classifier",
    }
    assert len(runs) == 2  # the workspace and the commit holding the run: same results, no `!`
    for row in runs:
        assert dict(zip(header[1:], row[1:], strict=True)) == expected
