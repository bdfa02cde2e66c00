"""What each trick costs per training step, and what gradient accumulation saves in peak memory.

Part 1 trains the classifier family at two sizes with no trick, with each registered trick alone
(its
default settings) and with all of them, through Lightning and the pipeline's own trick wiring. Time
is the CPU time of the training thread (torch on one thread, data loaded in that thread), which
other
processes on a shared machine disturb less than wall time. Load still drifts over minutes, so every
fit with a trick is paired with a fit without one just before it, and a trick's cost is the median
over rounds of the ratio within each pair (each fit's time: the median of its epochs after the
first).

Part 2 measures peak memory of one optimizer step over k accumulated micro-batches of size b,
against
one batch of b and one batch of k·b, on a deep narrow MLP where activations, not weights, dominate.
Each configuration runs in a fresh process. When training starts (weights, data and optimizer
built) the kernel's resident-memory high-water mark is reset (``/proc/self/clear_refs``); the mark
(``VmHWM``) when training ends, minus the resident memory at the start, is the extra peak:
gradients,
activations and temporaries. torch allocates CPU tensors with plain malloc, so resident memory sees
them; Python's tracemalloc would not.

Run: ``python benchmarks/bench_tricks.py`` (``--rounds``, ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pipeline.data.types import DataInfo
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.training.builder import build_training
from pipeline.training.module import ModelModule

REGISTRY = Registry(create_plugin_manager())
ADAM = {"name": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0}
SIZES = {  # name: (inputs, hidden, examples, batch)
    "classifier 64-100-10, b=64": (64, 100, 4096, 64),
    "classifier 784-1024-10, b=256": (784, 1024, 4096, 256),
}


QUIET_CPU = {
    "accelerator": "cpu",
    "devices": 1,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}


def trainer(
    module: ModelModule, optimizer: dict, tricks: dict, probe: pl.Callback, epochs: int
) -> pl.Trainer:
    """A quiet CPU Trainer fitting ``module`` with ``tricks``, wired as the train stage does."""
    settings = {**QUIET_CPU, "max_epochs": epochs}
    return build_training(module, optimizer, tricks, REGISTRY, settings, (), [probe]).trainer


class EpochClock(pl.Callback):
    """CPU seconds of the training thread per batch, for every epoch after the first."""

    def __init__(self):
        self.samples: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.start = time.thread_time()

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch > 0:
            self.samples.append((time.thread_time() - self.start) / trainer.num_training_batches)


def seconds_per_batch(size: tuple, names: list[str], epochs: int) -> list[float]:
    """One fit of the classifier of ``size`` with tricks ``names``; CPU seconds per batch of each
    epoch after the first."""
    inputs, hidden, examples, batch = size
    torch.manual_seed(0)
    module = (
        REGISTRY.family("classifier")
        .load()
        .build({"hidden": hidden}, DataInfo((inputs,), 10, "bench"))
    )
    data = TensorDataset(torch.rand(examples, inputs), torch.randint(0, 10, (examples,)))
    clock = EpochClock()
    fit = trainer(module, ADAM, {name: {} for name in names}, clock, epochs)
    fit.fit(module, DataLoader(data, batch_size=batch))
    return clock.samples


def step_costs(rounds: int, epochs: int) -> None:
    """Part 1: the table of per-batch CPU time by trick, relative to no trick."""
    configs = {**{name: [name] for name in REGISTRY.tricks}, "(all at once)": list(REGISTRY.tricks)}
    labels = list(configs)
    times: dict[tuple[str, str], list[float]] = {
        (size, label): [] for size in SIZES for label in ["(none)", *configs]
    }
    ratios: dict[tuple[str, str], list[float]] = {
        (size, label): [] for size in SIZES for label in configs
    }
    for shape in SIZES.values():
        seconds_per_batch(
            shape, [], epochs
        )  # warm-up: first fits pay for allocator and cache growth
    for turn in range(rounds):
        order = (
            labels[turn % len(labels) :] + labels[: turn % len(labels)]
        )  # each configuration leads in turn
        for size, shape in SIZES.items():
            for label in order:
                base = statistics.median(seconds_per_batch(shape, [], epochs))
                with_trick = statistics.median(seconds_per_batch(shape, configs[label], epochs))
                times[size, "(none)"].append(base)
                times[size, label].append(with_trick)
                ratios[size, label].append(with_trick / base)
    print(
        f"Part 1: CPU time per training batch (median over {rounds} rounds; Adam, 1 thread, "
        "default "
        "settings)"
    )
    print(
        "and the cost against a fit without tricks run just before it (median of the pair ratios)"
    )
    print(f"{'trick':<16}" + "".join(f" | {size:>31}" for size in SIZES))
    for label in ["(none)", *configs]:
        cells = []
        for size in SIZES:
            change = 100 * (statistics.median(ratios[size, label]) - 1) if label in configs else 0.0
            cells.append(
                f" | {statistics.median(times[size, label]) * 1e3:9.3f} ms {change:+7.1f}% vs none"
            )
        print(f"{label:<16}{''.join(cells)}")
    print(
        "grad_accum (default k=2) steps the optimizer once per k batches, so its batches are "
        "cheaper than none.\n"
    )


class DeepMlp(ModelModule):
    """Eight 512-wide ReLU layers: few weights, many activations per example."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            *[layer for _ in range(8) for layer in (nn.Linear(512, 512), nn.ReLU())],
            nn.Linear(512, 10),
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)


