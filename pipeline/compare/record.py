"""The comparison's record: the MLflow parent run, ``summary.json``, the plot and the table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from pipeline.compare.plot import save_plot
from pipeline.compare.spec import Spec
from pipeline.compare.stats import LEVEL
from pipeline.compare.summary import summarize
from pipeline.compare.table import table
from pipeline.sweep.metric_names import shown

PARENT_ATTR = "mlflow.parent_run_id"  # study user attr: a rerun fills the same parent run
TEST = "paired t-test (two-sided), Holm-corrected across variants and metrics"


def open_parent(tracker, study, spec: Spec, experiment: str, metrics: list[str]) -> str:
    """The comparison's parent run, reopened if it exists in this MLflow store, else created."""
    existing = study.user_attrs.get(PARENT_ATTR)
    if existing and tracker.run_exists(existing):
        tracker.set_status(existing, "RUNNING")
        return existing
    described = {
        "compare": {"spec": spec.source, "reference": spec.reference, "vary": sorted(spec.vary)},
        "seeds": list(spec.seeds),
        "metrics": metrics,
        "base": dict(spec.base),
        "variants": {name: dict(overrides) or "{}" for name, overrides in spec.variants},
    }
    tags = {"pipeline.compare": "parent", "compare.name": spec.name}
    run_id = tracker.create_run(experiment, described, run_name=f"compare {spec.name}", tags=tags)
    study.set_user_attr(PARENT_ATTR, run_id)
    return run_id


def plain(value: Any) -> Any:
    """``value`` with NaN as None, so summary.json is valid JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def write_report(
    folder: Path, spec: Spec, metrics: list[str], values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Write ``summary.json`` and ``values.png`` into ``folder``; return the summary and table."""
    baselines = [(shown(metric), shown(baseline)) for metric, baseline in spec.baselines]
    variants = summarize(values, spec.names, metrics, baselines)
    summary = {"name": spec.name, "reference": spec.reference, "seeds": list(spec.seeds)}
    summary |= {"vary": sorted(spec.vary), "level": LEVEL, "test": TEST, "variants": variants}
    (folder / "summary.json").write_text(json.dumps(plain(summary), indent=2) + "\n")
    save_plot(variants, folder / "values.png")
    return summary, table(variants, spec.reference)


def log_report(tracker, parent: str, folder: Path, summary: Mapping[str, Any]) -> None:
    """The summary's numbers as the parent's metrics; summary.json and the plot as artifacts."""
    numbers = {}
    for variant, metrics in summary["variants"].items():
        for metric, entry in metrics.items():
            numbers[f"{variant}.{metric}.mean"] = entry["mean"]
            against = entry.get("vs_reference") or {}
            for key in ("diff", "p_adjusted"):
                if key in against:
                    numbers[f"{variant}.{metric}.{key}"] = against[key]
            for baseline, versus in entry.get("vs_baselines", {}).items():
                numbers[f"{variant}.{metric}.minus.{baseline}"] = versus["diff"]
    tracker.log_metrics(parent, {k: v for k, v in numbers.items() if not math.isnan(v)})
    for name in ("summary.json", "values.png"):
        tracker.log_artifact(parent, folder / name, "comparison")
