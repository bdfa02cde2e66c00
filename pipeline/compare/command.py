"""``pipeline compare SPEC``: check the spec, prepare the data, run every (variant, seed) pair
through the stages with the sweep's workers and storage, then report with intervals and tests."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import optuna

from pipeline.compare import queue, record
from pipeline.compare.check import check_metrics, check_setup, check_variants
from pipeline.compare.recipes import with_recipes
from pipeline.compare.runs import Comparison, prepared_folder
from pipeline.compare.spec import Spec, load_spec
from pipeline.errors import PipelineError
from pipeline.params.validate import read_yaml
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.sweep.command import open_storage, prepare_once, shown
from pipeline.sweep.objective import quiet
from pipeline.sweep.workers import INTERRUPTED, Workers
from pipeline.tracking import runs as tracking


@dataclass(frozen=True)
class Request:
    """The command line of one ``pipeline compare``."""

    spec: str
    workers: int = 1
    storage: str | None = None


def run_compare(request: Request, root: Path) -> int:
    """Run (or resume) the comparison; every check that can fail comes before the first run."""
    if request.workers < 1:
        raise PipelineError("--workers must be a positive integer.")
    return run_spec(with_recipes(load_spec(request.spec, root), root), request, root)


def run_spec(spec: Spec, request: Request, root: Path) -> int:
    """Run (or resume) the comparison ``spec`` (read from ``request.spec``, or built by a sweep's
    ``--confirm-top``)."""
    quiet()
    workers = Workers(request.workers)  # they import a run's libraries while the checks run
    try:
        registry, params = Registry(create_plugin_manager()), read_yaml(root / "params.yaml")
        variants = check_variants(spec, params, registry)
        folder = root / "comparisons" / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        default = (root / "comparisons").resolve() / "comparisons.db"
        url = request.storage or f"sqlite:///{default}"
        storage = open_storage(url, *queue.HEARTBEAT)
        tracking.check_reachable(tracking.tracking_uri(root))
        prepared = prepare_all(spec, params, variants[spec.reference], registry, folder)
        metrics = check_metrics(spec, variants, registry, prepared, root)
        study = optuna.create_study(
            storage=storage, study_name=f"compare-{spec.name}", load_if_exists=True
        )
        check_setup(study, spec, params)
        tracker = tracking.Tracker(root)
        experiment = variants[spec.reference]["tracking"]["experiment"]
        parent = record.open_parent(tracker, study, spec, experiment, metrics)
        queued = queue.enqueue_missing(study, spec)
    except BaseException:
        workers.stop()
        raise
    total = len(spec.names) * len(spec.seeds)
    count = f"{len(spec.names)} variant{'s' if len(spec.names) > 1 else ''}"
    what = f"{count} × {len(spec.seeds)} seeds, seeds vary "
    what += ", ".join(sorted(spec.vary))
    print(f"compare {spec.name}: {what}; {queued} of {total} runs to go", file=sys.stderr)
    print(f"storage {shown(url)}, MLflow parent run {parent}", file=sys.stderr)
    shared = Comparison(root, folder, spec, params, url, study.study_name, parent, request.workers)
    try:
        codes = workers.run(queue.run_worker, shared)
    except BaseException:
        tracker.set_status(parent, "FAILED")
        raise
    return finish(shared, study, tracker, codes, metrics)


def prepare_all(
    spec: Spec, params: Mapping[str, Any], reference: Mapping[str, Any], registry, folder: Path
) -> Path:
    """Prepare the one shared split, or each seed's own; return the first one's folder."""
    done = []
    for seed in dict.fromkeys(spec.split_seed(params, s) for s in spec.seeds):
        where = prepared_folder(folder, spec, params, seed)
        done.append(prepare_once(where, {**reference, "seed": seed}, registry))
    return done[0]


def finish(comparison: Comparison, study, tracker, codes: list[int], metrics: list[str]) -> int:
    """Report when every pair finished; otherwise say how to continue."""
    spec, parent = comparison.spec, comparison.parent_run_id
    done = queue.finished(study)
    if INTERRUPTED in codes or any(code for code in codes):
        tracker.set_status(parent, "KILLED" if INTERRUPTED in codes else "FAILED")
        left = sum(pair not in done for pair in queue.pairs(spec))
        again = "run the same command again to continue"
        print(f"comparison stopped with {left} run(s) left; {again}.", file=sys.stderr)
        return INTERRUPTED if INTERRUPTED in codes else 1
    values: dict[str, dict[int, dict[str, float]]] = {}
    for (variant, seed), trial in done.items():
        if variant not in spec.names or seed not in spec.seeds:  # dropped from the spec since
            continue
        measured = {m: trial.user_attrs[m] for m in metrics if m in trial.user_attrs}
        values.setdefault(variant, {})[seed] = measured
    summary, lines = record.write_report(comparison.folder, spec, metrics, values)
    test = "paired t-test, Holm-corrected"
    print(f"comparison {spec.name}: reference {spec.reference}, {test}, 95% intervals")
    print("\n".join(lines))
    record.log_report(tracker, parent, comparison.folder, summary)
    tracker.set_status(parent, "FINISHED")
    where = comparison.folder.relative_to(comparison.root)
    print(f"summary: {where}/summary.json, plot: {where}/values.png")
    print(f"MLflow parent run {parent}")
    return 0
