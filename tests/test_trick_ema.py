"""ema: the training path is untouched, Θ follows Θ ← αΘ + (1−α)θ, swaps are exact, and the average
resumes."""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import torch

from tests.trick_kit import (
    StepRecorder,
    Tiny,
    assert_bitwise_equal,
    assert_same_weights,
    classification_data,
    fit,
    fit_saving_epochs,
    weights,
)

DECAY = 0.8
DATA, VAL = classification_data(48), classification_data(16, seed=1)


class ValidationWatcher(pl.Callback):
    """Notes the weights when validation starts and ends; placed before and after the EMA callback,
    it sees
    θ before the swap, the weights validation runs on, and what the swap back restored."""

    def __init__(self):
        self.starts: list[dict] = []
        self.ends: list[dict] = []

    def on_validation_epoch_start(self, trainer, pl_module):
        self.starts.append(weights(pl_module))

    def on_validation_epoch_end(self, trainer, pl_module):
        self.ends.append(weights(pl_module))


def closed_form(initial: dict, steps: list[dict], decay: float) -> dict:
    """Θ_T = α^T θ₀ + Σ_t (1−α) α^(T−t) θ_t, summed in float64."""
    count = len(steps)
    result = {}
    for name, start in initial.items():
        total = decay**count * start.double()
        for t, step in enumerate(steps, start=1):
            total += (1 - decay) * decay ** (count - t) * step[name].double()
        result[name] = total.float()
    return result


def test_training_path_is_untouched_and_the_average_has_its_closed_form():
    torch.manual_seed(0)
    plain = Tiny()
    averaged = copy.deepcopy(plain)
    initial = weights(plain)
    plain_steps, ema_steps = StepRecorder(), StepRecorder()
    before, after = ValidationWatcher(), ValidationWatcher()

    fit(
        plain,
        {},
        DATA,
        batch_size=8,
        optimizer="momentum",
        after=[plain_steps],
        val=VAL,
        max_epochs=3,
    )
    fit(
        averaged,
        {"ema": {"decay": DECAY}},
        DATA,
        batch_size=8,
        optimizer="momentum",
        before=[before, ema_steps],
        after=[after],
        val=VAL,
        max_epochs=3,
    )

    assert len(ema_steps.steps) == len(plain_steps.steps) == 18
    for with_ema, without in zip(ema_steps.steps, plain_steps.steps, strict=True):
        assert_bitwise_equal(with_ema, without)
    average = closed_form(initial, ema_steps.steps, DECAY)
    for name, value in weights(averaged).items():  # training ended with Θ copied into the model
        torch.testing.assert_close(value, average[name], rtol=1e-6, atol=1e-7)
        assert not torch.allclose(value, ema_steps.steps[-1][name], atol=1e-4)

    # Every validation epoch ran on Θ and gave back θ bit for bit.
    assert len(before.starts) == len(after.starts) == len(after.ends) == 3
    for epoch, (theta, swapped_in, restored) in enumerate(
        zip(before.starts, after.starts, after.ends, strict=True)
    ):
        assert_bitwise_equal(restored, theta)
        expected = closed_form(initial, ema_steps.steps[: 6 * (epoch + 1)], DECAY)
        for name in theta:
            torch.testing.assert_close(swapped_in[name], expected[name], rtol=1e-6, atol=1e-7)


def test_average_survives_checkpoint_and_resume(tmp_path):
    torch.manual_seed(0)
    module = Tiny()
    straight, resumed = StepRecorder(), StepRecorder()
    fit_saving_epochs(
        module,
        {"ema": {"decay": DECAY}},
        DATA,
        tmp_path,
        after=[straight],
        batch_size=8,
        val=VAL,
        max_epochs=3,
    )
    checkpoint = torch.load(tmp_path / "epoch=0.ckpt", weights_only=True)
    assert int(checkpoint["averaging_state"]["n_averaged"]) == 7  # Θ₀ counts once, then six steps

    torch.manual_seed(1)  # the resumed run must not depend on its own initialisation
    second = Tiny()
    fit(
        second,
        {"ema": {"decay": DECAY}},
        DATA,
        batch_size=8,
        after=[resumed],
        val=VAL,
        max_epochs=3,
        ckpt_path=str(tmp_path / "epoch=0.ckpt"),
    )
    assert len(resumed.steps) == 12  # two epochs after the checkpoint
    assert_bitwise_equal(resumed.steps[-1], straight.steps[-1])  # θ
    assert_same_weights(second, module)  # Θ, copied into the model when training ended


def test_the_lightning_internals_the_average_relies_on_are_unchanged():
    """plugins/tricks/ema.py seeds ``_average_model.n_averaged`` and mirrors the guard on
    ``_latest_update_step``; this fails when a Lightning upgrade changes either."""
    from types import SimpleNamespace

    from lightning.pytorch.callbacks import WeightAveraging
    from torch.optim.swa_utils import AveragedModel

    callback = WeightAveraging()
    assert callback._average_model is None and callback._latest_update_step == 0
    assert callback.state_dict() == {"latest_update_step": 0}
    module = Tiny()
    callback.setup(None, module, "fit")
    average = callback._average_model
    assert isinstance(average, AveragedModel) and isinstance(average.n_averaged, torch.Tensor)
    assert average.n_averaged.dtype == torch.long and int(average.n_averaged) == 0
    callback.on_train_batch_end(SimpleNamespace(global_step=1), module, None, None, 0)
    assert callback._latest_update_step == 1 and int(average.n_averaged) == 1
    assert callback.state_dict() == {"latest_update_step": 1}
