"""Training examples per second and peak memory of the train stage on streamed shards against the
in-memory arrays, on the same data that fits in memory.

The data: 60,000 generated rows of 784 features (MNIST-sized, the ``gaussian_blobs`` dataset,
188 MB), prepared once as shards by the prepare stage; the in-memory contender gets exactly the
same splits written as arrays. Two models: the compute-bound 784-1024-10 MLP with batch 256, and
a small 784-100-10 one with batch 64 where the data path weighs most. Each case runs the train
stage for 1 and for 3 epochs in its own process on one torch thread; two epochs' examples divided
by the difference is its marginal speed (start-up excluded), and the larger run's peak resident
memory is reported. Run: ``python benchmarks/bench_streaming.py`` (``--json FILE`` writes the
figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from commands import command_env, copy_project

TARGET = 0.8  # streamed / in-memory examples per second
ROWS, FEATURES = 60_000, 784
MODELS = {"784-1024-10, batch 256": (1024, 256), "784-100-10, batch 64": (100, 64)}
CASES = {"in memory": 0, "streamed": 0, "streamed, 1 worker": 1}  # name: data.num_workers
EPOCHS = (1, 3)

PEAK = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stderr[-3000:] if done.returncode else '')\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def train(root: Path, params: dict) -> tuple[float, int]:
    """Wall seconds and peak resident bytes of one ``pipeline run train``."""
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for generated in ("checkpoints", "models", "metrics", "plots"):
        shutil.rmtree(root / generated, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, "pipeline", "run", "train"],
        cwd=root,
        env=command_env(OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"pipeline run train failed:\n{done.stderr}")
    return wall, int(done.stdout.split()[-1]) * 1024


def prepare_both(root: Path, base: dict) -> tuple[Path, int]:
    """Prepare the shards in ``root``; write the same splits as arrays into ``root/arrays``.
    Returns the arrays project and the training rows."""
    from pipeline.data.prepared import PreparedData
    from pipeline.data.types import Split

    params = {**base, "data": {"name": "gaussian_blobs", "examples": ROWS, "features": FEATURES}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(
        ["pipeline", "run", "prepare"], cwd=root, env=command_env(), check=True, capture_output=True
    )
    streamed = PreparedData.load(root / "data" / "prepared")
    arrays = copy_project(root.parent / "arrays")
    in_memory = PreparedData(
        streamed.info,
        *(
            Split(getattr(streamed, name).x, getattr(streamed, name).y)
            for name in ("train", "val", "test")
        ),
    )
    in_memory.save(arrays / "data" / "prepared")
    return arrays, streamed.train.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shards = copy_project(Path(tmp) / "shards")
        base = yaml.safe_load((shards / "params.yaml").read_text())
        arrays, rows = prepare_both(shards, base)
        figures: dict[str, dict[str, float]] = {}
        for model, (hidden, batch) in MODELS.items():
            for case, workers in CASES.items():
                root = arrays if case == "in memory" else shards
                walls, peak = [], 0
                for epochs in EPOCHS:
                    params = {
                        **base,
                        "data": {
                            "name": "gaussian_blobs",
                            "examples": ROWS,
                            "features": FEATURES,
                            "num_workers": workers,
                        },
                        "model": {"family": "classifier", "hidden": hidden},
                        "optimizer": {**base["optimizer"], "batch_size": batch},
                        "trainer": {**base["trainer"], "max_epochs": epochs},
                    }
                    wall, peak = train(root, params)
                    walls.append(wall)
                speed = rows * (EPOCHS[1] - EPOCHS[0]) / (walls[1] - walls[0])
                figures[f"{model} | {case}"] = {"examples/s": speed, "peak MiB": peak / 2**20}
                print(
                    f"{model:<24} {case:<20} {speed:>9.0f} examples/s  "
                    f"peak {peak / 2**20:6.0f} MiB",
                    flush=True,
                )
    print(f"\nload average {os.getloadavg()[0]:.1f}; target: streamed >= {TARGET}x in memory")
    for model in MODELS:
        memory = figures[f"{model} | in memory"]["examples/s"]
        for case in list(CASES)[1:]:
            ratio = figures[f"{model} | {case}"]["examples/s"] / memory
            figures[f"{model} | {case}"]["ratio"] = ratio
            verdict = "met" if ratio >= TARGET else "MISSED"
            print(f"{model:<24} {case:<20} {ratio:5.2f}x in memory  {verdict}")
    if args.json:
        args.json.write_text(
            json.dumps({"load": os.getloadavg(), "figures": figures}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
