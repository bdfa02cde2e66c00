"""What pruning and a second worker buy a sweep: wall time to reach the same best value, in one run.

Four sweeps of the same space run through ``pipeline sweep`` in a fresh copy of the project: one
worker without pruning (the reference), one worker with the median pruner, and the same two with two
workers. The space is a small grid of learning rates and optimizers in which most settings learn
slowly or not at all, so pruning has something to cut. The random sampler with one seed proposes
the same trials to one worker with and without pruning; two workers draw from two seeded streams,
so their trials differ (the seed is chosen so the best settings come up about as late in both).

The target is the reference's best test accuracy less ``--tolerance``; "to target" is the time from
the sweep's first trial start until a trial reaching it completed. Every process trains on one
thread (OMP_NUM_THREADS=1), so two workers use the machine's two cores and one worker uses one.
Run: ``python benchmarks/bench_sweep.py`` (``--trials``, ``--epochs``, ``--tolerance``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import commands
import optuna
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ((1, "none"), (1, "median"), (2, "none"), (2, "median"))
SPACE = """
objective: {{metric: accuracy, direction: maximize}}
n_trials: {trials}
fixed:
  trainer.max_epochs: {epochs}
  model.hidden: 32
params:
  optimizer.lr: {{type: categorical, choices: [0.03, 0.003, 3.0e-4, 3.0e-5, 3.0e-6, 3.0e-7]}}
  optimizer.name: {{type: categorical, choices: [adam, sgd]}}
pruner: {{type: {pruner}, monitor: val_acc{options}}}
# Adam at 0.03 or 0.003 (the best) first comes up as trial 5 of one stream, 4 of the other
sampler: {{type: random, seed: 12}}
heartbeat: {{interval: 5, grace_period: 30}}
"""


@dataclass
class Result:
    """One sweep's outcome."""

    name: str
    wall: float  # the whole command
    span: float  # first trial start to last trial end
    best: float
    complete: int
    pruned: int
    epochs: int  # epochs trained over all trials
    finished: list[
        tuple[float, float]
    ]  # (seconds since the first start, value) of each complete trial

    def to_target(self, target: float) -> float | None:
        """Seconds from the first trial start until a complete trial reached ``target``."""
        hits = [at for at, value in self.finished if value >= target]
        return min(hits) if hits else None


def sweep(project: Path, workers: int, pruner: str, trials: int, epochs: int) -> Result:
    """Run one configuration with ``pipeline sweep`` and read its study back."""
    name = f"workers{workers}_{pruner}"
    options = ", n_startup_trials: 2, n_warmup_steps: 1" if pruner == "median" else ""
    space = SPACE.format(trials=trials, epochs=epochs, pruner=pruner, options=options)
    (project / "conf" / "sweep" / f"{name}.yaml").write_text(space)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        OMP_NUM_THREADS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    )
    start = time.perf_counter()
    done = subprocess.run(
        ["pipeline", "sweep", name, "--workers", str(workers)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    study = optuna.load_study(
        study_name=name, storage=f"sqlite:///{project / 'optuna' / 'sweeps.db'}"
    )
    trials_ = study.get_trials(deepcopy=False)
    first = min(t.datetime_start for t in trials_)
    finished = [
        ((t.datetime_complete - first).total_seconds(), t.value)
        for t in trials_
        if t.state == TrialState.COMPLETE
    ]
    return Result(
        name,
        wall,
        (max(t.datetime_complete for t in trials_) - first).total_seconds(),
        study.best_value,
        sum(t.state == TrialState.COMPLETE for t in trials_),
        sum(t.state == TrialState.PRUNED for t in trials_),
        sum(len(t.intermediate_values) for t in trials_),
        finished,
    )


def main() -> None:
    """Run the four sweeps and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12, help="trials per sweep (default 12)")
    parser.add_argument(
        "--epochs", type=int, default=15, help="epochs per unpruned trial (default 15)"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        help="accuracy below the reference best that counts as reached",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = commands.copy_project(Path(tmp) / "project")
        results = []
        for workers, pruner in CONFIGS:
            results.append(sweep(project, workers, pruner, args.trials, args.epochs))
            print(f"  {results[-1].name}: {results[-1].wall:.0f} s", file=sys.stderr)
    target = results[0].best - args.tolerance
    print(
        f"\n{args.trials} trials of up to {args.epochs} epochs; target accuracy {target:.4f} "
        f"(reference best {results[0].best:.4f} - {args.tolerance})\n"
    )
    header = (
        f"{'sweep':<18}{'command s':>10}{'trials s':>10}{'to target s':>13}{'best':>8}"
        f"{'complete':>10}{'pruned':>8}{'epochs':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        reached = r.to_target(target)
        shown = f"{reached:.1f}" if reached is not None else "missed"
        print(
            f"{r.name:<18}{r.wall:>10.1f}{r.span:>10.1f}{shown:>13}{r.best:>8.4f}{r.complete:>10}{r.pruned:>8}{r.epochs:>8}"
        )


if __name__ == "__main__":
    main()
