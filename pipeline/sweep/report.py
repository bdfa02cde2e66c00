"""The sweep's record: the MLflow parent run, the trials table and plots, and ``--apply-best``."""

from __future__ import annotations

import re
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

import optuna

from pipeline.errors import PipelineError
from pipeline.params.validate import read_yaml, validate
from pipeline.params.yaml_io import dump_yaml, load_yaml_text
from pipeline.plots import pyplot
from pipeline.sweep.metric_names import shown
from pipeline.sweep.space import MISSING, Space, get
from pipeline.sweep.workers import INTERRUPTED

COUNTED = ("COMPLETE", "PRUNED", "FAIL")  # trial states the parent run counts
CONFIRMED_ATTR = "sweep.confirmed_trial"  # study user attr: the trial --confirm-top chose
PARENT_ATTR = "mlflow.parent_run_id"  # study user attr: a resumed sweep fills the same parent
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")  # strings Hydra reads unquoted


def open_parent(tracker, study, space: Space, experiment: str, storage: str) -> str:
    """The study's parent run, reopened if it exists in this MLflow store, else created."""
    existing = study.user_attrs.get(PARENT_ATTR)
    if existing and tracker.run_exists(existing):
        tracker.set_status(existing, "RUNNING")
        return existing
    name = study.study_name
    sweep = {"study": name, "space": space.source, "report": shown(space.metric)}
    sweep["select"] = f"{space.select_direction} {shown(space.select)}"
    sweep |= {"sampler": space.sampler["type"], "pruner": space.pruner["type"], "storage": storage}
    sweep["monitor"] = space.monitor or "none"
    searched = {param.key: param.describe() for param in space.params}
    described = {"sweep": sweep, "space": searched, "fixed": dict(space.fixed)}
    tags = {"optuna.study": name, "pipeline.sweep": "parent"}
    run_id = tracker.create_run(experiment, described, run_name=f"sweep {name}", tags=tags)
    study.set_user_attr(PARENT_ATTR, run_id)
    return run_id


def trials_table(study, space: Space, best: Any | None = None):
    """One row per trial (``study.trials_dataframe()``) with retry notes and the best marked."""
    import pandas

    keys, test = [p.key for p in space.params], shown(space.metric)
    columns = ["number", "state", "value", test, *keys, "pruned_epoch", "folder", "seconds", "note"]
    if not (trials := study.get_trials(deepcopy=False)):
        return pandas.DataFrame(columns=columns)
    frame = study.trials_dataframe(("number", "state", "value", "duration", "params", "user_attrs"))
    retry_history = optuna.storages.RetryHeartbeatStaleTrialCallback.retry_history
    history = {t.number: retry_history(t) for t in trials}
    retried_as = {failed: number for number, chain in history.items() for failed in chain}
    notes = []
    for t in trials:
        note = [f"retry of #{history[t.number][-1]}"] if history[t.number] else []
        note += [f"stopped; retried as #{retried_as[t.number]}"] if t.number in retried_as else []
        note += ["diverged"] if t.user_attrs.get("sweep.diverged") else []
        note += ["best"] if best is not None and t.number == best.number else []
        notes.append("; ".join(note))
    # The objective's column is named by study.set_metric_names; user attrs lose their prefix.
    names = {f"params_{key}": key for key in keys} | {f"value_{space.select}": "value"}
    names |= {f"user_attrs_{test}": test}  # reported beside the value, never ranked
    frame = frame.rename(columns=names | {f"user_attrs_sweep.{c}": c for c in columns})
    # A pruned trial's stored value is its last report (the monitor), not the objective.
    frame["value"] = frame["value"].where(frame["state"] == "COMPLETE")
    frame["seconds"] = frame["duration"].dt.total_seconds().round(1)
    frame["note"] = notes
    # A param no trial was asked for (under a toggle never on) gets an empty column.
    return frame.reindex(columns=columns)


def save_plots(study, folder: Path) -> None:
    """Optimization history, intermediate values and param importances as PNGs."""
    plt = pyplot()  # the Agg backend, before Optuna's plots import matplotlib
    from optuna.visualization import matplotlib as plots

    for name in ("optimization_history", "intermediate_values", "param_importances"):
        with warnings.catch_warnings(action="ignore"):  # experimental; "importances will be equal"
            try:
                axes = getattr(plots, f"plot_{name}")(study)
            except (ValueError, RuntimeError, ZeroDivisionError):  # too few trials for this one
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.savefig(folder / f"{name}.png", dpi=100, bbox_inches="tight")
        plt.close(figure)


