"""A referee for generated data: the pipeline's own classifier, trained on the real training split.

It scores samples the way a user trusts: the class it reads in a sample (for conditional models),
and the Fréchet distance between real and generated examples in its hidden-feature space (the
FID recipe, with this small classifier standing in for Inception).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pipeline import PreparedData
from plugins.classifier.family import ClassifierModule

_TRAINED: dict[str, ClassifierModule] = {}


class Judge:
    """The classifier family's module, trained for a fixed budget with a fixed seed."""

    def __init__(self, data: PreparedData, hidden: int = 100, epochs: int = 40, seed: int = 0):
        key = _fingerprint(data, hidden, epochs, seed)
        if key not in _TRAINED:  # several families evaluate on the same split within one process
            _TRAINED[key] = _load_or_train(key, data, hidden, epochs, seed)
        self.model = _TRAINED[key]
        self.accuracy = self.score(data.test.x, data.test.y)

    @torch.no_grad()
    def predict(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """The class the judge reads in each example."""
        return self.model(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()

    @torch.no_grad()
    def probabilities(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """The judge's class probabilities for each example, one row each."""
        return F.softmax(self.model(torch.as_tensor(x, dtype=torch.float32)), dim=1).numpy()

    def score(self, x, y) -> float:
        """Share of examples the judge assigns to class ``y``."""
        return float((self.predict(x) == np.asarray(y)).mean())

    @torch.no_grad()
    def features(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Hidden ReLU activations: the space the Fréchet distance is measured in."""
        return self.model.net[:2](torch.as_tensor(x, dtype=torch.float32)).double().numpy()

    def frechet(self, real: np.ndarray, generated: np.ndarray) -> float:
        """Fréchet distance between Gaussians fitted to the judge's features of two sets."""
        return frechet_distance(self.features(real), self.features(generated))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½) between Gaussians fitted to rows of ``a`` and ``b``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((ΣaΣb)^½) = Σ √eig(Σa^½ Σb Σa^½): a symmetric form that stays real when dead features make
    # Σ singular.
    root_a = _psd_sqrt(cov_a)
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


@torch.enable_grad()  # evaluate() usually runs under no_grad
def _train(data: PreparedData, hidden: int, epochs: int, seed: int) -> ClassifierModule:
    # A plain loop: the judge is a fixed measuring instrument, not a run to track or resume.
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = ClassifierModule(data.train.x.shape[1], hidden, data.info.num_classes)
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(64):
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def _fingerprint(data: PreparedData, *settings) -> str:
    digest = hashlib.sha1(data.train.x.tobytes())
    digest.update(data.train.y.tobytes())
    digest.update(repr(settings).encode())
    return digest.hexdigest()


def cache_folder() -> Path:
    """Where trained judges are kept between runs: ``$XDG_CACHE_HOME/cooler-pipeline/judges``
    (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cooler-pipeline" / "judges"


def _load_or_train(key: str, data: PreparedData, hidden: int, epochs: int, seed: int):
    """The judge trained on this data with these settings: read from the cache when an earlier run
    trained it (its training is seeded, so the weights are the same), else trained and cached. An
    unreadable cache entry is trained again; a cache that cannot be written is skipped."""
    path = cache_folder() / f"{key}.pt"
    with torch.random.fork_rng():  # its initial weights are replaced: leave the seed's stream
        model = ClassifierModule(data.train.x.shape[1], hidden, data.info.num_classes)
    with contextlib.suppress(OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    model = _train(data, hidden, epochs, seed)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(model.state_dict(), partial)
        os.replace(partial, path)  # whole or not at all, also beside another run writing it
    return model
