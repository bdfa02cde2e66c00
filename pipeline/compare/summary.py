"""The comparison's summary: per variant and metric its spread over seeds, for every variant but
the reference its paired difference from the reference, and for a metric with baselines (another
metric of the same run, such as a trivial parser's score) its paired difference from each; all
tested and Holm-corrected.

Every difference is one test in one family: Holm's correction runs across all of them, so "some
variant differs on some metric" is claimed falsely at most 5% of the time.
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
    baselines: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """``values[variant][seed][metric]`` → the summary (``summary.json``'s ``variants``);
    ``baselines`` pairs a metric with another metric of the same runs it is compared with."""
    reference, out = variants[0], {}
    tests: list[tuple[str, str, dict[str, Any]]] = []  # (verdict subject, metric, difference)
    # A baseline is its run's own yardstick: compared with its metric, not across variants.
    yardsticks = {b for _, b in baselines} - {m for m, _ in baselines}
    for variant in variants:
        out[variant] = {}
        for metric in metrics:
            seeds = sorted(s for s in values.get(variant, {}) if metric in values[variant][s])
            own = [float(values[variant][s][metric]) for s in seeds]
            out[variant][metric] = {**vars(spread(own)), "seeds": seeds, "values": own}
        for metric in metrics:
            entry = out[variant][metric]
            if variant != reference and metric not in yardsticks:
                entry["vs_reference"] = _versus(values, (reference, metric), (variant, metric))
                tests.append((f"`{variant}`", metric, entry["vs_reference"]))
            for named, baseline in baselines:
                if named == metric:
                    against = _versus(values, (variant, baseline), (variant, metric))
                    entry.setdefault("vs_baselines", {})[baseline] = against
                    tests.append((f"`{variant}` against {baseline}", metric, against))
    adjusted = holm([against["p_value"] for _, _, against in tests])
    for (subject, metric, against), p in zip(tests, adjusted, strict=True):
        against["p_adjusted"] = p
        against["verdict"] = verdict(subject, metric, against, len(tests))
    return out


def _versus(values, theirs: tuple[str, str], ours: tuple[str, str]) -> dict[str, Any]:
    """The paired difference ``ours`` − ``theirs`` (each a variant and a metric) on the seeds
    both finished."""
    (variant, metric), (base_variant, base_metric) = ours, theirs
    mine, other = values.get(variant, {}), values.get(base_variant, {})
    seeds = sorted(s for s in mine if s in other and metric in mine[s] and base_metric in other[s])
    difference = paired([mine[s][metric] for s in seeds], [other[s][base_metric] for s in seeds])
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


def verdict(subject: str, metric: str, against: Mapping[str, Any], tests: int) -> str:
    """One sentence on ``subject`` (a variant, or a variant against a baseline): the difference
    with its interval and seed count, or that none is detectable."""
    n, unit = against["n"], " points" if points(metric) else ""
    low, high = number(against["ci_low"], metric), number(against["ci_high"], metric)
    p = against["p_adjusted"]
    corrected = f"Holm over {tests} tests" if tests > 1 else "one test"
    if not math.isnan(p) and p < 1 - LEVEL:
        side = "higher" if against["diff"] > 0 else "lower"
        count = against["higher"] if side == "higher" else against["lower"]
        diff = number(against["diff"], metric)
        seeds = f"{side} on {count} of {n} seeds (p = {p:.3g}, {corrected})"
        return f"{subject}: {metric} {diff}{unit} [{low}, {high}], {seeds}"
    interval = f"interval {low} … {high}{unit}"
    return (
        f"{subject}: no {metric} difference detectable at n = {n} "
        f"({interval}; p = {p:.3g}, {corrected})"
    )
