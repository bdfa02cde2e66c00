"""A sweep whose worker is killed mid-trial and which is then stopped resumes with the same
command."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from tests.project_kit import command_env, run

SPACE = """
objective: {metric: accuracy, direction: maximize}
n_trials: 3
fixed:
  trainer.max_epochs: 200  # seconds of training per trial, so both workers are caught mid-trial
  model.hidden: 16
params:
  optimizer.lr: {type: float, low: 0.005, high: 0.05, log: true}
# pruner none never prunes, but reports every epoch: the retry's first report shows where it
# resumed
pruner: {type: none, monitor: val_acc}
sampler: {type: random, seed: 0}
heartbeat: {interval: 1, grace_period: 3}
"""


def pid_of(trial) -> int:
    return int(trial.user_attrs["sweep.worker"].rsplit(":", 1)[1])


def both_mid_trial(project: Path, storage: str, main_pid: int):
    """(a child worker's RUNNING trial past its first checkpoint, the main process's early RUNNING
    trial), once both exist."""
    trials_dir = project / "optuna" / "kill_me" / "trials"
    if not any(trials_dir.glob("*/checkpoints/last.ckpt")):
        return None
    running = [
        t
        for t in optuna.load_study(study_name="kill_me", storage=storage).get_trials(
            states=(TrialState.RUNNING,)
        )
        if "sweep.worker" in t.user_attrs
    ]
    child = [
        t
        for t in running
        if pid_of(t) != main_pid
        and (
            trials_dir / f"{t.user_attrs['sweep.folder']:04d}" / "checkpoints" / "last.ckpt"
        ).is_file()
    ]
    main = [
        t for t in running if pid_of(t) == main_pid and len(t.intermediate_values) <= 50
    ]  # far from its end: the stop interrupts it
    return (child[0], main[0]) if child and main else None


def test_killed_and_interrupted_trials_are_retried_with_their_params_and_resume(
    project: Path, tmp_path: Path
):
    space = tmp_path / "kill_me.yaml"
    space.write_text(SPACE)
    storage = f"sqlite:///{project / 'optuna' / 'sweeps.db'}"
    command = ["pipeline", "sweep", str(space), "--workers", "2"]
    log = tmp_path / "first.log"
    sweep = subprocess.Popen(
        command,
        cwd=project,
        env=command_env(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 240
        while (found := both_mid_trial(project, storage, sweep.pid)) is None:
            assert sweep.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        victim, interrupted = found
        os.kill(pid_of(victim), signal.SIGKILL)  # a worker dies silently mid-trial
        sweep.send_signal(
            signal.SIGTERM
        )  # and the sweep itself is stopped, as by Ctrl-C or a scheduler
        try:  # a loaded machine (the suite runs two test workers) may take minutes to wind down
            code = sweep.wait(timeout=300)
        except subprocess.TimeoutExpired:
            pytest.fail("the stopped sweep did not exit:\n" + log.read_text()[-3000:])
        assert code == 130, log.read_text()[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
    assert "sweep interrupted; run the same command again to continue the study." in log.read_text()

    between = {t.number: t for t in optuna.load_study(study_name="kill_me", storage=storage).trials}
    assert (
        between[victim.number].state == TrialState.RUNNING
    )  # dead, but only its silence will tell
    assert (
        between[interrupted.number].state == TrialState.FAIL
    )  # interrupted: failed and queued at once
    (queued,) = [t for t in between.values() if t.state == TrialState.WAITING]
    assert (
        queued.system_attrs["failed_trial"] == interrupted.number
        and queued.params == interrupted.params
    )
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    (stopped,) = client.search_runs([experiment.experiment_id], "tags.`pipeline.sweep` = 'parent'")
    assert stopped.info.status == "KILLED"

    done = run(command, project)  # the same command again

    trials = optuna.load_study(study_name="kill_me", storage=storage).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    failed = [t for t in trials if t.state == TrialState.FAIL]
    retries = {
        t.system_attrs["failed_trial"]: t for t in trials if "failed_trial" in t.system_attrs
    }
    assert {victim.number, interrupted.number} <= {t.number for t in failed}
    assert set(retries) == {t.number for t in failed}  # every stopped trial ran again, once
    for original in failed:
        retry = retries[original.number]
        assert retry.state == TrialState.COMPLETE
        assert (
            retry.params == original.params
            and retry.user_attrs["sweep.folder"] == original.user_attrs["sweep.folder"]
        )
    # the victim had a checkpoint: its retry resumed there instead of starting at epoch 0
    assert min(retries[victim.number].intermediate_values) >= 1
    counted = [t for t in trials if t.state != TrialState.FAIL]  # 4 if two workers raced for one
    assert 3 <= len(counted) <= 4 and {t.state for t in counted} == {TrialState.COMPLETE}
    assert (
        f"{len(counted)} complete" in done.stdout
        and f"retried as #{retries[victim.number].number}" in done.stdout
    )

    (parent,) = client.search_runs([experiment.experiment_id], "tags.`pipeline.sweep` = 'parent'")
    assert (parent.info.run_id, parent.info.status) == (
        stopped.info.run_id,
        "FINISHED",
    )  # reopened and closed
    children = client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(int(c.data.tags["optuna.trial"]) for c in children) == sorted(
        t.user_attrs["sweep.folder"] for t in counted
    )
    assert {c.info.status for c in children} == {"FINISHED"}
    victim_child = next(
        c for c in children if c.data.tags["optuna.trial"] == str(victim.user_attrs["sweep.folder"])
    )
    assert victim_child.data.tags["optuna.trial_number"] == str(retries[victim.number].number)