def status_bytes(key: str) -> int:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(key + ":"))
    return int(line.split()[1]) * 1024


class PeakMemory(pl.Callback):
    """Resets the resident high-water mark when training starts and reads it when training ends."""

    def on_train_start(self, trainer, pl_module):
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # 5: reset the peak resident set size (Linux ≥ 4.0)
        self.start = status_bytes("VmRSS")

    def on_train_end(self, trainer, pl_module):
        self.peak = status_bytes("VmHWM")


def memory_child(batch: int, k: int, steps: int) -> None:
    """Part 2, in a fresh process: ``steps`` optimizer steps of ``k`` micro-batches of ``batch``;
    print JSON."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    module = DeepMlp()
    tricks = {"grad_accum": {"k": k}} if k > 1 else {}
    data = TensorDataset(
        torch.rand(batch * k * steps, 512), torch.randint(0, 10, (batch * k * steps,))
    )
    probe = PeakMemory()
    fit = trainer(module, {**ADAM, "name": "sgd"}, tricks, probe, 1)
    fit.fit(module, DataLoader(data, batch_size=batch))
    assert fit.global_step == steps
    print(json.dumps({"peak_mib": (probe.peak - probe.start) / 2**20}))


def memory_table(k: int, batch: int, repeats: int) -> None:
    """Part 2: peak memory of accumulation against the two plain batch sizes, one process per
    measurement."""
    rows = [
        (f"{k} x {batch} accumulated (grad_accum k={k})", batch, k),
        (f"1 x {batch}", batch, 1),
        (f"1 x {k * batch}", k * batch, 1),
    ]
    print(
        "Part 2: extra peak resident memory of 2 optimizer steps, 8x512 ReLU MLP, SGD, median of "
        f"{repeats} processes"
    )
    for label, size, micro in rows:
        peaks = []
        for _ in range(repeats):
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--memory-child", str(size), str(micro)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            peaks.append(json.loads(out)["peak_mib"])
        print(
            f"  {label:<36} {statistics.median(peaks):8.1f} MiB   (each: "
            f"{', '.join(f'{p:.1f}' for p in peaks)})"
        )
    print(
        "Method: VmHWM when fit ends minus VmRSS when it starts, the high-water mark reset at the "
        "start."
    )


def main() -> None:
    """Parse arguments and print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="turns each configuration takes (default 5)"
    )
    parser.add_argument(
        "--epochs", type=int, default=3, help="epochs per fit; the first is not timed (default 3)"
    )
    parser.add_argument("--quick", action="store_true", help="one round, for a smoke run")
    parser.add_argument(
        "--memory-child", nargs=2, type=int, metavar=("BATCH", "K"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    if args.memory_child:
        memory_child(*args.memory_child, steps=2)
        return
    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n"
    )
    step_costs(1 if args.quick else args.rounds, epochs=2 if args.quick else args.epochs)
    memory_table(k=8, batch=512, repeats=1 if args.quick else 3)


if __name__ == "__main__":
    main()
