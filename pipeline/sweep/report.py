"""The sweep's record: the MLflow parent run, the trials table and plots, and ``--apply-best``."""

from __future__ import annotations

import re
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError
from pipeline.sweep.objective import INTERRUPTED
from pipeline.sweep.space import MISSING, Space, get

COUNTED = ("COMPLETE", "PRUNED", "FAIL")  # trial states the parent run counts
PARENT_ATTR = "mlflow.parent_run_id"  # study user attr: a resumed sweep fills the same parent
WIDTH = 100  # columns the printed trials table keeps within
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")  # strings Hydra reads unquoted


def open_parent(tracker, study, space: Space, experiment: str, storage: str) -> str:
    """The study's parent run, reopened if it exists in this MLflow store, else created."""
    existing = study.user_attrs.get(PARENT_ATTR)
    if existing and tracker.run_exists(existing):
        tracker.set_status(existing, "RUNNING")
        return existing
    described = {
        "sweep": {
            "study": study.study_name,
            "space": space.source,
            "sampler": space.sampler,
            "objective": f"{space.direction} {space.metric}",
            "pruner": space.pruner,
            "monitor": space.monitor or "none",
            "storage": storage,
        },
        "space": {param.key: param.describe() for param in space.params},
        "fixed": dict(space.fixed),
    }
    run_id = tracker.create_run(
        experiment,
        described,
        run_name=f"sweep {study.study_name}",
        tags={"optuna.study": study.study_name, "pipeline.sweep": "parent"},
    )
    study.set_user_attr(PARENT_ATTR, run_id)
    winner = study.user_attrs.get(PARENT_ATTR)
    # Another machine set its parent a moment before: join that one. (Setting and reading are two
    # calls, so two machines starting the same new study at the same instant keep one each.)
    if winner != run_id:
        tracker.delete_run(run_id)
    return winner


