"""Data bigger than memory: prepare and one training epoch over a generated dataset twice the
memory the processes may use, under a hard limit.

The limit is ``RLIMIT_AS`` (address space), set in the child before it starts: stricter than
resident memory, since it counts what is reserved as well as what is used. glibc reserves 64 MiB
of address space per thread arena; ``MALLOC_ARENA_MAX=2`` keeps those reservations from counting
against the limit as if they were data.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.project_kit import command_env, edit_params

LIMIT = 1536 * 2**20  # bytes of address space per process
FEATURES = 1024  # float32: 4 KiB a row
EXAMPLES = 2 * LIMIT // (4 * FEATURES)  # a dataset of twice the limit: 786,432 rows, 3 GiB
BATCH = 1024

# Runs the command given as arguments and prints its peak resident memory in KiB.
PEAK = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)

# One epoch of the training loader exactly as the train stage builds it: the number of rows
# served, and how many distinct rows among them (a row is known by its first 64 bytes).
COUNT_EPOCH = """
import sys
from pathlib import Path
from pipeline.data.prepared import PreparedData
from pipeline.data.datamodule import PreparedDataModule
data = PreparedData.load(Path("data/prepared"))
loader = PreparedDataModule(data, int(sys.argv[1]), seed=0).train_dataloader()
loader.sampler.set_epoch(0)
seen, served = set(), 0
for x, _ in loader:
    rows = x[:, :16].numpy()
    served += len(rows)
    seen.update(row.tobytes() for row in rows)
print(served, len(seen), data.train.rows)
"""


def limited(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``args`` under :data:`LIMIT`; return the result and its peak resident bytes."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    done = subprocess.run(
        [sys.executable, "-c", PEAK, *args],
        cwd=cwd,
        env=command_env(MALLOC_ARENA_MAX="2"),
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=900,
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}\n{done.stderr[-4000:]}")
    return done, int(done.stdout.strip().splitlines()[-1]) * 1024


def test_one_epoch_over_twice_the_memory_limit(project: Path):
    edit_params(
        project,
        data={"name": "gaussian_blobs", "examples": EXAMPLES, "features": FEATURES},
        model={"hidden": 16},
        optimizer={"batch_size": BATCH},
        trainer={"max_epochs": 1},
    )
    prepared = project / "data" / "prepared"
    try:
        _, peak = limited(["pipeline", "run", "prepare"], project)
        stored = sum(path.stat().st_size for path in prepared.rglob("*.tar"))
        assert stored > 2 * LIMIT  # the shards hold the 3 GiB of rows
        assert peak < LIMIT

        _, peak = limited(["pipeline", "run", "train"], project)
        assert peak < LIMIT
        sizes = json.loads((prepared / "sizes.json").read_text())
        train = json.loads((project / "metrics" / "train.json").read_text())
        assert train["epochs"] == 1
        assert train["optimizer_steps"] == math.ceil(sizes["train_examples"] / BATCH)
        assert train["val_acc"] > 0.9

        done, peak = limited([sys.executable, "-c", COUNT_EPOCH, str(BATCH)], project)
        served, distinct, rows = map(int, done.stdout.split()[:3])
        assert served == distinct == rows == sizes["train_examples"]
        assert peak < LIMIT
    finally:
        shutil.rmtree(prepared, ignore_errors=True)  # 3 GiB a test run need not keep
