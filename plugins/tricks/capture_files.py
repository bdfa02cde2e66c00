"""Writes what the ``capture`` trick recorded at one epoch: a folder of statistics, arrays and
pictures, a table over every recorded epoch, and the same to the run's loggers.

Layout under the capture folder::

    stats.csv                 every recorded epoch's rows: epoch, output, shape, mean, std
    epoch_004/stats.csv       that epoch's rows
    epoch_004/arrays.npz      per output: histogram counts and edges, the map's array
    epoch_004/histograms.png  one panel per output
    epoch_004/maps/<output>.png

Each logger of the Trainer gets the statistics as metrics ``capture/<output>/<stat>`` at step
``epoch``, through Lightning's ``Logger.log_metrics``; an MLflow logger also gets the files as
artifacts under ``capture/`` of its run (``logger.experiment`` and ``logger.run_id``). A failing
store costs a warning, not the training.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Mapping

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_warn

from pipeline import pyplot

STATS = ("mean", "std")
MAP_ROWS = 64  # examples shown in the map of a (batch, features) output
MAP_PANELS = 8  # heads or channels shown in the map of a (batch, c, h, w) output


def slug(output: str) -> str:
    """A file and metric name for an output: ``cells.0[2]`` → ``cells.0_2``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", output.replace("]", ""))


def folder_of(trainer: pl.Trainer, settings: Mapping[str, Any]) -> Path:
    """The ``folder`` setting, else ``capture/`` in the run's ``plots/`` (the module's
    ``plots_dir``, a DVC output, when the train stage runs it), else in the Trainer's
    ``default_root_dir``."""
    if settings["folder"]:
        return Path(settings["folder"])
    plots = getattr(trainer.lightning_module, "plots_dir", None)
    return Path(plots if plots is not None else trainer.default_root_dir) / "capture"


def statistics(values: torch.Tensor, wanted: list[str]) -> dict[str, float]:
    """The wanted statistics of every element of ``values``."""
    computed = {"mean": values.mean(), "std": values.std(correction=0)}
    return {name: float(computed[name]) for name in STATS if name in wanted}


def histogram(values: torch.Tensor, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges of the finite elements of ``values`` over their range."""
    flat = values.flatten().double().numpy()
    flat = flat[np.isfinite(flat)]
    low, high = (float(flat.min()), float(flat.max())) if flat.size else (0.0, 0.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.histogram(flat, bins=bins, range=(low, high))


def map_of(values: torch.Tensor) -> np.ndarray | None:
    """The output as a picture, taking the first axis as the batch: a (batch, features) output's
    first examples, a (batch, h, w) one's first example, a (batch, c, h, w) one's first example's
    first channels (heads); None for other shapes."""
    if values.dim() == 2:
        return values[:MAP_ROWS].numpy()
    if values.dim() == 3:
        return values[0].numpy()
    if values.dim() == 4:
        return values[0, :MAP_PANELS].numpy()
    return None


def write_capture(
    trainer: pl.Trainer,
    settings: Mapping[str, Any],
    epoch: int,
    outputs: Mapping[str, torch.Tensor],
) -> Path:
    """Write epoch ``epoch``'s recording (a folder, the table over epochs) and log it; return the
    epoch's folder."""
    wanted, root = settings["what"], folder_of(trainer, settings)
    folder = root / f"epoch_{epoch:03d}"
    (folder / "maps").mkdir(parents=True, exist_ok=True)
    rows, arrays, histograms = [], {}, {}
    for output, values in outputs.items():
        stats = statistics(values, wanted)
        rows.append({"epoch": epoch, "output": output, "shape": shape_of(values), **stats})
        if "histogram" in wanted:
            counts, edges = histogram(values, settings["bins"])
            histograms[output] = (counts, edges)
            arrays[f"{slug(output)}.counts"], arrays[f"{slug(output)}.edges"] = counts, edges
        if "map" in wanted and (picture := map_of(values)) is not None:
            arrays[f"{slug(output)}.map"] = picture
            save_map(picture, folder / "maps" / f"{slug(output)}.png", output, values.shape)
    write_rows(folder / "stats.csv", rows)
    np.savez_compressed(folder / "arrays.npz", **arrays)
    if histograms:
        save_histogram_grid(histograms, folder / "histograms.png", epoch)
    write_rows(root / "stats.csv", every_row(root))
    log(trainer, folder, root / "stats.csv", rows, epoch)
    return folder


def shape_of(values: torch.Tensor) -> str:
    return "x".join(str(n) for n in values.shape) or "scalar"


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """A CSV of ``rows`` with the columns epoch, output, shape and the statistics present."""
    columns = ["epoch", "output", "shape", *[s for s in STATS if any(s in r for r in rows)]]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def every_row(root: Path) -> list[dict[str, Any]]:
    """The rows of every epoch folder's table, in epoch order (a resumed run rewrites an epoch)."""
    rows = []
    for path in sorted(root.glob("epoch_*/stats.csv")):
        with path.open() as handle:
            rows += list(csv.DictReader(handle))
    return rows


def save_map(picture: np.ndarray, path: Path, output: str, shape: torch.Size) -> None:
    """A heat map of a 2-D ``picture``, or one panel per leading index of a 3-D one."""
    plt = pyplot()
    panels = picture if picture.ndim == 3 else picture[None]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3), squeeze=False)
    for index, (ax, panel) in enumerate(zip(axes[0], panels, strict=True)):
        shown = ax.imshow(panel, aspect="auto", cmap="viridis", interpolation="nearest")
        fig.colorbar(shown, ax=ax, fraction=0.046)
        if len(panels) > 1:
            ax.set_title(f"[0, {index}]", fontsize=8)
    fig.suptitle(f"{output} {tuple(shape)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_histogram_grid(
    histograms: Mapping[str, tuple[np.ndarray, np.ndarray]], path: Path, epoch: int
) -> None:
    """One bar chart per output, four to a row."""
    plt = pyplot()
    columns = min(4, len(histograms))
    rows = -(-len(histograms) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(histograms) :]:
        ax.axis("off")
    for ax, (output, (counts, edges)) in zip(axes.flat, histograms.items(), strict=False):
        ax.stairs(counts, edges, fill=True)
        ax.set_title(output, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"outputs after epoch {epoch}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def log(
    trainer: pl.Trainer, folder: Path, table: Path, rows: list[dict[str, Any]], epoch: int
) -> None:
    """Hand the statistics to every logger and the files to an MLflow logger's run."""
    metrics = {
        f"capture/{slug(row['output'])}/{stat}": row[stat]
        for row in rows
        for stat in STATS
        if stat in row
    }
    for logger in trainer.loggers:
        try:
            if metrics:
                logger.log_metrics(metrics, step=epoch)
            if isinstance(logger, MLFlowLogger):
                client, run_id = logger.experiment, logger.run_id
                client.log_artifacts(run_id, str(folder), f"capture/{folder.name}")
                client.log_artifact(run_id, str(table), "capture")
        except Exception as error:  # a store gone away must not end the training
            rank_zero_warn(f"tricks.capture could not log to {type(logger).__name__}: {error}")
