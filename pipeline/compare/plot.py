"""The comparison's picture: each variant's per-seed values, its mean and 95% interval."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from pipeline.plots import pyplot


def save_plot(summary: Mapping[str, Any], path: Path) -> None:
    """One panel per metric; a seed's runs are joined across variants, since they are paired."""
    plt = pyplot()
    variants = list(summary)
    metrics = list(summary[variants[0]])
    width = len(metrics) * max(3.2, 1.2 + 1.1 * len(variants))
    figure, axes = plt.subplots(1, len(metrics), figsize=(width, 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        seeds = sorted({s for v in variants for s in summary[v][metric]["seeds"]})
        for seed in seeds:  # thin grey lines: the same seed in every variant
            xs, ys = [], []
            for x, variant in enumerate(variants):
                entry = summary[variant][metric]
                if seed in entry["seeds"]:
                    xs.append(x)
                    ys.append(entry["values"][entry["seeds"].index(seed)])
            ax.plot(xs, ys, color="0.8", linewidth=0.8, zorder=1)
            ax.scatter(xs, ys, s=14, color="0.45", zorder=2)
        for x, variant in enumerate(variants):
            entry = summary[variant][metric]
            if math.isnan(entry["ci_low"]):
                continue
            below, above = entry["mean"] - entry["ci_low"], entry["ci_high"] - entry["mean"]
            ax.errorbar(
                x + 0.12,
                entry["mean"],
                yerr=[[below], [above]],
                fmt="o",
                color="C0",
                capsize=4,
                zorder=3,
            )
        ax.set_xticks(range(len(variants)), variants)
        ax.set_xlim(-0.5, len(variants) - 0.5)
        ax.set_title(metric)
    figure.suptitle(
        "grey: one run per seed, joined by seed; blue: mean and 95% interval", fontsize=9
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
