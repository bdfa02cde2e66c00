"""grad_transform: chosen gradients are clipped with their direction kept; every other gradient is
untouched."""

from __future__ import annotations

import pytest
import torch

from tests.trick_kit import StepRecorder, Tiny, classification_data, fit


def run(settings: dict) -> tuple[list[dict], list[dict]]:
    """Gradients each optimizer step sees before and after the trick's callback (same run, so same
    θ)."""
    torch.manual_seed(0)
    before, after = StepRecorder(), StepRecorder()
    fit(
        Tiny(),
        {"grad_transform": settings},
        classification_data(48),
        batch_size=8,
        optimizer="momentum",
        before=[before],
        after=[after],
    )
    assert len(before.grads) == len(after.grads) == 6
    return before.grads, after.grads


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(
        torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0)
    )


@pytest.mark.parametrize("per", ["parameter", "pattern"])
def test_norm_clipping_keeps_direction_and_leaves_the_rest_bitwise(per):
    limits = {"net.0.weight": 0.05, "net.2.*": 0.02}
    before, after = run({"clip_norm": [list(pair) for pair in limits.items()], "norm_per": per})
    for old, new in zip(before, after, strict=True):
        assert torch.equal(new["net.0.bias"], old["net.0.bias"])  # matched by no pattern
        for pattern, names in (
            ("net.0.weight", ["net.0.weight"]),
            ("net.2.*", ["net.2.weight", "net.2.bias"]),
        ):
            groups = [names] if per == "pattern" else [[name] for name in names]
            for group in groups:
                norm_old = torch.cat([old[n].flatten() for n in group]).norm()
                norm_new = torch.cat([new[n].flatten() for n in group]).norm()
                assert norm_old > limits[pattern], (
                    "no clipping happened; the test would prove nothing"
                )
                assert norm_new <= limits[pattern] * (1 + 1e-6)
            for name in names:
                assert cosine(new[name], old[name]) == pytest.approx(1.0, abs=1e-6)


def test_value_clipping_and_zeroing_touch_only_their_parameters():
    before, after = run(
        {"clip_norm": [], "clip_value": [["net.2.weight", 1e-3]], "zero": ["net.0.bias"]}
    )
    for old, new in zip(before, after, strict=True):
        assert (old["net.2.weight"].abs() > 1e-3).any()
        assert torch.equal(new["net.2.weight"], old["net.2.weight"].clamp(-1e-3, 1e-3))
        assert torch.equal(new["net.0.bias"], torch.zeros_like(old["net.0.bias"]))
        for name in ("net.0.weight", "net.2.bias"):
            assert torch.equal(new[name], old[name])
