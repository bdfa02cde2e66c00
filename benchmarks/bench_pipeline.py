"""Seconds per training step of the pipeline's train stage against a hand loop, plain Lightning and
Keras,
what each per-epoch extra of the pipeline costs, and the wall time of a cold and a no-op ``dvc
repro``.

Every contender trains the same MLP on the same prepared digits train split with batch 64, validates
once
per epoch on the same validation split, and runs on one thread (see contenders.py).
Run: ``python benchmarks/bench_pipeline.py`` (``--help`` for epochs, repeats and profiling).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import commands
import compute_bound
import contenders
import lightning.pytorch as pl
import targets
import torch

REPO = Path(__file__).resolve().parents[1]
TARGET = targets.TARGETS["pipeline / plain Lightning per step"][0]
PROBES = 15  # calls timed per per-epoch cost
CKPT, CSV = "last.ckpt write (Trainer.save_checkpoint)", "history CSV rewrite (EpochHistory)"
SYNC, ASYNC = (
    "MLflow log_metrics, synchronous",
    "MLflow log_metrics queued (as the stage logs)",
)
QUEUED = "  its CPU incl. the background write"
AS_CONFIGURED = (CKPT, CSV, ASYNC)  # what the train stage's thread pays per epoch


def measure(args, work: Path, params: dict) -> tuple[dict[str, list[dict]], object, float]:
    """Run every contender ``args.repeats`` times, interleaved so load changes hit them alike.

    Returns the results, and the Trainer of the last pipeline run with the checkpoints it saved
    per epoch (for the per-epoch cost probes).
    """
    data = contenders.prepare(work, params)
    spawn = multiprocessing.get_context("spawn")
    conn, child_conn = spawn.Pipe()
    worker = spawn.Process(target=contenders.keras_worker, args=(child_conn, data), daemon=True)
    worker.start()
    last: dict = {}

    def keras_fit(_data, epochs):
        conn.send(epochs)
        return conn.recv()

    def pipeline(_data, epochs):
        saves = SaveCounter()
        result, last["trainer"] = contenders.pipeline_train(work, params, epochs, [saves])
        last["saves per epoch"] = saves.count / epochs
        return result

    runs = {
        "hand loop": contenders.hand_loop,
        "plain Lightning": contenders.plain_lightning,
        "Keras fit": keras_fit,
        "pipeline": pipeline,
    }
    for run in runs.values():  # warm-up: imports, allocator, tf.function tracing, the MLflow schema
        run(data, 2)
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            results[name].append(run(data, args.epochs))
    conn.send(None)
    worker.join(timeout=30)
    return results, last["trainer"], last["saves per epoch"]


class SaveCounter(pl.Callback):
    """Counts the checkpoints a fit saves (the stage saves at most every few seconds)."""

    def __init__(self) -> None:
        self.count = 0

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        self.count += 1


def timed(call, repeats: int) -> float:
    """Median wall seconds of ``call()``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def log_next(logger, metrics: dict, steps) -> None:
    """One ``log_metrics`` call at the next step, as the train stage makes once per epoch."""
    logger.log_metrics(metrics, step=next(steps))


def per_epoch_costs(work: Path, trainer, saves: float) -> dict[str, tuple[float, float]]:
    """Seconds per call and calls per epoch of each thing the train stage does per epoch that a bare
    Trainer does not.

    Each is timed on the real object: the finished run's Trainer writing a checkpoint, the
    pipeline's
    history callback rewriting a CSV of that many epochs, and Lightning's MLFlowLogger on the same
    store.
    """
    from lightning.pytorch.loggers import MLFlowLogger
    from mlflow.tracking import MlflowClient

    from pipeline.tracking import runs as tracking
    from pipeline.training.callbacks.history import EpochHistory

    epochs = trainer.current_epoch
    run_id = json.loads((work / "models" / "run.json").read_text())["run_id"]
    client = MlflowClient(tracking.tracking_uri(work))
    # Lightning adds "epoch" to every call
    log_calls = len(client.get_metric_history(run_id, "epoch")) / epochs
    history = EpochHistory(work / "probe" / "history.csv")
    history.load_state_dict(
        {"logged": {e: {"train_loss": 0.5, "val_loss": 0.5} for e in range(epochs)}}
    )
    module = trainer.lightning_module
    costs = {
        CKPT: (timed(lambda: trainer.save_checkpoint(work / "probe" / "last.ckpt"), PROBES), saves),
        CSV: (timed(lambda: history.on_train_end(trainer, module), PROBES), saves),
    }
    metrics = {"train_loss": 0.5, "train_acc": 0.9, "epoch": 3.0}
    for synchronous in (True, False):
        run = client.create_run(client.get_experiment_by_name("pipeline").experiment_id).info.run_id
        logger = MLFlowLogger(
            "pipeline", run_id=run, tracking_uri=client.tracking_uri, synchronous=synchronous
        )
        step = iter(range(10**6))
        label = SYNC if synchronous else ASYNC
        cpu = time.process_time()
        costs[label] = (
            timed(partial(log_next, logger, metrics, step), PROBES),
            log_calls,
        )
        logger.finalize("success")  # waits for the queued writes
        if not synchronous:  # the write still runs, in a thread contending for the GIL
            costs[QUEUED] = ((time.process_time() - cpu) / PROBES, log_calls)
    return costs


