"""The speed targets, printed side by side with what a run measured, and written as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

# name: (target, "<=" or ">="); times in seconds, ratios of time per step (or per sample)
TARGETS = {
    "cold dvc repro, s": (12.0, "<="),
    "pipeline run evaluate, s": (4.0, "<="),
    "pipeline / plain Lightning per step": (1.0, "<="),
    "pipeline / hand loop per step": (2.5, "<="),
    "compute-bound: pipeline / hand loop per step": (1.05, "<="),
    "compute-bound: per-epoch costs / epoch training": (0.05, "<="),
}


def verdict(name: str, value: float) -> str:
    """``met`` or ``MISSED`` against the target of ``name`` (empty when it has none)."""
    if name not in TARGETS:
        return ""
    target, sense = TARGETS[name]
    met = value <= target if sense == "<=" else value >= target
    return "met" if met else "MISSED"


def report(figures: dict[str, float], json_path: Path | None) -> None:
    """Print each figure with its target; write them all (and the load average) to ``json_path``."""
    print(f"\n{'figure':<66} {'measured':>9} {'target':>9}")
    for name, value in figures.items():
        target = f"{TARGETS[name][1]} {TARGETS[name][0]:g}" if name in TARGETS else ""
        print(f"{name:<66} {value:>9.3f} {target:>9} {verdict(name, value)}")
    if json_path is not None:
        record = {
            "load": os.getloadavg(),
            "cpus": os.cpu_count(),
            "figures": figures,
            "targets": {k: {"value": v[0], "sense": v[1]} for k, v in TARGETS.items()},
        }
        json_path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"written to {json_path}")
