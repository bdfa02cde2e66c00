"""The comparison's summary: per variant and metric its spread over seeds, and for every variant
but the reference its paired difference from the reference, tested and Holm-corrected.

Every (variant, metric) difference is one test in one family: Holm's correction runs across all of
them, so "some variant differs on some metric" is claimed falsely at most 5% of the time.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from pipeline.compare.stats import LEVEL, holm, paired, spread

FRACTIONS = ("accuracy", "acc", "f1")  # metrics in [0, 1], whose differences read as points


def summarize(
    values: Mapping[str, Mapping[int, Mapping[str, float]]],
    variants: Sequence[str],
    metrics: Sequence[str],
) -> dict[str, Any]:
    """``values[variant][seed][metric]`` → the summary (``summary.json``'s ``variants``)."""
    reference, out = variants[0], {}
    tests: list[tuple[str, str]] = []
    for variant in variants:
        out[variant] = {}
        for metric in metrics:
            seeds = sorted(s for s in values.get(variant, {}) if metric in values[variant][s])
            own = [float(values[variant][s][metric]) for s in seeds]
            entry = {**vars(spread(own)), "seeds": seeds, "values": own}
            if variant != reference:
                entry["vs_reference"] = _versus(values, reference, variant, metric)
                tests.append((variant, metric))
            out[variant][metric] = entry
    adjusted = holm([out[v][m]["vs_reference"]["p_value"] for v, m in tests])
    for (variant, metric), p in zip(tests, adjusted, strict=True):
        against = out[variant][metric]["vs_reference"]
        against["p_adjusted"] = p
        against["verdict"] = verdict(variant, metric, against, len(tests))
    return out


def _versus(values, reference: str, variant: str, metric: str) -> dict[str, Any]:
    """The paired difference on the seeds both variants finished."""
    ours, theirs = values.get(variant, {}), values.get(reference, {})
    seeds = sorted(s for s in ours if s in theirs and metric in ours[s] and metric in theirs[s])
    difference = paired([ours[s][metric] for s in seeds], [theirs[s][metric] for s in seeds])
    return {**vars(difference), "seeds": seeds}


def points(metric: str) -> bool:
    """Whether differences of ``metric`` (a fraction) are shown in percentage points."""
    return metric.rpartition(".")[2] in FRACTIONS


def number(value: float, metric: str, signed: bool = True) -> str:
    """``value`` as the verdicts show it: points for fractions, four figures otherwise."""
    if math.isnan(value):
        return "n/a"
    scaled = 100 * value if points(metric) else value
    text = f"{scaled:+.2f}" if points(metric) else f"{scaled:+.4g}"
    return (text if signed else text.lstrip("+")).replace("-", "−")


def verdict(variant: str, metric: str, against: Mapping[str, Any], tests: int) -> str:
    """One sentence: the difference with its interval and seed count, or that none is detectable."""
    n, unit = against["n"], " points" if points(metric) else ""
    low, high = number(against["ci_low"], metric), number(against["ci_high"], metric)
    p = against["p_adjusted"]
    corrected = f"Holm over {tests} tests" if tests > 1 else "one test"
    if not math.isnan(p) and p < 1 - LEVEL:
        side = "higher" if against["diff"] > 0 else "lower"
        count = against["higher"] if side == "higher" else against["lower"]
        diff = number(against["diff"], metric)
        seeds = f"{side} on {count} of {n} seeds (p = {p:.3g}, {corrected})"
        return f"`{variant}`: {metric} {diff}{unit} [{low}, {high}], {seeds}"
    interval = f"interval {low} … {high}{unit}"
    return (
        f"`{variant}`: no {metric} difference detectable at n = {n} "
        f"({interval}; p = {p:.3g}, {corrected})"
    )
