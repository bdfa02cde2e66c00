"""A trial created for a slot another machine already took gives way, silently and uncounted."""

from __future__ import annotations

import logging

import optuna
import pytest
from optuna.trial import TrialState

from pipeline.sweep.objective import QuietSurplus, SurplusTrial, is_surplus


@pytest.fixture
def study():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage="sqlite:///:memory:")


def test_a_trial_after_n_counted_trials_is_surplus_and_failed_ones_do_not_count(study):
    for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
        study.tell(study.ask(), 1.0 if state == TrialState.COMPLETE else None, state=state)
    running = study.ask()  # counted: another worker's trial in progress
    third = study.ask()  # two counted trials (complete, pruned) and one running come before it
    assert not is_surplus(third, 4) and is_surplus(third, 3)
    assert not is_surplus(running, 3)  # the failed trial before it does not count


def test_a_surplus_trial_ends_failed_without_a_warning_or_traceback(study, caplog):
    quiet = QuietSurplus()
    logging.getLogger("optuna.study._optimize").addFilter(quiet)
    try:

        def objective(trial):
            raise SurplusTrial("full")

        with caplog.at_level(logging.WARNING), pytest.raises(SurplusTrial):
            study.optimize(objective, n_trials=1)
    finally:
        logging.getLogger("optuna.study._optimize").removeFilter(quiet)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
