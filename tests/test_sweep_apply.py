"""``--apply-best`` writes the study's best trial into params.yaml and runs no trial; the total a
sweep was asked for is kept in the study and reused by the next command."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest
import yaml

from pipeline.errors import PipelineError
from pipeline.sweep.command import N_TRIALS_ATTR, Request, run_sweep, total
from pipeline.sweep.space import parse_space
from tests.project_kit import REPO

SPACE = """
objective: {metric: accuracy, direction: maximize}
n_trials: 30
fixed: {trainer.max_epochs: 3}
params:
  optimizer.lr: {type: float, low: 0.001, high: 0.1, log: true}
"""


def told_study(storage: str, values: dict[float, float]) -> optuna.Study:
    """A study holding one complete trial per ``{lr: val_acc}``, as finished trials leave it."""
    study = optuna.create_study(study_name="lr", storage=storage, direction="maximize")
    study.set_user_attr(N_TRIALS_ATTR, len(values))
    searched = optuna.distributions.FloatDistribution(0.001, 0.1, log=True)
    for lr, value in values.items():
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer.lr": lr}, distributions={"optimizer.lr": searched}, value=value
            )
        )
    return study


def test_apply_best_writes_the_best_trial_and_runs_none(tmp_path: Path, capsys):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "lr.yaml").write_text(SPACE)
    (tmp_path / "optuna").mkdir()
    storage = f"sqlite:///{tmp_path / 'optuna' / 'sweeps.db'}"
    study = told_study(storage, {0.01: 0.91, 0.02: 0.97, 0.03: 0.95})
    best = study.best_trial

    code = run_sweep(Request(str(tmp_path / "lr.yaml"), apply_best=True), tmp_path)

    assert code == 0
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert params["optimizer"]["lr"] == best.params["optimizer.lr"]
    assert params["trainer"]["max_epochs"] == 3
    assert len(optuna.load_study(study_name="lr", storage=storage).trials) == 3  # none ran
    out = capsys.readouterr()
    assert f"best trial #{best.number}, chosen on validation: val.acc = 0.97" in out.out
    assert f"params.yaml now holds trial #{best.number}'s values" in out.out
    assert "30" not in out.err  # the space's n_trials plays no part once the study has a total

    with pytest.raises(PipelineError, match="--apply-best runs no trial"):
        run_sweep(Request(str(tmp_path / "lr.yaml"), n_trials=40, apply_best=True), tmp_path)
    with pytest.raises(PipelineError, match="holds no study 'other'"):
        run_sweep(Request(str(tmp_path / "lr.yaml"), study="other", apply_best=True), tmp_path)


def test_the_total_given_once_is_stored_and_reused():
    space = parse_space(yaml.safe_load(SPACE), "lr.yaml", "lr")
    study = optuna.create_study()
    assert total(study, space, None) == (30, "the space's n_trials (30)")
    assert total(study, space, 4) == (4, "--n-trials 4")
    assert total(study, space, None) == (4, "the total an earlier --n-trials stored (4)")
    assert total(study, space, 8)[0] == 8 and study.user_attrs[N_TRIALS_ATTR] == 8
