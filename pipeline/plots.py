"""Pictures and plot data families write in the evaluate stage (matplotlib without a display)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, imported when a picture is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, out_dir: Path, num_classes: int
) -> np.ndarray:
    """Write ``confusion.csv`` (for ``dvc plots``) and ``confusion_matrix.png``; return the
    matrix (rows actual, columns predicted)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    cells = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    matrix = cells.reshape(num_classes, num_classes)
    with (out_dir / "confusion.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(y_true.tolist(), y_pred.tolist(), strict=True))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    shown = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(shown, ax=ax)
    dark = matrix > matrix.max() / 2  # white counts on dark cells
    for (row, column), count in np.ndenumerate(matrix):
        color = "white" if dark[row, column] else "black"
        ax.text(column, row, str(count), ha="center", va="center", color=color, fontsize=8)
    ticks = np.arange(num_classes)
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="actual")
    ax.set_title("Confusion matrix (test split)")
    fig.tight_layout()
    fig.savefig(out_dir / "confusion_matrix.png", dpi=100)
    plt.close(fig)
    return matrix


def save_image_grid(images: np.ndarray, path: Path, columns: int = 10, title: str = "") -> None:
    """Write a grid of square grayscale images (rows of flat pixel vectors or 2-D arrays) as a
    PNG."""
    images = np.asarray(images)
    side = int(round(np.sqrt(images[0].size)))
    images = images.reshape(len(images), side, side)
    rows = int(np.ceil(len(images) / columns))
    # One tiled image instead of an axes per picture: matplotlib spends ~50 ms on each axes.
    cell = side + 2
    mosaic = np.zeros((rows * cell, columns * cell), dtype=np.float32)
    for index, image in enumerate(images):
        row, col = divmod(index, columns)
        mosaic[row * cell + 1 : row * cell + 1 + side, col * cell + 1 : col * cell + 1 + side] = (
            image
        )
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(columns * 0.8, rows * 0.8 + (0.4 if title else 0)))
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_scatter(
    points: np.ndarray,
    labels: np.ndarray,
    path: Path,
    title: str = "",
    names: list[str] | None = None,
) -> None:
    """Write a 2-D scatter of ``points`` coloured by integer ``labels`` (``names`` label the
    legend)."""
    points, labels = np.asarray(points), np.asarray(labels)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cmap = plt.get_cmap("tab10")
    for index, label in enumerate(np.unique(labels)):
        chosen = points[labels == label]
        name = names[int(label)] if names else str(label)
        ax.scatter(chosen[:, 0], chosen[:, 1], s=6, alpha=0.7, color=cmap(index % 10), label=name)
    ax.legend(markerscale=2.5, fontsize=7, loc="best")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_histograms(
    samples: dict[str, np.ndarray], path: Path, title: str = "", bins: int = 80
) -> None:
    """Write overlaid histograms of 1-D ``samples`` (one per named set, e.g. real and generated)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    values = np.concatenate([np.ravel(v) for v in samples.values()])
    edges = np.linspace(values.min(), values.max(), bins + 1)
    for name, sample in samples.items():
        ax.hist(np.ravel(sample), bins=edges, alpha=0.5, density=True, label=name)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