def trials_table(study, space: Space, best: Any | None = None):
    """One row per trial (a pandas DataFrame from ``study.trials_dataframe``), with retry notes and
    ``best`` (the best trial, if given) marked."""
    import pandas
    from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

    columns = [
        "number",
        "state",
        "value",
        *(p.key for p in space.params),
        "pruned_epoch",
        "folder",
        "seconds",
        "note",
    ]
    trials = study.get_trials(deepcopy=False)
    if not trials:
        return pandas.DataFrame(columns=columns)
    frame = study.trials_dataframe(
        attrs=("number", "state", "value", "duration", "params", "user_attrs")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the retry helpers are marked experimental
        history = {t.number: Retry.retry_history(t) for t in trials}
    retried_as = {failed: number for number, chain in history.items() for failed in chain}
    notes = []
    for t in trials:
        note = [f"retry of #{history[t.number][-1]}"] if history[t.number] else []
        if t.number in retried_as:
            note.append(f"stopped; retried as #{retried_as[t.number]}")
        if t.user_attrs.get("sweep.diverged"):
            note.append("diverged")
        if best is not None and t.number == best.number:
            note.append("best")
        notes.append("; ".join(note))
    frame = frame.rename(
        columns={f"params_{p.key}": p.key for p in space.params}
        | {
            "user_attrs_sweep.pruned_epoch": "pruned_epoch",
            "user_attrs_sweep.folder": "folder",
            f"value_{space.metric}": "value",
        }
    )  # named so by study.set_metric_names
    # A pruned trial's stored value is its last report (the monitor), not the objective.
    frame["value"] = frame["value"].where(frame["state"] == "COMPLETE")
    frame["seconds"] = frame["duration"].dt.total_seconds().round(1)
    frame["note"] = notes
    for column in columns:
        if column not in frame:  # a param no trial was asked for (under a toggle never on)
            frame[column] = float("nan")
    return frame[columns]


def best_trial(study) -> Any | None:
    """The best COMPLETE trial, or None before any trial completed."""
    try:
        return study.best_trial
    except ValueError:
        return None


def print_summary(study, space: Space, table, best: Any | None) -> None:
    """Print the state counts, the best trial and the table."""
    counts = table["state"].value_counts().sort_index()
    title = f"study {study.study_name}: " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
    if best is not None:
        title += f" — best #{best.number}: {space.metric} = {best.value:.6g}"
    print(title)
    if len(table):
        shown = table.drop(columns="folder").rename(columns={"value": space.metric})
        searched = [p.key for p in space.params]
        for block in table_blocks(shown, searched):
            print(block)


def table_blocks(table, searched: list[str], width: int = WIDTH) -> list[str]:
    """``table`` as text no wider than ``width``: whole, or the outcome columns first, then the
    searched values in blocks that fit, each block led by the trial number."""

    def text(columns: list[str]) -> str:
        return table[columns].to_string(
            index=False, na_rep="", float_format=lambda v: f"{v:.6g}", line_width=None
        )

    def fits(columns: list[str]) -> bool:
        return max(map(len, text(columns).splitlines())) <= width

    if fits(list(table.columns)):
        return [text(list(table.columns))]
    blocks = [text([c for c in table.columns if c not in searched])]
    group: list[str] = []
    for key in searched:
        if group and not fits(["number", *group, key]):
            blocks.append(text(["number", *group]))
            group = []
        group.append(key)
    if group:
        blocks.append(text(["number", *group]))
    return blocks


def quiet_optuna() -> None:
    """Keep Optuna's per-trial INFO lines (on stderr) from landing inside the table."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sys.stderr.flush()


def save_plots(study, folder: Path) -> list[str]:
    """Optimization history, intermediate values and param importances as PNGs."""
    from pipeline.plots import pyplot

    plt = pyplot()  # the Agg backend, before Optuna's plots import matplotlib
    from optuna.visualization import matplotlib as plots

    written = []
    for name in ("optimization_history", "intermediate_values", "param_importances"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental; "importances will be equal"
            try:
                axes = getattr(plots, f"plot_{name}")(study)
            except (ValueError, RuntimeError, ZeroDivisionError):  # too few trials for this one
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        figure.savefig(folder / f"{name}.png", dpi=100)
        plt.close(figure)
        written.append(name)
    return written


def finish(sweep, study, tracker, codes: list[int], complete: bool, apply: bool, registry) -> int:
    """Print and store the report, close the parent run, apply the best trial if asked."""
    space = sweep.space
    best = best_trial(study)
    table = trials_table(study, space, best)
    quiet_optuna()
    print_summary(study, space, table, best)
    outputs = sweep.folder / "report"
    outputs.mkdir(parents=True, exist_ok=True)
    table.to_csv(outputs / "trials.csv", index=False)
    save_plots(study, outputs)
    failed = [
        i for i, code in enumerate(codes) if code is not None and code > 0 and code != INTERRUPTED
    ]
    for index, code in enumerate(codes):
        if code is not None and code < 0:
            print(
                f"warning: worker {index} was killed (signal {-code}); its trial was queued again.",
                file=sys.stderr,
            )
    counts = table["state"].value_counts()
    metrics = {f"trials.{state.lower()}": float(counts.get(state, 0)) for state in COUNTED}
    tracker.set_tag(sweep.parent_run_id, "optuna.complete", str(complete).lower())
    if best is not None:
        metrics[f"best.{space.metric}"] = best.value
        tracker.set_tag(sweep.parent_run_id, "optuna.best_trial", str(best.number))
    tracker.log_metrics(sweep.parent_run_id, metrics)
    tracker.log_artifact(sweep.parent_run_id, outputs, "study")
    tracker.set_status(
        sweep.parent_run_id,
        "KILLED" if INTERRUPTED in codes else "FAILED" if failed else "FINISHED",
    )
    if INTERRUPTED in codes:
        print(
            "sweep interrupted; run the same command again to continue the study.", file=sys.stderr
        )
        return INTERRUPTED
    if failed:
        print(
            f"error: worker(s) {', '.join(map(str, failed))} stopped with an error (shown "
            "above); fix it and rerun to continue.",
            file=sys.stderr,
        )
        return 1
    if not complete and sweep.deadline is None:
        print(
            "error: the study is not complete; rerun the same command to continue it.",
            file=sys.stderr,
        )
        return 1
    if best is not None:
        print(
            f"best trial #{best.number}: {space.metric} = {best.value:.6g}; MLflow parent run "
            f"{sweep.parent_run_id}"
        )
    if apply:
        overrides = apply_best(study, space, sweep.root / "params.yaml", registry, best)
        print(
            f"params.yaml now holds trial #{best.number}'s values; `dvc repro` reproduces it. "
            "The same with Hydra:"
        )
        print(dvc_command(overrides))
    return 0


def apply_best(study, space: Space, params_file: Path, registry, best: Any | None) -> list[str]:
    """Write the ``best`` trial's (and the fixed) values into ``params_file``; return -S
    overrides."""
    from pipeline.params.validate import read_yaml, validate
    from pipeline.params.yaml_io import dump_yaml

    if best is None:
        raise PipelineError(
            f"study {study.study_name!r} has no complete trial yet, so there is "
            "no best trial to apply; run more trials."
        )
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
        if before is not MISSING:
            out.append(f"~{path}")
    elif isinstance(after, dict) and isinstance(before, dict) and (after or before):
        for key, value in after.items():
            _diff(f"{path}.{key}", before.get(key, MISSING), value, out)
        out.extend(f"~{path}.{key}" for key in before if key not in after)
    else:  # ++ adds a key the composed config lacks (Hydra refuses to assign a new key)
        out.append(f"{'' if before is not MISSING else '++'}{path}={hydra_value(after)}")


def hydra_value(value: Any) -> str:
    """``value`` in Hydra's override grammar."""
    from pipeline.params.yaml_io import load_yaml_text

    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    # A plain word that YAML reads as another type (true, null, 1e5) must stay a string.
    if (
        _PLAIN.fullmatch(text)
        and isinstance(load_yaml_text(text), str)
        and text.lower() not in ("nan", "inf")
    ):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
