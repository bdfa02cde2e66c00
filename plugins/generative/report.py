"""What every generative family reports about its samples: judge-based scores and a picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline import PreparedData, save_histograms, save_image_grid, save_scatter
from plugins.generative.judge import Judge

CONFIDENT = 0.9  # a sample counts for a class only when the judge gives that class this much


def is_image(width: int) -> bool:
    """True when a row of ``width`` values is a square grayscale picture (e.g. 64 = 8×8)."""
    side = int(round(np.sqrt(width)))
    return width >= 16 and side * side == width


def latent_generator(seed: int = 0) -> torch.Generator:
    """A fixed noise source, so pictures and metrics of one model are the same on every
    evaluation."""
    return torch.Generator().manual_seed(seed)


def sample_metrics(judge: Judge, data: PreparedData, samples: np.ndarray) -> dict[str, float]:
    """Fréchet distance to real test data (and the real-vs-real floor), and how many classes samples
    cover."""
    real = data.test.x
    n = min(len(real), len(samples))
    classes, confident = confident_reads(judge, samples)
    shares = np.bincount(classes[confident], minlength=data.info.num_classes) / len(samples)
    metrics = {
        "frechet": judge.frechet(real[:n], samples[:n]),
        "frechet_real": judge.frechet(real[:n], data.train.x[:n]),
        "judge_accuracy": judge.accuracy,
        # A class counts as covered once the samples the judge reads confidently as that class
        # make up a quarter of its fair share of all samples.
        "mode_coverage": float((shares >= 0.25 / data.info.num_classes).mean()),
        "confident_share": float(confident.mean()),
        "confident_share_real": float(confident_reads(judge, real)[1].mean()),
    }
    if real.shape[1] <= 2:
        metrics["good_samples"] = near_a_mode(data, samples)
    return metrics


def confident_reads(judge: Judge, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The class the judge reads in each example, and whether it reads it with probability at
    least ``CONFIDENT``."""
    probabilities = judge.probabilities(x)
    return probabilities.argmax(1), probabilities.max(1) >= CONFIDENT


def near_a_mode(data: PreparedData, samples: np.ndarray) -> float:
    """Share of samples within three within-class standard deviations of the nearest class
    centre."""
    x, y = data.train.x, data.train.y
    means = np.stack([x[y == c].mean(0) for c in np.unique(y)])
    spread = np.sqrt(np.mean([x[y == c].var(0).mean() for c in np.unique(y)]))
    nearest = np.linalg.norm(samples[:, None, :] - means[None], axis=2).min(1)
    return float((nearest <= 3 * spread).mean())


def save_samples(real: np.ndarray, samples: np.ndarray, path: Path, title: str) -> None:
    """Samples as a picture grid (images), a scatter over the real points (2-D) or histograms
    (1-D)."""
    width = samples.shape[1]
    if is_image(width):
        save_image_grid(samples[:100], path, columns=10, title=title)
    elif width == 2:
        n = min(len(real), len(samples))
        points = np.concatenate([real[:n], samples[:n]])
        save_scatter(points, np.repeat([0, 1], n), path, title, names=["real", "generated"])
    elif width == 1:
        save_histograms({"real": real, "generated": samples}, path, title)


def save_interpolations(
    decode, start: torch.Tensor, end: torch.Tensor, path: Path, title: str, steps: int = 10
) -> None:
    """Decode straight lines from each ``start`` latent to its ``end``, one row per pair."""
    weights = torch.linspace(0, 1, steps).view(1, steps, 1)
    path_points = start[:, None, :] * (1 - weights) + end[:, None, :] * weights
    with torch.no_grad():
        images = decode(path_points.reshape(-1, start.shape[1])).numpy()
    save_image_grid(images, path, columns=steps, title=title)


def save_latent_scatter(codes: np.ndarray, labels: np.ndarray, path: Path, title: str) -> None:
    """Codes of test examples coloured by class; codes wider than 2 are projected by PCA first."""
    if codes.shape[1] > 2:
        from sklearn.decomposition import PCA

        codes = PCA(n_components=2, random_state=0).fit_transform(codes)
        title += " (PCA)"
    elif codes.shape[1] == 1:
        codes = np.concatenate([codes, np.zeros_like(codes)], axis=1)
    save_scatter(codes, labels, path, title)


def save_field(
    field, real: np.ndarray, samples: np.ndarray, path: Path, title: str, label: str, cmap: str
) -> None:
    """Contours of ``field`` (points (n, 2) → n values) over the unit square, with real points
    (white) and samples (red) on top; the colour bar reads ``label``."""
    from pipeline import pyplot

    grid = np.linspace(0.0, 1.0, 121, dtype=np.float32)
    xx, yy = np.meshgrid(grid, grid)
    values = np.asarray(field(torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], axis=1))))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    filled = ax.contourf(xx, yy, values.reshape(xx.shape), levels=30, cmap=cmap)
    fig.colorbar(filled, ax=ax, label=label)
    ax.scatter(real[:, 0], real[:, 1], s=3, color="white", alpha=0.5, label="real")
    ax.scatter(samples[:, 0], samples[:, 1], s=3, color="red", alpha=0.6, label="samples")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    ax.set(title=title, xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
