"""The referee that scores generated digits: its Fréchet distance agrees with an independent
computation, and it reads real test digits well enough for its scores to mean something."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from plugins.generative.judge import Judge, frechet_distance
from tests.family_kit import prepared

pytestmark = pytest.mark.usefixtures("one_thread")


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook form: ‖μa − μb‖² + Tr(Σa + Σb − 2·sqrtm(ΣaΣb))."""
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    means = ((a.mean(0) - b.mean(0)) ** 2).sum()
    return float(means + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def test_frechet_distance_equals_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(loc=0.7, size=(400, 6)) @ rng.normal(size=(6, 6))
    assert frechet_distance(a, b) == pytest.approx(scipy_frechet(a, b), rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_two_known_gaussians():
    # N(0, I) against N(m, 4I) in d dimensions: ‖m‖² + d·(1 + 4 − 2·2) = ‖m‖² + d.
    rng = np.random.default_rng(1)
    d, m = 3, np.array([1.0, 2.0, 0.0])
    a, b = rng.normal(size=(200_000, d)), m + 2 * rng.normal(size=(200_000, d))
    assert frechet_distance(a, b) == pytest.approx(5.0 + d, rel=0.01)


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # dead ReLU features: Σ is singular
def test_referee_reads_real_test_digits_and_its_features_match_scipy():
    data = prepared()
    judge = Judge(data)
    assert judge.accuracy >= 0.95
    real, train = judge.features(data.test.x), judge.features(data.train.x[: len(data.test.x)])
    assert judge.frechet(data.test.x, data.train.x[: len(data.test.x)]) == pytest.approx(
        scipy_frechet(real, train), rel=1e-6
    )


def test_a_trained_judge_is_kept_for_later_runs_and_a_damaged_copy_is_trained_again(
    tmp_path, monkeypatch
):
    from plugins.generative import judge as judging

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(judging, "_TRAINED", {})  # what this process already trained
    data = prepared()
    trained = {k: v.clone() for k, v in Judge(data, hidden=8, epochs=2).model.state_dict().items()}
    [kept] = (tmp_path / "cooler-pipeline" / "judges").glob("*.pt")
    assert judging.cache_folder() == kept.parent

    # A later run (a new process) reads the kept copy: here, one overwritten with zeros.
    judging._TRAINED.clear()
    torch.save({k: torch.zeros_like(v) for k, v in trained.items()}, kept)
    read = Judge(data, hidden=8, epochs=2).model.state_dict()
    assert all(not read[k].any() for k in trained)

    # A damaged copy is trained again, to the same weights, and kept anew.
    judging._TRAINED.clear()
    kept.write_bytes(b"not a checkpoint")
    again = Judge(data, hidden=8, epochs=2).model.state_dict()
    assert all(torch.equal(again[k], trained[k]) for k in trained)
    assert all(torch.equal(v, trained[k]) for k, v in torch.load(kept).items())
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]  # no partial file left
