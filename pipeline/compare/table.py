"""The comparison as a terminal table (at most 100 columns) and its verdicts."""

from __future__ import annotations

import math
import textwrap
from typing import Any, Mapping

from pipeline.compare.summary import number, points

WIDTH = 100


def _cell(value: float, metric: str, signed: bool) -> str:
    if math.isnan(value):
        return "n/a"
    if points(metric) and not signed:
        return f"{value:.4f}"
    return number(value, metric) if signed else f"{value:.4g}"


def table(summary: Mapping[str, Any], reference: str) -> list[str]:
    """One block per metric: each variant's mean ± std and interval, then its difference from
    the reference with interval and Holm-adjusted p; the verdicts below."""
    variants = list(summary)
    metrics = list(summary[reference])
    name_width = min(max(len("variant"), *(len(v) for v in variants)), 16)
    head = f"{'variant':<{name_width}} {'n':>2}  {'mean':>9} {'std':>8}  {'95% interval':<17}"
    if len(variants) > 1:  # one variant alone has no difference to show
        head += f"  {'Δ vs ' + reference[:10]:>11} {'95% interval of Δ':<17} {'p Holm':>7}"
    lines = []
    for metric in metrics:
        unit = " (Δ in points)" if points(metric) else ""
        lines += ["", f"{metric}{unit}", head[:WIDTH]]
        for variant in variants:
            entry = summary[variant][metric]
            interval = f"[{_cell(entry['ci_low'], metric, False)}, "
            interval += f"{_cell(entry['ci_high'], metric, False)}]"
            row = f"{variant[:name_width]:<{name_width}} {entry['n']:>2}  "
            row += (
                f"{_cell(entry['mean'], metric, False):>9} {_cell(entry['std'], metric, False):>8}"
            )
            row += f"  {interval:<17}"
            against = entry.get("vs_reference")
            if against is not None:
                delta = (
                    f"[{number(against['ci_low'], metric)}, {number(against['ci_high'], metric)}]"
                )
                p = against["p_adjusted"]
                p_text = "n/a" if math.isnan(p) else f"{p:.3g}"
                row += f"  {number(against['diff'], metric):>11} {delta:<17} {p_text:>7}"
            lines.append(row[:WIDTH].rstrip())
    verdicts = [
        summary[v][m]["vs_reference"]["verdict"]
        for v in variants[1:]
        for m in metrics
        if "vs_reference" in summary[v][m]
    ]
    verdicts += [
        against["verdict"]
        for v in variants
        for m in metrics
        for against in summary[v][m].get("vs_baselines", {}).values()
    ]
    wrapped = [line for v in verdicts for line in textwrap.wrap(v, WIDTH, subsequent_indent="  ")]
    return lines + [""] + wrapped
