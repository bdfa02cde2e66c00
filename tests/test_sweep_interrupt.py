"""Ctrl-C during a trial stops the sweep with its summary and one line per stopped trial, no
traceback; the study remembers its total, so the same command continues it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.project_kit import ONE_THREAD, command_env

SPACE = """
objective: {metric: accuracy, direction: maximize}
n_trials: 30
fixed: {trainer.max_epochs: 500, model.hidden: 16}  # long enough to be caught mid-trial
params:
  optimizer.lr: {type: float, low: 0.005, high: 0.05, log: true}
pruner: {type: none, monitor: val_acc}
sampler: {type: random, seed: 0}
"""


def test_ctrl_c_stops_a_sweep_with_its_summary_and_no_traceback(project: Path, tmp_path: Path):
    (project / "conf" / "sweep" / "stop_me.yaml").write_text(SPACE)
    storage = f"sqlite:///{project / 'optuna' / 'sweeps.db'}"
    log = tmp_path / "sweep.log"
    sweep = subprocess.Popen(
        ["pipeline", "sweep", "stop_me", "--n-trials", "3"],
        cwd=project,
        env=command_env(**ONE_THREAD),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the terminal's Ctrl-C reaches it all
    )
    try:
        deadline = time.time() + 300
        while not list((project / "optuna" / "stop_me" / "trials").glob("*/checkpoints/*.ckpt")):
            assert sweep.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        os.killpg(sweep.pid, signal.SIGINT)
        try:
            code = sweep.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("the interrupted sweep did not exit:\n" + log.read_text()[-3000:])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
    text = log.read_text()
    assert code == 130, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert "trial 0 stopped; it runs again with the same values." in text
    assert "study stop_me: 1 fail, 1 waiting" in text  # the summary, the retry queued
    stopped = "sweep interrupted; run the same command again to continue the study."
    assert text.rstrip().endswith(stopped)

    study = optuna.load_study(study_name="stop_me", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]
    assert study.user_attrs["sweep.n_trials"] == 3  # the next command without --n-trials runs to 3
