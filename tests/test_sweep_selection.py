"""Trials are ranked on the validation metric: the test split's numbers are reported, never used
to choose."""

from __future__ import annotations

import shutil

import numpy as np
import optuna
import pytest
import yaml

from pipeline.errors import PipelineError
from pipeline.sweep import objective
from pipeline.sweep.command import selection_note
from pipeline.sweep.objective import Objective, Sweep
from pipeline.sweep.report import apply_best
from pipeline.sweep.space import parse_space
from pipeline.sweep.stage_run import Outcome
from tests.project_kit import REPO, run

LR = {"optimizer.lr": {"type": "categorical", "choices": [0.001, 0.01, 0.1]}}
VALIDATION = {0.001: 0.80, 0.01: 0.95, 0.1: 0.90}  # what each trial's training logs as val_acc


def space(objective_section: dict):
    return parse_space({"objective": objective_section, "params": LR}, "s.yaml", "s")


def sweep_with(tmp_path, monkeypatch, test_accuracy: dict) -> optuna.Study:
    """Three trials with fixed validation accuracies and test accuracies ``test_accuracy``."""

    def measured(params, registry, paths, child):  # stands in for the train and evaluate stages
        lr = params["optimizer"]["lr"]
        validation = {"val_acc": VALIDATION[lr], "val_loss": 1 - VALIDATION[lr]}
        return Outcome(validation, {"accuracy": test_accuracy[lr], "nll": 0.5})

    monkeypatch.setattr(objective, "train_and_evaluate", measured)
    chosen = space({"metric": "accuracy", "direction": "maximize"})
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    sweep = Sweep(tmp_path, tmp_path / "s", chosen, "", "s", base, "parent", 3)
    study = optuna.create_study(direction=chosen.select_direction)
    for lr in VALIDATION:
        study.enqueue_trial({"optimizer.lr": lr})
    study.optimize(Objective(sweep), n_trials=3)
    return study


@pytest.mark.parametrize(
    "test_accuracy",
    [
        {0.001: 0.80, 0.01: 0.95, 0.1: 0.90},  # the test split agrees with validation
        {0.001: 0.99, 0.01: 0.10, 0.1: 0.50},  # labels shuffled: the order turned upside down
    ],
)
def test_the_chosen_trial_does_not_depend_on_the_test_split(tmp_path, monkeypatch, test_accuracy):
    study = sweep_with(tmp_path, monkeypatch, test_accuracy)
    best = study.best_trial
    assert best.params == {"optimizer.lr": 0.01} and best.value == 0.95
    assert best.user_attrs["test.accuracy"] == test_accuracy[0.01]  # reported as test
    params_file = tmp_path / "params.yaml"
    params_file.write_text((REPO / "params.yaml").read_text())
    chosen = space({"metric": "accuracy", "direction": "maximize"})
    apply_best(
        study, chosen, params_file, objective.Registry(objective.create_plugin_manager()), best
    )
    assert yaml.safe_load(params_file.read_text())["optimizer"]["lr"] == 0.01


def test_a_test_metric_selects_on_its_validation_counterpart_and_says_so():
    derived = space({"metric": "accuracy", "direction": "maximize"})
    assert (derived.select, derived.select_direction, derived.select_derived) == (
        "val_acc",
        "maximize",
        True,
    )
    assert selection_note(derived) == (
        "trials are ranked on val_acc (validation, maximize), the validation counterpart of "
        "accuracy; accuracy on the test split is reported, never used to rank."
    )
    # The VAE maximizes the test ELBO but selects on the validation -ELBO.
    vae = space(
        {
            "metric": "elbo",
            "direction": "maximize",
            "select": "val_loss",
            "select_direction": "minimize",
        }
    )
    assert (vae.select, vae.select_direction, vae.monitor_direction) == (
        "val_loss",
        "minimize",
        "minimize",
    )
    with pytest.raises(
        PipelineError,
        match=r"^s.yaml: objective.select = 'accuracy' must name a validation metric training "
        r"logs \(val_\*\), e.g. val_acc or val_loss.$",
    ):
        space({"metric": "accuracy", "direction": "maximize", "select": "accuracy"})


def test_a_study_ranked_on_the_test_split_is_not_continued(tmp_path):
    from pipeline.sweep.command import open_storage, open_study

    storage = open_storage(f"sqlite:///{tmp_path}/s.db", 10, 30)
    old = optuna.create_study(storage=storage, study_name="old", direction="maximize")
    old.enqueue_trial({"optimizer.lr": 0.01})  # a study made before selection on validation
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    chosen = space({"metric": "accuracy", "direction": "maximize"})
    with pytest.raises(
        PipelineError,
        match=r"^study 'old' ranked its trials on a test metric, but the space selects on val_acc; "
        r"its values would not compare, so pass --study NEW_NAME.$",
    ):
        open_study(storage, "old", chosen, base)
    fresh = open_study(storage, "new", chosen, base)
    assert fresh.user_attrs["sweep.select"] == "val_acc" and fresh.metric_names == ["val_acc"]


SHUFFLE_SPACE = """
objective: {metric: accuracy, direction: maximize}
n_trials: 4
fixed:
  trainer.max_epochs: 2
  model.hidden: 16
params:
  optimizer.lr: {type: categorical, choices: [0.02, 0.0003]}
sampler: {type: random, seed: 1}
"""


STUDIES = ("kept", "shuffled")


def test_real_trials_choose_the_same_when_the_test_labels_are_shuffled(project):
    """Two sweeps on the same split, the second with the test split's labels shuffled: every trial
    keeps its validation value and the same trial wins; only what is reported as test moves."""
    (project / "conf" / "sweep" / "lr.yaml").write_text(SHUFFLE_SPACE)
    run(["pipeline", "sweep", "lr", "--study", "kept"], project)
    kept_split = project / "optuna" / "kept" / "prepared"
    shuffled_split = project / "optuna" / "shuffled" / "prepared"
    shutil.copytree(kept_split, shuffled_split)  # with its marker: the sweep takes it as made
    test = np.load(shuffled_split / "test.npz")
    labels = np.random.default_rng(0).permutation(test["y"])
    assert (labels != test["y"]).mean() > 0.8
    np.savez(shuffled_split / "test.npz", x=test["x"], y=labels)
    run(["pipeline", "sweep", "lr", "--study", "shuffled"], project)

    storage = f"sqlite:///{project / 'optuna' / 'sweeps.db'}"
    kept, shuffled = (
        optuna.load_study(study_name=n, storage=storage) for n in ("kept", "shuffled")
    )
    assert len({t.params["optimizer.lr"] for t in kept.trials}) == 2  # both rates were tried
    assert [(t.params, t.value) for t in shuffled.trials] == [
        (t.params, t.value) for t in kept.trials
    ]
    assert shuffled.best_trial.number == kept.best_trial.number
    assert shuffled.best_trial.params == {"optimizer.lr": 0.02}
    moved = [t.user_attrs["test.accuracy"] for t in (kept.best_trial, shuffled.best_trial)]
    assert moved[0] > 0.8 and moved[1] < 0.3, moved  # reported as test, never used to choose
