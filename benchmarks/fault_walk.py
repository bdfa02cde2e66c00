"""Inject a failure at every failure point of a default ``dvc repro`` in turn, with every kind of
failure that fits the point, and check each as the tests do (``tests/fault_kit.py``): one line and
no traceback, the last good results byte-identical, no run left RUNNING or flipped, no temporary
file, and a rerun without the fault that gives the results of a repro that never failed.

    python benchmarks/fault_walk.py                 # every point, every failure (hours)
    python benchmarks/fault_walk.py --every 10      # every 10th point
    python benchmarks/fault_walk.py --stage export --modes refused,sigterm

Prints one line per injected run and a summary: points per stage and kind, and how each failure
looked to the user.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import _copy_project  # noqa: E402  (the project as a fresh clone has it)
from tests.fault_kit import count_points, first_results, inject  # noqa: E402

MODES = {
    "write": ("enospc", "eio", "sigterm", "sigkill"),
    "rename": ("enospc", "eio", "sigterm", "sigkill"),
    "tracking": ("refused", "sigterm", "sigkill"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=1, help="walk every N-th point")
    parser.add_argument("--stage", help="only the points of this stage")
    parser.add_argument("--modes", help="comma-separated failures (default: all that fit)")
    args = parser.parse_args()
    wanted = set(args.modes.split(",")) if args.modes else None
    folder = Path(tempfile.mkdtemp(prefix="fault-walk-"))
    base = first_results(_copy_project(folder / "base"))
    points, reference = count_points(base, folder)
    counts = collections.Counter((p.stage, p.kind) for p in points)
    print(
        f"{len(points)} failure points: "
        + ", ".join(f"{s} {k} {n}" for (s, k), n in counts.items())
    )
    chosen = [p for p in points[:: args.every] if args.stage in (None, p.stage)]
    seen, failed = collections.Counter(), []
    for point in chosen:
        for mode in MODES[point.kind]:
            if wanted and mode not in wanted:
                continue
            started = time.monotonic()
            try:
                outcome = inject(base, reference, point, mode, folder / "runs")
            except AssertionError as error:
                failed.append(f"{mode} at {point}")
                print(f"FAIL {mode:8} {point}: {str(error).splitlines()[0]}", flush=True)
                continue
            seen[(mode, outcome.split(";")[0][:60])] += 1
            print(f"ok   {mode:8} {point} ({time.monotonic() - started:.0f} s): {outcome[:90]}")
    print("\nhow the failures looked:")
    for (mode, outcome), n in sorted(seen.items()):
        print(f"  {n:4}  {mode:8} {outcome}")
    print(f"{sum(seen.values())} injected runs passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
