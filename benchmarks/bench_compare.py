"""What ``pipeline compare`` costs against running the same runs one by one with ``dvc exp run``.

In a fresh copy of the project, the same V variants × N seeds of the default classifier run three
ways, each from a clean state: ``dvc exp run evaluate`` once per (variant, seed) with ``-S``
overrides (what a researcher types today, up to the stages a comparison runs: check, train,
evaluate), ``pipeline compare`` with one worker, and with two workers. Every process trains on one
thread (OMP_NUM_THREADS=1), so two workers use two cores. DVC's run cache is emptied first, so
every run trains.

Run: ``python benchmarks/bench_compare.py`` (``--epochs``, ``--seeds``; ``--workers-only`` skips
the one-by-one runs and compares two workers with one).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from commands import copy_project, run_timed

from tests.project_kit import command_env

SPEC = """
base: {{trainer.max_epochs: {epochs}}}
variants:
  none: {{}}
  ema: {{tricks.ema: {{decay: 0.99}}}}
seeds: {seeds}
metrics: [accuracy]
"""


def fresh(root: Path) -> None:
    for name in ("comparisons", "mlflow.db", "mlruns", "checkpoints", ".dvc/cache/runs"):
        path = root / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers-only", action="store_true", help="skip the dvc exp run runs")
    args = parser.parse_args()
    env = command_env(OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_project(Path(tmp) / "project")
        (root / "bench.yaml").write_text(SPEC.format(epochs=args.epochs, seeds=args.seeds))
        run_timed(["dvc", "repro", "prepare"], root, env)  # the data, prepared once for all
        runs = [(v, s) for v in ("none", "ema") for s in range(args.seeds)]
        timings = {}
        if not args.workers_only:
            fresh(root)
            started = time.perf_counter()
            for variant, seed in runs:
                overrides = ["-S", f"seed={seed}", "-S", f"trainer.max_epochs={args.epochs}"]
                overrides += ["-S", "++tricks.ema={decay:0.99}"] if variant == "ema" else []
                run_timed(["dvc", "exp", "run", *overrides, "evaluate"], root, env)
            timings["dvc exp run, one by one"] = time.perf_counter() - started
        for workers in (1, 2):
            fresh(root)
            command = ["pipeline", "compare", "bench.yaml", "--workers", str(workers)]
            timings[f"pipeline compare, {workers} worker(s)"] = run_timed(command, root, env)
    reference_label = next(iter(timings))  # the one-by-one runs, or one worker
    reference = timings[reference_label]
    print(f"{len(runs)} runs (2 variants × {args.seeds} seeds), {args.epochs} epochs each")
    for label, seconds in timings.items():
        print(f"  {label:36} {seconds:7.1f} s   {seconds / reference:5.2f}× {reference_label}")
    one, two = timings["pipeline compare, 1 worker(s)"], timings["pipeline compare, 2 worker(s)"]
    print(f"  two workers: {one / two:.2f}× faster than one")


if __name__ == "__main__":
    main()
