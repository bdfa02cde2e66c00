"""The end of a sweep: a table of every trial, the study's plots, and the numbers the parent run keeps."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

from pipeline.sweep.job import FOLDER_ATTR


def retried_as(trials) -> dict[int, int]:
    """Failed trial number → the number of the trial that ran its params again."""
    return {t.system_attrs["failed_trial"]: t.number for t in trials if "failed_trial" in t.system_attrs}


def rows(study, space) -> list[dict[str, Any]]:
    """One plain row per trial: number, state, value, the searched labels, pruned epoch, seconds, note."""
    trials = study.get_trials(deepcopy=False)
    retries = {}
    for t in trials:  # the latest retry of each failed trial
        for failed in t.system_attrs.get("retry_history", []):
            retries[failed] = t.number
    table = []
    for t in trials:
        note = []
        if "failed_trial" in t.system_attrs:
            note.append(f"retry of #{t.system_attrs['retry_history'][-1]}")
        if t.number in retries:
            note.append(f"stopped; retried as #{retries[t.number]}")
        if t.user_attrs.get("sweep.diverged"):
            note.append("diverged")
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        # Optuna stores a pruned trial's last intermediate value (the monitor), not the objective
        value = t.value if t.state.name == "COMPLETE" else None
        table.append({"number": t.number, "state": t.state.name, "value": value,
                      **{p.key: t.params.get(p.key, "") for p in space.params},
                      "pruned_epoch": t.user_attrs.get("sweep.pruned_epoch", ""), "folder": t.user_attrs.get(FOLDER_ATTR, ""),
                      "seconds": round(seconds, 1) if seconds is not None else "", "note": "; ".join(note)})
    return table


def best_trial(study) -> Any | None:
    """The best COMPLETE trial, or None before any trial completed."""
    try:
        return study.best_trial
    except ValueError:
        return None


def print_summary(study, space, table: list[dict[str, Any]]) -> None:
    """Print the trials as a rich table, the best one highlighted."""
    from rich.console import Console
    from rich.table import Table

    best = best_trial(study)
    counts = {}
    for row in table:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    title = f"study {study.study_name}: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
    if best is not None:
        title += f" — best #{best.number}: {space.metric} = {best.value:.6g}"
    grid = Table(title=title, title_justify="left")
    for column in ("#", "state", space.metric, *(p.key for p in space.params), "pruned at epoch", "s", "note"):
        grid.add_column(column, overflow="fold")
    for row in table:
        cells = [row["number"], row["state"], "" if row["value"] is None else f"{row['value']:.6g}",
                 *(_label(row[p.key]) for p in space.params), row["pruned_epoch"], row["seconds"], row["note"]]
        style = "bold green" if best is not None and row["number"] == best.number else None
        grid.add_row(*(str(c) for c in cells), style=style)
    Console(width=max(120, 20 + 16 * len(space.params))).print(grid)


def write_outputs(study, space, table: list[dict[str, Any]], folder: Path) -> Path:
    """Write ``trials.csv`` and the study's plots into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "trials.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]) if table else ["number"])
        writer.writeheader()
        writer.writerows(table)
    save_plots(study, folder)
    return folder


def save_plots(study, folder: Path) -> list[str]:
    """Optimization history, intermediate values and param importances as PNGs (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as plots

    written = []
    drawings = {"optimization_history": plots.plot_optimization_history, "intermediate_values": plots.plot_intermediate_values,
                "param_importances": plots.plot_param_importances}
    for name, draw in drawings.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", UserWarning)  # e.g. "importances will be equal" on a tiny study
            try:
                axes = draw(study)
            except (ValueError, RuntimeError, ZeroDivisionError):  # too few finished trials to draw this one
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        figure.savefig(folder / f"{name}.png", dpi=100)
        plt.close(figure)
        written.append(name)
    return written


def _label(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
