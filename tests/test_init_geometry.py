"""The geometry of the init trick's schemes, checked against what it derives: orthogonal weights are
exactly (semi-)orthogonal, and the Gaussian 1/√fan_in scheme's filters are nearly orthonormal, with
the mean |cos| between them and the matrix's singular values where the formulas put them."""

from __future__ import annotations

import math

import pytest
import torch

from plugins.tricks.init import draw, fans, mean_abs_cos, singular_value_range

T = 4.0  # every singular value is in its range with probability ≥ 1 − 2·e^(−8) ≈ 0.9993


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(32, 64), (64, 64), (100, 64), (8, 3, 3, 3), (40, 8, 2, 2)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_weights_are_exactly_orthogonal_times_the_gain(shape, gain):
    weight = draw("orthogonal", torch.Size(shape), gain, generator()).float().flatten(1)
    rows, cols = weight.shape
    gram = weight @ weight.T if rows <= cols else weight.T @ weight  # W Wᵀ = I, or Wᵀ W = I
    identity = torch.eye(min(rows, cols))
    torch.testing.assert_close(gram / gain**2, identity, atol=1e-5, rtol=0)
    singular = torch.linalg.svdvals(weight.double())
    torch.testing.assert_close(singular, torch.full_like(singular, gain), atol=1e-5, rtol=0)


def test_the_mean_abs_cos_formula_at_known_dimensions_and_as_n_grows():
    # A uniform angle in the plane gives 2/π; on the sphere in ℝ³, cos θ is uniform on [−1, 1].
    assert mean_abs_cos(2) == pytest.approx(2 / math.pi, rel=1e-12)
    assert mean_abs_cos(3) == pytest.approx(0.5, rel=1e-12)
    for n in (4, 16, 64, 256, 1024, 4096):  # √(2/(πn)) · (1 + 1/(4n) + O(1/n²))
        excess = mean_abs_cos(n) / math.sqrt(2 / (math.pi * n)) - 1
        assert 1 / (4 * n) <= excess <= 1 / (4 * n) + 1 / (16 * n**2), n


@pytest.mark.parametrize("fan_in, fan_out", [(64, 64), (256, 128), (1024, 256), (64, 100)])
def test_geometric_filters_have_the_derived_mean_abs_cos(fan_in, fan_out):
    """The fan_in-long filters (rows of torch's weight) of N(0, 1/fan_in): any two are independent
    isotropic vectors, and the |cos| of two pairs is independent even when they share a filter
    (given the shared one, each cos has the same law whatever it is), so the mean over the P pairs
    has standard deviation √((1/n − μ²)/P) exactly, with E cos² = 1/n."""
    weight = draw("geometric", torch.Size((fan_out, fan_in)), 1.0, generator(fan_in))
    unit = weight / weight.norm(dim=1, keepdim=True)
    cos = (unit @ unit.T)[torch.triu_indices(fan_out, fan_out, offset=1).unbind()]
    mu, pairs = mean_abs_cos(fan_in), len(cos)
    spread = math.sqrt((1 / fan_in - mu**2) / pairs)
    assert abs(float(cos.abs().mean()) - mu) <= 6 * spread
    assert float(cos.square().mean()) == pytest.approx(1 / fan_in, rel=0.1)
    # Lengths: ‖w‖² is χ²(n)/n, mean 1 and standard deviation √(2/n).
    lengths = weight.square().sum(dim=1)
    assert float(lengths.mean()) == pytest.approx(1, abs=6 * math.sqrt(2 / fan_in / fan_out))
    assert float((lengths - 1).abs().max()) <= 6 * math.sqrt(2 / fan_in)


@pytest.mark.parametrize(
    "fan_in, fan_out", [(64, 32), (256, 128), (1024, 512), (512, 512), (128, 512)]
)
def test_geometric_singular_values_lie_in_the_derived_range(fan_in, fan_out):
    """The kernel (fan_in × fan_out, entries N(0, 1/fan_in)) has every singular value in
    [|1 − √(fan_out/fan_in)|, 1 + √(fan_out/fan_in)] up to t/√fan_in; narrow kernels are near
    isometries, so Wᵀ W ≈ I on their columns."""
    weight = draw("geometric", torch.Size((fan_out, fan_in)), 1.0, generator(fan_out))
    singular = torch.linalg.svdvals(weight)[: min(fan_in, fan_out)]
    low, high = singular_value_range(fan_in, fan_out, T)
    assert low <= float(singular.min()) and float(singular.max()) <= high


def test_geometric_singular_values_reach_the_edges_one_plus_minus_root_ratio_as_n_grows():
    """At 2048 × 1024 the extremes sit within 0.02 of 1 ± √(1/2) (their fluctuations shrink like
    n^(−2/3)); the range that holds for any n shrinks to those edges too."""
    weight = draw("geometric", torch.Size((1024, 2048)), 1.0, generator(7))
    singular = torch.linalg.svdvals(weight)
    ratio = math.sqrt(1024 / 2048)
    assert float(singular.max()) == pytest.approx(1 + ratio, abs=0.02)
    assert float(singular.min()) == pytest.approx(1 - ratio, abs=0.02)
    widths = [singular_value_range(n, n // 2, T)[1] - (1 + ratio) for n in (64, 256, 1024, 4096)]
    assert widths == sorted(widths, reverse=True) and widths[-1] < 0.07


@pytest.mark.parametrize(
    "scheme, variance",
    [
        ("xavier", lambda fi, fo: 2 / (fi + fo)),
        ("he", lambda fi, fo: 2 / fi),
        ("geometric", lambda fi, fo: 1 / fi),
    ],
)
def test_gaussian_schemes_draw_the_stated_variance_times_the_gain_squared(scheme, variance):
    shape = torch.Size((96, 48, 3))  # a 1-D convolution: fan_in 48·3, fan_out 96·3
    fan_in, fan_out = fans(shape)
    assert (fan_in, fan_out) == (144, 288)
    weight = draw(scheme, shape, 1.5, generator(3))
    expected = 1.5**2 * variance(fan_in, fan_out)
    # the sample variance of N entries: relative standard deviation √(2/N)
    assert float(weight.var()) == pytest.approx(expected, rel=6 * math.sqrt(2 / weight.numel()))
    assert abs(float(weight.mean())) <= 6 * math.sqrt(expected / weight.numel())