def finish(sweep, study, tracker, codes: list[int], complete: bool) -> int:
    """Print and store the report and close the parent run."""
    space, parent = sweep.space, sweep.parent_run_id
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial if done else None
    table = trials_table(study, space, best)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no INFO line inside the table
    sys.stderr.flush()
    counts = table["state"].value_counts().sort_index()
    title = ", ".join(f"{n} {state.lower()}" for state, n in counts.items())
    if best is not None:
        title += f" — best #{best.number} (on validation): {outcome(space, best)}"
    print(f"study {study.study_name}: {title}")
    if len(table):
        printed = table.drop(columns="folder").rename(columns={"value": shown(space.select)})
        print(printed.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.6g}"))
    outputs = sweep.folder / "report"
    outputs.mkdir(parents=True, exist_ok=True)
    table.to_csv(outputs / "trials.csv", index=False)
    save_plots(study, outputs)
    failed = [i for i, code in enumerate(codes) if code and code > 0 and code != INTERRUPTED]
    for index, code in [(i, code) for i, code in enumerate(codes) if code and code < 0]:
        _error(f"warning: worker {index} was killed (signal {-code}); its trial runs again.")
    metrics = {f"trials.{state.lower()}": float(counts.get(state, 0)) for state in COUNTED}
    tracker.set_tag(parent, "optuna.complete", str(complete).lower())
    if best is not None:
        metrics[f"best.{shown(space.select)}"] = best.value
        test = best.user_attrs.get(shown(space.metric))
        metrics |= {} if test is None else {f"best.{shown(space.metric)}": test}
        tracker.set_tag(parent, "optuna.best_trial", str(best.number))
    tracker.log_metrics(parent, metrics)
    tracker.log_artifact(parent, outputs, "study")
    interrupted = INTERRUPTED in codes
    tracker.set_status(parent, "KILLED" if interrupted else "FAILED" if failed else "FINISHED")
    if interrupted:
        return _error("sweep interrupted; run the same command again to continue the study.", 130)
    if failed:
        stopped = f"error: worker(s) {', '.join(map(str, failed))} stopped with an error"
        return _error(f"{stopped} (shown above); fix it and rerun to continue.")
    if not complete and sweep.deadline is None:
        return _error("error: the study is not complete; rerun the same command to continue it.")
    if best is not None:
        chosen = f"best trial #{best.number}, chosen on validation: {outcome(space, best)}"
        print(f"{chosen}; MLflow parent run {parent}")
        print("the same command with --apply-best (and no --n-trials) writes it into params.yaml.")
    return 0


def apply_and_print(study, space: Space, params_file: Path, registry) -> None:
    """Write the study's best complete trial (or the one ``--confirm-top`` chose by its mean over
    seeds) into ``params_file`` and print what changed, as the ``dvc exp run`` line composing the
    same params."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial if done else None
    how = "chosen on validation"
    confirmed = study.user_attrs.get(CONFIRMED_ATTR)
    if confirmed is not None:
        best = study.get_trials(deepcopy=False)[confirmed]
        how = "chosen by its mean validation value over seeds (--confirm-top)"
    overrides = apply_best(study, space, params_file, registry, best)
    print(f"best trial #{best.number}, {how}: {outcome(space, best)}")
    reproduce = "`dvc repro` reproduces it. The same with Hydra:"
    print(f"params.yaml now holds trial #{best.number}'s values; {reproduce}")
    print(dvc_command(overrides))


def outcome(space: Space, best: Any) -> str:
    """``val.acc = 0.97 (test.accuracy = 0.96)``: the value that ranked it, then its test score."""
    text = f"{shown(space.select)} = {best.value:.6g}"
    test = best.user_attrs.get(shown(space.metric))
    return text if test is None else f"{text} ({shown(space.metric)} = {test:.6g})"


def _error(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def apply_best(study, space: Space, params_file: Path, registry, best: Any | None) -> list[str]:
    """Write the ``best`` trial's (and the fixed) values into ``params_file``; return overrides."""
    if best is None:
        nothing = "has no complete trial yet, so there is no best trial to apply; run more trials"
        raise PipelineError(f"study {study.study_name!r} {nothing}.")
    before = read_yaml(params_file)
    after = space.apply(before, best.params)
    validate(after, registry)
    params_file.write_text(dump_yaml(after))
    return hydra_overrides(space, before, after)


def dvc_command(overrides: list[str]) -> str:
    """The ``dvc exp run`` line composing the same params through Hydra (conf/)."""
    return " ".join(["dvc", "exp", "run", *(f"-S {shlex.quote(o)}" for o in overrides)])


def hydra_overrides(space: Space, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Hydra overrides turning ``before`` into ``after`` at every key the space touches."""
    touched = list(dict.fromkeys(space.touched()))
    out: list[str] = []
    for key in touched:
        if not any(key.startswith(other + ".") for other in touched):  # else part of its parent
            _diff(key, get(before, key), get(after, key), out)
    return out


def _diff(path: str, before: Any, after: Any, out: list[str]) -> None:
    if after is MISSING:
        out += [f"~{path}"] if before is not MISSING else []
    elif isinstance(after, dict) and isinstance(before, dict) and (after or before):
        for key, value in after.items():
            _diff(f"{path}.{key}", before.get(key, MISSING), value, out)
        out.extend(f"~{path}.{key}" for key in before if key not in after)
    else:  # ++ adds a key the composed config lacks (Hydra refuses to assign a new key)
        out.append(f"{'' if before is not MISSING else '++'}{path}={hydra_value(after)}")


def hydra_value(value: Any) -> str:
    """``value`` in Hydra's override grammar."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    # A plain word that YAML reads as another type (true, null, 1e5) must stay a string.
    plain = _PLAIN.fullmatch(text) and text.lower() not in ("nan", "inf")
    if plain and isinstance(load_yaml_text(text), str):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