def report(
    results: dict[str, list[dict]], costs: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Print medians per contender, the ratios that matter and the per-epoch cost breakdown;
    return the ratios that have targets."""

    def median(name: str, key: str = "per_step") -> float:
        return statistics.median(r[key] for r in results[name])

    print(
        f"\n{'contender':<16} {'s/step median':>13} {'min':>9} {'max':>9} {'epochs 2+':>10} "
        f"{'CPU s/step':>10} "
        f"{'steps':>6} {'threads':>7} {'load1':>6}"
    )
    for name, runs in results.items():
        per_step = [r["per_step"] for r in runs]
        print(
            f"{name:<16} {median(name):>13.6f} {min(per_step):>9.6f} {max(per_step):>9.6f} "
            f"{median(name, 'per_step_warm'):>10.6f} {median(name, 'cpu_per_step'):>10.6f} "
            f"{runs[0]['steps']:>6} {runs[0]['threads']:>7} "
            f"{statistics.mean(r['load'] for r in runs):>6.2f}"
        )
    stage = median("pipeline", "stage_wall")
    print(
        f"\npipeline train stage wall time incl. setup and MLflow bookkeeping: {stage:.2f} s "
        "(median)"
    )
    print(f"\n{'ratio':<30} {'wall (medians)':>14} {'wall (paired)':>13} {'CPU':>6}")
    for top, bottom in (
        ("pipeline", "plain Lightning"),
        ("pipeline", "hand loop"),
        ("plain Lightning", "hand loop"),
        ("Keras fit", "hand loop"),
    ):
        # paired: each repeat runs the contenders back to back, so a ratio within a repeat shares
        # its load
        paired = statistics.median(
            a["per_step"] / b["per_step"]
            for a, b in zip(results[top], results[bottom], strict=True)
        )
        print(
            f"{top + ' / ' + bottom:<30} {median(top) / median(bottom):>14.3f} {paired:>13.3f} "
            f"{median(top, 'cpu_per_step') / median(bottom, 'cpu_per_step'):>6.3f}"
        )
    ratio = median("pipeline") / median("plain Lightning")
    print(
        f"target pipeline / plain Lightning <= {TARGET} (wall, medians): "
        f"{'met' if ratio <= TARGET else 'MISSED'}"
    )
    steps_per_epoch = results["pipeline"][0]["steps"] / results["pipeline"][0]["epochs"]
    print(
        f"\n{'per-epoch extra of the train stage':<50} {'ms/call':>8} {'calls/epoch':>11} "
        f"{'ms/step':>8}"
    )
    for name, (seconds, calls) in costs.items():
        print(
            f"{name:<50} {seconds * 1e3:>8.2f} {calls:>11.1f} "
            f"{seconds * calls / steps_per_epoch * 1e3:>8.3f}"
        )
    expected = sum(
        seconds * calls for name, (seconds, calls) in costs.items() if name in AS_CONFIGURED
    )
    print(
        f"{'sum as the stage runs (checkpoint, CSV, MLflow)':<50} {'':>8} {'':>11} "
        f"{expected / steps_per_epoch * 1e3:>8.3f}"
    )
    print(
        f"{'measured: pipeline - plain Lightning (wall)':<50} {'':>8} {'':>11} "
        f"{(median('pipeline') - median('plain Lightning')) * 1e3:>8.3f}"
    )
    return {
        "pipeline / plain Lightning per step": ratio,
        "pipeline / hand loop per step": median("pipeline") / median("hand loop"),
    }


def compute_bound_figures(work: Path, params: dict, repeats: int) -> dict[str, float]:
    """Print and return the compute-bound case's ratio and per-epoch shares."""
    found = compute_bound.measure(work, params, repeats, contenders.pipeline_train)
    print(
        f"\ncompute-bound (60,000 x 784 -> 1024 -> 10, batch 256, Adam; epochs 1 vs 3, "
        f"{repeats} repeats): pipeline {found['pipeline_s_per_step'] * 1e3:.2f} ms/step, "
        f"hand loop {found['hand_loop_s_per_step'] * 1e3:.2f} ms/step"
    )
    shares = {k: v for k, v in found.items() if k.endswith("/ epoch training")}
    for name, share in shares.items():
        print(f"  {name}: {share:.2%}")
    return {
        "compute-bound: pipeline / hand loop per step": found["pipeline_over_hand_loop"],
        "compute-bound: pipeline / hand loop per step (paired)": found[
            "pipeline_over_hand_loop_paired"
        ],
        "compute-bound: pipeline / hand loop per step (CPU)": found["pipeline_over_hand_loop_cpu"],
        "compute-bound: per-epoch costs / epoch training": sum(shares.values()),
        **{f"compute-bound: {k}": v for k, v in shares.items()},
    }


def profile(work: Path, params: dict, epochs: int) -> None:
    """cProfile one pipeline train run and print where its time goes."""
    import cProfile
    import pstats

    contenders.prepare(work, params)
    contenders.pipeline_train(work, params, 2)
    profiler = cProfile.Profile()
    profiler.runcall(contenders.pipeline_train, work, params, epochs)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> None:
    """Parse the options, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=int, default=20, help="epochs per measurement (20 batches each)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="measurements per contender; the median is reported"
    )
    parser.add_argument("--skip-dvc", action="store_true", help="leave out the dvc repro timings")
    parser.add_argument(
        "--skip-compute", action="store_true", help="leave out the compute-bound MNIST-sized case"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--profile", action="store_true", help="profile one pipeline train run instead"
    )
    args = parser.parse_args()
    from pipeline.params.validate import read_yaml

    # One thread everywhere (TensorFlow's are set in its worker), and deterministic kernels for the
    # hand
    # loop too, since the pipeline's and the plain Trainer's deterministic=True switch them on
    # process-wide.
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)
    print(
        f"threads: torch {torch.get_num_threads()} (interop {torch.get_num_interop_threads()}), "
        f"TensorFlow intra-op 1 / inter-op 1; cpus {os.cpu_count()}; load {os.getloadavg()}"
    )
    print(
        f"batch {contenders.BATCH}, {args.epochs} epochs per measurement, {args.repeats} repeats, "
        "median reported; "
        "every contender validates once per epoch"
    )
    params = read_yaml(REPO / "params.yaml")
    with (
        tempfile.TemporaryDirectory() as tmp,
        contextlib.chdir(tmp),
    ):  # MLflow puts artifacts under ./mlruns
        work = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        if args.profile:
            return profile(work, params, args.epochs)
        results, trainer, saves = measure(args, work, params)
        figures = report(results, per_epoch_costs(work, trainer, saves))
        figures["pipeline run evaluate, s"] = commands.time_evaluate(
            work, params, os.environ["MLFLOW_TRACKING_URI"], args.repeats
        )
        print(f"\npipeline run evaluate: {figures['pipeline run evaluate, s']:.2f} s (median)")
        if not args.skip_compute:
            figures.update(compute_bound_figures(work / "compute", params, args.repeats))
    if not args.skip_dvc:
        walls = commands.time_dvc()
        print(
            "\ndvc repro in a fresh clone (params.yaml as committed, all four stages, one torch "
            f"thread): cold {walls['cold']:.1f} s (load1 {walls['cold load1']:.2f}), "
            f"no-op {walls['no-op']:.1f} s (load1 {walls['no-op load1']:.2f})"
        )
        stages = ", ".join(f"{name} {walls[f'stage {name}']:.1f}" for name in commands.STAGES)
        print(
            f"  each stage's command alone (s): {stages}; dvc status {walls['dvc status']:.1f}; "
            f"the rest of the cold repro (DVC's runs, hashing, caching) "
            f"{walls['cold'] - sum(walls[f'stage {name}'] for name in commands.STAGES):.1f}"
        )
        for name in commands.STAGES:
            figures[f"stage {name} alone, s"] = walls[f"stage {name}"]
        figures["cold dvc repro, s"] = walls["cold"]
        figures["no-op dvc repro, s"] = walls["no-op"]
    targets.report(figures, args.json)


if __name__ == "__main__":
    main()
