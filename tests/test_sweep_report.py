"""The trials table: Optuna's dataframe with the searched keys, objective values and retry notes."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from pipeline.sweep.command import intent
from pipeline.sweep.objective import queue_again
from pipeline.sweep.report import trials_table
from pipeline.sweep.space import parse_space

SPACE = parse_space(
    {
        "objective": {"metric": "accuracy", "direction": "maximize"},
        "params": {"optimizer.lr": {"type": "float", "low": 0.001, "high": 0.1}},
    },
    "s.yaml",
    "s",
)


def test_table_shows_the_objective_only_for_complete_trials_and_names_retries():
    study = optuna.create_study(direction="maximize")
    study.set_metric_names(["val_acc"])  # the study ranks on validation
    done = study.ask()
    done.suggest_float("optimizer.lr", 0.001, 0.1)
    done.set_user_attr("sweep.folder", 0)
    done.set_user_attr("test.accuracy", 0.85)  # reported beside the value, never ranked
    study.tell(done, 0.9)
    pruned = study.ask()
    pruned.suggest_float("optimizer.lr", 0.001, 0.1)
    pruned.report(0.4, step=2)
    pruned.set_user_attr("sweep.pruned_epoch", 2)
    study.tell(pruned, state=TrialState.PRUNED)
    stopped = study.ask()
    lr = stopped.suggest_float("optimizer.lr", 0.001, 0.1)
    stopped.set_user_attr("sweep.folder", 2)
    queue_again(stopped)  # as the objective does on Ctrl-C
    study.tell(stopped, state=TrialState.FAIL)

    table = trials_table(study, SPACE)
    rows = table.to_dict("records")
    assert list(table.columns) == [
        "number",
        "state",
        "value",
        "test.accuracy",
        "optimizer.lr",
        "pruned_epoch",
        "folder",
        "seconds",
        "note",
    ]
    assert [r["state"] for r in rows] == ["COMPLETE", "PRUNED", "FAIL", "WAITING"]
    assert rows[0]["test.accuracy"] == 0.85
    assert rows[0]["value"] == 0.9 and all(
        r["value"] != r["value"] for r in rows[1:]
    )  # NaN: no objective
    assert rows[1]["pruned_epoch"] == 2
    assert rows[2]["note"] == "stopped; retried as #3" and rows[3]["note"] == "retry of #2"
    assert rows[3]["optimizer.lr"] == lr and rows[3]["folder"] == 2


def test_the_sweep_says_when_n_trials_asks_for_no_more_trials():
    study = optuna.create_study(study_name="s6")
    for _ in range(6):
        study.tell(study.ask(), 1.0)
    assert intent(study, 4, "--n-trials 4") == (
        "study s6 holds 6 trial(s); --n-trials 4 asks for 4 in total, so no trial will run; "
        "pass a larger total to add trials."
    )
    assert intent(study, 8, "the space's n_trials (8)").endswith(
        "the space's n_trials (8) asks for 8 in total, so 2 more will run."
    )
