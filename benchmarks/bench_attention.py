"""Softmax against linear attention: time and peak memory of one forward pass as the sequence grows.

One multi-head self-attention layer (``plugins.cln_lm.attention.SelfAttention``, the layer the
``cln_lm`` family stacks: projections, kernel, output projection) runs on a batch of one sequence
of n = 256 … 8192 positions, causal by default, without gradients. Softmax attention builds the
n × n weights of every head, O(n²) time and memory; linear attention keeps a running d × d sum per
position, O(n·d²). Time is the median wall time of a few forwards after a warm-up; peak memory is
the resident high-water mark of the forward minus the resident memory before it (the mark reset
first through ``/proc/self/clear_refs``). torch's CPU tensors are plain malloc; the script runs with
glibc's mmap threshold fixed at 64 KiB, so every tensor larger than that is mapped when allocated
and unmapped when freed, and one measurement never reuses pages another one left resident.
The crossover is the smallest n from which linear attention is the cheaper one.

Run: ``python benchmarks/bench_attention.py`` (``--max-n``, ``--heads``, ``--head-dim``,
``--non-causal``, ``--threads``, ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from plugins.cln_lm.attention import KINDS, SelfAttention

HERE = Path(__file__).resolve().parent
# glibc raises its mmap threshold after large frees, keeping later tensors on the heap; a fixed
# threshold keeps every large tensor in its own mapping, returned to the system when freed.
MALLOC = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def resident(key: str) -> int:
    """A memory figure of this process in bytes from /proc/self/status (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(key + ":"))
    return int(line.split()[1]) * 1024


def peak_forward_bytes(layer: SelfAttention, x: torch.Tensor) -> int:
    """Resident memory one forward adds at its peak."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the high-water mark to the current resident size (Linux ≥ 4.0)
    start = resident("VmRSS")
    with torch.no_grad():
        layer(x)
    return resident("VmHWM") - start


def seconds_per_forward(layer: SelfAttention, x: torch.Tensor, repeats: int) -> float:
    """Median wall time of ``repeats`` forwards after one warm-up."""
    times = []
    with torch.no_grad():
        layer(x)
        for _ in range(repeats):
            start = time.perf_counter()
            layer(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(lengths: list[int], heads: int, head_dim: int, causal: bool) -> list[dict]:
    """One row per (n, kind): milliseconds and MiB per forward."""
    rows = []
    for n in lengths:
        torch.manual_seed(0)
        x = torch.randn(1, n, heads * head_dim)
        for kind in KINDS:
            layer = SelfAttention(heads * head_dim, heads, kind, causal).eval()
            repeats = 5 if n <= 2048 else 3
            rows.append(
                {
                    "n": n,
                    "attention": kind,
                    "ms": 1000 * seconds_per_forward(layer, x, repeats),
                    "peak_mib": peak_forward_bytes(layer, x) / 2**20,
                }
            )
            print(
                f"  n={n:5d} {kind:8s} {rows[-1]['ms']:10.2f} ms {rows[-1]['peak_mib']:9.1f} MiB",
                flush=True,
            )
    return rows


def crossover(rows: list[dict], key: str) -> int | None:
    """The smallest n from which linear attention costs less ``key`` than softmax at every
    larger n measured."""
    by_n: dict[int, dict[str, float]] = {}
    for row in rows:
        by_n.setdefault(row["n"], {})[row["attention"]] = row[key]
    found = None
    for n in sorted(by_n, reverse=True):
        if by_n[n]["linear"] >= by_n[n]["softmax"]:
            break
        found = n
    return found


def table(rows: list[dict]) -> str:
    """The figures side by side, one line per n."""
    lines = [
        f"{'n':>6} {'softmax ms':>11} {'linear ms':>10} {'ratio':>6} "
        f"{'softmax MiB':>12} {'linear MiB':>11}"
    ]
    by_n: dict[int, dict[str, dict]] = {}
    for row in rows:
        by_n.setdefault(row["n"], {})[row["attention"]] = row
    for n, pair in sorted(by_n.items()):
        soft, lin = pair["softmax"], pair["linear"]
        lines.append(
            f"{n:6d} {soft['ms']:11.2f} {lin['ms']:10.2f} {soft['ms'] / lin['ms']:6.2f} "
            f"{soft['peak_mib']:12.1f} {lin['peak_mib']:11.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, measure, print the table and the crossovers, write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=8192, help="longest sequence (from 256 up)")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=32)
    parser.add_argument("--non-causal", action="store_true", help="attend to every position")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--json", type=Path, default=HERE / "attention.json", help="where to write the figures"
    )
    args = parser.parse_args()
    if any(os.environ.get(k) != v for k, v in MALLOC.items()):  # malloc reads these at start
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC})
    torch.set_num_threads(args.threads)
    lengths = [n for n in (256 * 2**i for i in range(10)) if n <= args.max_n]
    causal = not args.non_causal
    print(
        f"one self-attention layer, batch 1, {args.heads} heads of {args.head_dim}, "
        f"{'causal' if causal else 'non-causal'}, no gradients; torch {torch.__version__}, "
        f"{args.threads} thread(s), load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows = measure(lengths, args.heads, args.head_dim, causal)
    print("\n" + table(rows))
    crossings = {key: crossover(rows, key) for key in ("ms", "peak_mib")}
    for key, what in (("ms", "time"), ("peak_mib", "peak memory")):
        n = crossings[key]
        print(
            f"crossover ({what}): "
            + (f"linear is cheaper from n = {n} on" if n else "linear never cheaper here")
        )
    args.json.write_text(
        json.dumps(
            {
                "heads": args.heads,
                "head_dim": args.head_dim,
                "causal": causal,
                "threads": args.threads,
                "load_average": os.getloadavg()[0],
                "rows": rows,
                "crossover_n": {"time": crossings["ms"], "peak_memory": crossings["peak_mib"]},
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
