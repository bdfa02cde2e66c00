"""Run every ``benchmarks/bench_*.py`` in turn, each in its own process so no run inherits another's
threads or imports."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the scripts (all of them, or those named on the command line); return 1 if any failed."""
    wanted = set(sys.argv[1:])
    scripts = [
        p
        for p in sorted(HERE.glob("bench_*.py"))
        if not wanted or p.stem in wanted or p.name in wanted
    ]
    failed = []
    for script in scripts:
        print(f"\n===== {script.name}", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        print(
            f"===== {script.name}: exit {code} after {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        if code:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
