"""init: the scheme is applied once, before training and before any trick copies the weights, from a
generator of its own; biases, zero-built parameters and patterns behave as documented; and a deep
plain tanh MLP on digits trains with orthogonal or geometric weights, not with badly scaled ones.
The geometry of the schemes themselves: tests/test_init_geometry.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from torch.utils.data import TensorDataset

from pipeline.errors import PipelineError
from pipeline.training.module import ModelModule
from plugins.sequence.norm import ConditionalLayerNorm
from plugins.tricks.init import Initialise, InitTrick, initialise, run_seed
from tests.data_kit import prepared
from tests.trick_kit import Tiny, assert_bitwise_equal, classification_data, fit, weights

pytestmark = pytest.mark.usefixtures("one_thread")
SETTINGS = {
    "scheme": "orthogonal",
    "gain": 1.0,
    "patterns": ["*"],
    "bias": "zero",
    "keep_zero": True,
}


def tiny(hidden: int = 8, zero_loss: bool = True) -> Tiny:
    torch.manual_seed(0)
    return Tiny(hidden=hidden, zero_loss=zero_loss)


def test_the_run_starts_from_the_scheme_drawn_with_the_runs_seed():
    """A zero loss and plain SGD move nothing, so the trained weights are the initial ones."""
    module = tiny()
    fit(module, {"init": SETTINGS}, classification_data(16), batch_size=8, optimizer="sgd")
    expected = tiny()
    torch.manual_seed(0)  # the seed the run above had set
    assert initialise(expected, SETTINGS, run_seed()) == [
        "net.0.weight",
        "net.0.bias",
        "net.2.weight",
        "net.2.bias",
    ]
    assert_bitwise_equal(weights(module), weights(expected))
    first, second = module.net[0].weight, module.net[2].weight  # 8 × 6 (tall), 3 × 8 (wide)
    torch.testing.assert_close(first.T @ first, torch.eye(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(second @ second.T, torch.eye(3), atol=1e-5, rtol=0)
    assert not module.net[0].bias.any() and not module.net[2].bias.any()


def test_the_draws_leave_the_runs_random_streams_alone():
    module = tiny()
    before = torch.get_rng_state()
    initialise(module, {**SETTINGS, "scheme": "geometric"}, 123)
    assert torch.equal(torch.get_rng_state(), before)


def test_the_average_of_ema_starts_from_the_initialised_weights():
    """ema copies the weights in its own setup; init's runs first (order 5 < 90). With nothing
    moving, an average that started from the built weights would still hold some of them."""
    module = tiny()
    tricks = {"init": SETTINGS, "ema": {"decay": 0.9}}
    fit(module, tricks, classification_data(32), batch_size=8, optimizer="sgd", max_epochs=2)
    expected = tiny()
    torch.manual_seed(0)
    initialise(expected, SETTINGS, run_seed())
    assert_bitwise_equal(weights(module), weights(expected))


def test_it_applies_once_however_often_the_trainer_sets_up():
    module, callback = tiny(), Initialise(SETTINGS)
    callback.setup(None, module, "fit")
    once = weights(module)
    callback.setup(None, module, "fit")
    callback.setup(None, module, "validate")
    assert_bitwise_equal(weights(module), once)


def test_default_changes_nothing_and_keep_leaves_the_biases():
    module = tiny()
    built = weights(module)
    assert initialise(module, {**SETTINGS, "scheme": "default"}, 0) == []
    assert_bitwise_equal(weights(module), built)
    initialise(module, {**SETTINGS, "bias": "keep"}, 0)
    assert torch.equal(module.net[0].bias, built["net.0.bias"])
    assert not torch.equal(module.net[0].weight, built["net.0.weight"])


def test_patterns_choose_the_parameters():
    module = tiny()
    built = weights(module)
    assert initialise(module, {**SETTINGS, "patterns": ["net.2.*"]}, 0) == [
        "net.2.weight",
        "net.2.bias",
    ]
    assert torch.equal(module.net[0].weight, built["net.0.weight"])


def test_a_parameter_built_as_zero_stays_zero_unless_asked():
    """Conditional LayerNorm starts as plain LayerNorm because its projections start at zero."""
    torch.manual_seed(0)
    norm = ConditionalLayerNorm(8, 4)
    changed = initialise(norm, SETTINGS, 0)
    assert "gamma.weight" not in changed and not norm.gamma.weight.any()
    assert torch.equal(norm.norm.weight, torch.ones(8))  # a 1-D scale is no bias: left alone
    initialise(norm, {**SETTINGS, "keep_zero": False}, 0)
    torch.testing.assert_close(
        norm.gamma.weight.T @ norm.gamma.weight, torch.eye(4), atol=1e-5, rtol=0
    )


def test_a_spectrally_normalised_weight_is_normalised_again_after_the_scheme():
    """Spectral normalisation's power-iteration estimate is refreshed for the new weights (left
    stale, the eval-mode weight below would have spectral norm 18.5)."""
    torch.manual_seed(0)
    layer = spectral_norm(nn.Linear(16, 32))
    changed = initialise(nn.Sequential(layer), {**SETTINGS, "scheme": "geometric"}, 0)
    assert changed == ["0.bias", "0.parametrizations.weight.original"]
    layer.eval()
    assert float(torch.linalg.matrix_norm(layer.weight, 2)) == pytest.approx(1, abs=2e-3)


def test_patterns_that_name_nothing_to_initialise_are_refused():
    with pytest.raises(PipelineError, match=r"tricks.init.patterns: pattern 'enc\.\*' matches"):
        InitTrick().check({**SETTINGS, "patterns": ["enc.*"]}, tiny())
    with pytest.raises(PipelineError, match="name no weight matrix"):
        InitTrick().check({**SETTINGS, "patterns": ["*.bias"]}, tiny())
    InitTrick().check({**SETTINGS, "scheme": "default", "patterns": ["*.bias"]}, tiny())


# --- Quality: a deep plain MLP on digits -------------------------------------------------------

DEPTH, WIDTH, EPOCHS = 20, 64, 10
MOMENTUM = {"name": "momentum", "lr": 0.01, "momentum": 0.9}


class DeepTanh(ModelModule):
    """DEPTH tanh layers of WIDTH units, then a linear read-out: no normalisation, no shortcut."""

    def __init__(self):
        super().__init__()
        sizes = [64] + [WIDTH] * DEPTH
        pairs = zip(sizes, sizes[1:], strict=False)
        layers = [m for a, b in pairs for m in (nn.Linear(a, b), nn.Tanh())]
        self.net = nn.Sequential(*layers, nn.Linear(WIDTH, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x), y)


def deep_accuracy(init: dict, seed: int) -> float:
    data = prepared()
    train = TensorDataset(torch.from_numpy(data.train.x), torch.from_numpy(data.train.y))
    torch.manual_seed(seed)
    module = DeepTanh()
    fit(module, {"init": init}, train, batch_size=64, optimizer=MOMENTUM, max_epochs=EPOCHS)
    with torch.no_grad():
        predicted = module.net(torch.from_numpy(data.test.x)).argmax(1).numpy()
    return float((predicted == data.test.y).mean())


def test_a_deep_tanh_mlp_trains_with_orthogonal_or_geometric_weights_and_not_badly_scaled():
    """20 tanh layers of 64, SGD with momentum, 10 epochs, three seeds (figures in
    docs/initialisers.md). N(0, σ²) at width 64 is the geometric scheme with gain 8σ."""
    schemes = {
        "orthogonal": {"scheme": "orthogonal"},
        "geometric": {"scheme": "geometric"},
        "torch default": {"scheme": "default"},  # ±1/√fan_in uniform: gain 1/√3 per layer
        "N(0, 1)": {"scheme": "geometric", "gain": 8.0},
        "N(0, 0.01)": {"scheme": "geometric", "gain": 0.8},
    }
    accuracy = {
        name: [deep_accuracy({**SETTINGS, **init}, seed) for seed in (0, 1, 2)]
        for name, init in schemes.items()
    }
    print({name: [round(a, 3) for a in values] for name, values in accuracy.items()})
    for good in ("orthogonal", "geometric"):
        assert min(accuracy[good]) >= 0.85, accuracy
    for bad in ("torch default", "N(0, 1)", "N(0, 0.01)"):
        assert max(accuracy[bad]) <= 0.45, accuracy
