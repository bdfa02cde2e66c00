"""A real sweep in a fresh clone: two workers, pruning of a hopeless region, MLflow parent/child,
--apply-best, dvc repro."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import optuna
import yaml
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from tests.project_kit import run

# Half the learning rates learn nothing. Seed 6 gives each of the two workers a good first trial,
# so every hopeless trial meets a finished good one at its first report and is pruned at epoch 0.
SPACE = """
objective: {metric: accuracy, direction: maximize}
n_trials: 6
fixed:
  trainer.max_epochs: 3
  model.hidden: 16
params:
  optimizer.lr: {type: categorical, choices: {good: 0.02, hopeless: 1.0e-7}}
pruner: {type: median, monitor: val_acc, n_startup_trials: 1}
sampler: {type: random, seed: 6}
heartbeat: {interval: 1, grace_period: 5}
"""


def children_of(client: MlflowClient, parent) -> list:
    return client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )


def test_parallel_sweep_prunes_records_children_and_best_reproduces(project: Path):
    (project / "conf" / "sweep" / "digits_lr.yaml").write_text(SPACE)
    done = run(["pipeline", "sweep", "digits_lr", "--workers", "2"], project)

    study = optuna.load_study(
        study_name="digits_lr", storage=f"sqlite:///{project / 'optuna' / 'sweeps.db'}"
    )
    trials = study.trials
    applied = run(["pipeline", "sweep", "digits_lr", "--apply-best"], project)
    assert len(study.trials) == len(trials)  # applying runs no trial
    # 6 trials, or 7 when both workers found the 6th slot free at once (Optuna's MaxTrialsCallback)
    assert [t.number for t in trials] == list(range(len(trials))) and 6 <= len(trials) <= 7
    hopeless = [t for t in trials if t.params["optimizer.lr"] == "hopeless"]
    good = [t for t in trials if t.params["optimizer.lr"] == "good"]
    assert hopeless and good
    assert {t.state for t in hopeless} == {TrialState.PRUNED}
    assert [t.user_attrs["sweep.pruned_epoch"] for t in hopeless] == [0] * len(hopeless)
    assert {t.state for t in good} == {TrialState.COMPLETE}
    assert (
        len({t.value for t in good}) == 1 and good[0].value > 0.8
    )  # same params, same seed: the same model
    assert len({t.user_attrs["sweep.worker"] for t in trials}) == 2
    assert f"study digits_lr: {len(good)} complete, {len(hopeless)} pruned" in done.stdout
    assert (
        "study digits_lr holds 0 trial(s); the space's n_trials (6) asks for 6 in total, so 6 "
        "more will run." in done.stderr
    )

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`pipeline.sweep` = 'parent'")
    assert (
        parent.info.status == "FINISHED"
        and parent.data.metrics["best.val.acc"] == study.best_value
        and parent.data.metrics["best.test.accuracy"]
        == study.best_trial.user_attrs["test.accuracy"]
    )
    assert parent.data.params["space.optimizer.lr"] == "categorical['good', 'hopeless']"
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "study")}
    assert {
        "study/optimization_history.png",
        "study/intermediate_values.png",
        "study/trials.csv",
    } <= plots
    children = children_of(client, parent)
    assert sorted(int(c.data.tags["optuna.trial"]) for c in children) == list(range(len(trials)))
    for child in children:
        trial = trials[int(child.data.tags["optuna.trial"])]
        assert child.data.tags["optuna.state"] == trial.state.name
        assert child.info.run_name == f"digits_lr/trial-{trial.number}"
        assert trial.user_attrs["mlflow.run_id"] == child.info.run_id
        assert child.data.tags["mlflow.source.name"].startswith("pipeline sweep digits_lr")
        assert child.data.params["trial.optimizer.lr"] == trial.params["optimizer.lr"]
        if trial.state == TrialState.PRUNED:
            assert child.info.status == "KILLED" and child.data.tags["optuna.pruned_epoch"] == "0"
        else:
            assert child.info.status == "FINISHED"
            # ranked on validation; the test accuracy is recorded beside it
            assert (
                child.data.metrics["optuna.value"] == child.data.metrics["val.acc"] == trial.value
            )
            assert child.data.metrics["test.accuracy"] == trial.user_attrs["test.accuracy"]

    # the study, trial folders and MLflow store stay out of git; only the applied params show
    status = run(["git", "status", "--porcelain"], project).stdout.splitlines()
    assert sorted(status) == [" M params.yaml", "?? conf/sweep/digits_lr.yaml"]

    # --apply-best wrote the best trial into params.yaml and printed the Hydra equivalent
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert (
        params["optimizer"]["lr"] == 0.02
        and params["trainer"]["max_epochs"] == 3
        and params["model"]["hidden"] == 16
    )
    line = next(text for text in applied.stdout.splitlines() if text.startswith("dvc exp run"))
    assert shlex.split(line)[3:] == [
        "-S",
        "trainer.max_epochs=3",
        "-S",
        "model.hidden=16",
        "-S",
        "optimizer.lr=0.02",
    ]

    run(["dvc", "repro", "evaluate"], project)
    assert (
        json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"]
        == study.best_trial.user_attrs["test.accuracy"]
    )


DIVERGING = """
objective: {metric: accuracy, direction: maximize}
n_trials: 4
fixed: {trainer.max_epochs: 1, model.hidden: 16}
params:
  optimizer.lr: {type: categorical, choices: {good: 0.02, diverging: 1.0e+30}}
pruner: {type: none}
sampler: {type: random, seed: 0}
"""


def test_a_diverged_trial_is_pruned_and_the_sweep_goes_on(project: Path):
    (project / "conf" / "sweep" / "diverging.yaml").write_text(DIVERGING)
    run(["pipeline", "sweep", "diverging"], project)
    study = optuna.load_study(
        study_name="diverging", storage=f"sqlite:///{project / 'optuna' / 'sweeps.db'}"
    )
    good = [t for t in study.trials if t.params["optimizer.lr"] == "good"]
    diverging = [t for t in study.trials if t.params["optimizer.lr"] == "diverging"]
    assert len(study.trials) == 4 and good and diverging
    assert all(t.state == TrialState.COMPLETE and t.value > 0.5 for t in good)
    assert all(t.state == TrialState.PRUNED for t in diverging)
    assert all(
        t.user_attrs["sweep.diverged"].startswith(
            "training diverged at epoch 0, step 2: the loss is nan"
        )
        for t in diverging
    )
