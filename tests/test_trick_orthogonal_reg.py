"""orthogonal_reg: the penalty ‖WᵀW − I‖² is 0 on orthonormal columns, its closed-form gradient is
autograd's, one step adds exactly weight · that gradient to the chosen kernels only, and on digits
it lowers the kernel columns' mean |cos| without costing accuracy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from pipeline.errors import PipelineError
from plugins.tricks.orthogonal_reg import (
    linear_weights,
    orthogonality_gradient,
    orthogonality_penalty,
)
from tests import family_kit
from tests.trick_kit import OPTIMIZERS, Tiny, classification_data, fit, weights

pytestmark = pytest.mark.usefixtures("one_thread")
WEIGHT = 0.25


def test_the_penalty_is_zero_for_orthonormal_columns_and_counts_their_deviation():
    q, _ = torch.linalg.qr(
        torch.randn(7, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    )
    kernel = q.T  # nn.Linear stores the kernel transposed: 4 orthonormal columns of length 7
    assert float(orthogonality_penalty(kernel)) == pytest.approx(0, abs=1e-24)
    assert torch.allclose(orthogonality_gradient(kernel), torch.zeros_like(kernel), atol=1e-14)
    # doubling one column: its Gram entry becomes 4, so the penalty is (4 − 1)² = 9
    scaled = kernel.clone()
    scaled[2] *= 2
    assert float(orthogonality_penalty(scaled)) == pytest.approx(9, abs=1e-12)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_the_closed_form_gradient_is_autograds_of_the_penalty(shape):
    kernel = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kernel.requires_grad_(True)
    (expected,) = torch.autograd.grad(orthogonality_penalty(kernel), kernel)
    torch.testing.assert_close(
        orthogonality_gradient(kernel.detach()), expected, rtol=1e-12, atol=1e-12
    )
    assert expected.abs().max() > 0.1


def test_one_step_adds_weight_times_the_gradient_to_the_chosen_kernels_only():
    torch.manual_seed(0)
    module = Tiny(zero_loss=True)  # the loss contributes nothing: the update is the penalty's
    start = weights(module)
    tricks = {"orthogonal_reg": {"weight": WEIGHT, "patterns": ["net.0.*"]}}
    fit(module, tricks, classification_data(8), batch_size=8, optimizer="sgd")

    lr = OPTIMIZERS["sgd"]["lr"]
    expected = start["net.0.weight"] - lr * WEIGHT * orthogonality_gradient(start["net.0.weight"])
    after = weights(module)
    torch.testing.assert_close(after["net.0.weight"], expected, rtol=1e-6, atol=1e-7)
    assert not torch.allclose(after["net.0.weight"], start["net.0.weight"], atol=1e-3)
    for name in ("net.0.bias", "net.2.weight", "net.2.bias"):
        assert torch.equal(after[name], start[name]), name


def test_a_pattern_naming_no_linear_weight_is_refused_with_the_kernels_listed():
    with pytest.raises(PipelineError) as error:
        fit(
            Tiny(),
            {"orthogonal_reg": {"patterns": ["net.0.bias"]}},
            classification_data(8),
            batch_size=8,
        )
    assert str(error.value) == (
        "tricks.orthogonal_reg.patterns: pattern 'net.0.bias' matches no Linear layer's weight of "
        "this model; they are net.0.weight, net.2.weight."
    )


def test_a_spectrally_normalised_layer_is_regularised_through_the_parameter_stepped():
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        spectral_norm(torch.nn.Linear(4, 4)),
        torch.nn.utils.spectral_norm(torch.nn.Linear(4, 2)),  # the older form: a computed weight
    )
    kernels = linear_weights(model)
    assert list(kernels) == ["0.weight", "1.parametrizations.weight.original"]
    parameters = dict(model.named_parameters())
    assert all(kernels[name] is parameters[name] for name in kernels)


def mean_abs_cos(kernel: torch.Tensor) -> float:
    """Mean |cos| between distinct columns of the kernel (rows of an nn.Linear weight)."""
    unit = F.normalize(kernel.detach(), dim=1)
    cos = (unit @ unit.T).abs()
    n = len(cos)
    return float((cos.sum() - cos.diagonal().sum()) / (n * (n - 1)))


def test_on_digits_it_decorrelates_the_first_kernel_at_the_same_accuracy(tmp_path):
    data = family_kit.prepared("digits")
    found = {}
    for label, tricks in (("without", {}), ("with", {"orthogonal_reg": {}})):
        family, module = family_kit.build("classifier", data)
        family_kit.fit(module, data, tricks=tricks, max_epochs=20)
        accuracy = family.evaluate(module.eval(), data, tmp_path)["accuracy"]
        found[label] = (mean_abs_cos(module.net[0].weight), accuracy)
    print("first kernel mean |cos|, test accuracy:", found)
    assert found["with"][0] < 0.7 * found["without"][0]
    assert abs(found["with"][1] - found["without"][1]) <= 0.01
