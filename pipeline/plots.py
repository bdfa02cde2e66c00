"""Pictures and plot data families write in the evaluate stage (matplotlib without a display)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_confusion(y_true: np.ndarray, y_pred: np.ndarray, out_dir: Path, num_classes: int) -> np.ndarray:
    """Write ``confusion.csv`` (for ``dvc plots``) and ``confusion_matrix.png``; return the matrix."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    with (out_dir / "confusion.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(y_true.tolist(), y_pred.tolist()))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    image = ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > matrix.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="actual", xticks=range(num_classes), yticks=range(num_classes),
           title="Confusion matrix (test split)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(out_dir / "confusion_matrix.png", dpi=100)
    plt.close(fig)
    return matrix


def save_image_grid(images: np.ndarray, path: Path, columns: int = 10, title: str = "") -> None:
    """Write a grid of square grayscale images (rows of flat pixel vectors or 2-D arrays) as a PNG."""
    images = np.asarray(images)
    side = int(round(np.sqrt(images[0].size)))
    images = images.reshape(len(images), side, side)
    rows = int(np.ceil(len(images) / columns))
    plt = _pyplot()
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.8, rows * 0.8 + (0.4 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image in zip(axes.flat, images):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
