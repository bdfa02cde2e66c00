"""A sweep whose worker is killed mid-trial, then the whole sweep killed, resumes with the same command."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from tests.conftest import command_env, run

SPACE = """
objective: {metric: accuracy, direction: maximize}
n_trials: 4
fixed:
  trainer.max_epochs: 6
  model.hidden: 16
  optimizer.batch_size: 16   # slow enough epochs that the kill lands mid-training
params:
  optimizer.lr: {type: float, low: 0.005, high: 0.05, log: true}
pruner: {type: none, monitor: val_acc}   # never prunes, but reports every epoch: the retry's first report shows where it resumed
sampler: {type: random, seed: 0}
heartbeat: {interval: 1, grace_period: 3}
"""


def first_checkpointed_trial(project: Path, storage: str):
    """Once a trial folder holds last.ckpt (training is past epoch 0), the RUNNING trial that owns it."""
    found = sorted((project / "optuna" / "kill_me" / "trials").glob("*/checkpoints/last.ckpt"))
    if not found:
        return None
    folder = int(found[0].parents[1].name)
    running = optuna.load_study(study_name="kill_me", storage=storage).get_trials(states=(TrialState.RUNNING,))
    return next(t for t in running if t.user_attrs.get("sweep.folder") == folder)


def test_killed_worker_trial_is_retried_with_its_params_and_resumes(project: Path, tmp_path: Path):
    space = tmp_path / "kill_me.yaml"
    space.write_text(SPACE)
    storage = f"sqlite:///{project / 'optuna' / 'sweeps.db'}"
    command = ["pipeline", "sweep", str(space), "--workers", "2"]
    log = (tmp_path / "first.log").open("w")
    sweep = subprocess.Popen(command, cwd=project, env=command_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 240
        while (victim := first_checkpointed_trial(project, storage)) is None:
            assert sweep.poll() is None and time.time() < deadline, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.1)
        os.kill(int(victim.user_attrs["sweep.worker"].rsplit(":", 1)[1]), signal.SIGKILL)  # the worker dies mid-trial
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)  # then the rest of the sweep, as when a machine goes down
        sweep.wait()

    done = run(command, project)  # the same command again

    trials = optuna.load_study(study_name="kill_me", storage=storage).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    failed = [t for t in trials if t.state == TrialState.FAIL]
    retries = {t.system_attrs["failed_trial"]: t for t in trials if "failed_trial" in t.system_attrs}
    assert victim.number in {t.number for t in failed}
    assert set(retries) == {t.number for t in failed}  # every stopped trial ran again, once
    for original in failed:
        retry = retries[original.number]
        assert retry.state == TrialState.COMPLETE
        assert retry.params == original.params and retry.user_attrs["sweep.folder"] == original.user_attrs["sweep.folder"]
    # the victim had a checkpoint: its retry resumed there instead of starting at epoch 0
    assert min(retries[victim.number].intermediate_values) >= 1
    counted = [t for t in trials if t.state != TrialState.FAIL]
    assert len(counted) == 4 and {t.state for t in counted} == {TrialState.COMPLETE}
    assert "4 complete" in done.stdout and f"retried as #{retries[victim.number].number}" in done.stdout

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`pipeline.sweep` = 'parent'")
    assert parent.info.status == "FINISHED"
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(int(c.data.tags["optuna.trial"]) for c in children) == sorted(t.user_attrs["sweep.folder"] for t in counted)
    assert {c.info.status for c in children} == {"FINISHED"}
    victim_child = next(c for c in children if c.data.tags["optuna.trial"] == str(victim.user_attrs["sweep.folder"]))
    assert victim_child.data.tags["optuna.trial_number"] == str(retries[victim.number].number)
