"""The one way a module, its tricks and a Lightning Trainer are put together for training.

The train stage, the sweep (through the stage), the tests and the benchmarks all call
:func:`build_training`, so a test fits exactly what the stage fits. Plugin authors use it to test a
family or a trick with the real wiring: see "Testing a plugin" in docs/tricks.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from pipeline.params.validate import validate_tricks
from pipeline.training import optimization
from pipeline.training.callbacks.random_state import RandomStreams
from pipeline.training.optimization import EnabledTrick
from pipeline.training.trainer import build_trainer

if TYPE_CHECKING:
    import lightning.pytorch as pl

    from pipeline.plugin.registry import Registry

# Trainer settings for a plugin's tests: one quiet, deterministic CPU epoch that writes nothing.
TEST_TRAINER: Mapping[str, Any] = MappingProxyType(
    {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 1,
        "deterministic": True,
        "num_sanity_val_steps": 0,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
)


@dataclass(frozen=True)
class Training:
    """A Trainer ready to ``fit`` the module it was built for, and the tricks it applies."""

    trainer: pl.Trainer
    tricks: list[EnabledTrick]


def build_training(
    module: pl.LightningModule,
    optimizer: Mapping[str, Any],
    tricks: Mapping[str, Mapping[str, Any]],
    registry: Registry,
    trainer: Mapping[str, Any],
    callbacks: Iterable[pl.Callback] = (),
    extra_callbacks: Iterable[pl.Callback] = (),
    logger: Any = False,
    root_dir: str | None = None,
    *,
    validated: bool = False,
) -> Training:
    """Apply ``tricks`` to ``module`` and build the Trainer that fits it, as the train stage does.

    The core injects the optimizers into the family's module, as LightningCLI injects
    ``configure_optimizers`` from its ``--optimizer`` and ``--lr_scheduler`` settings: a family
    writes only its steps, and its :class:`~pipeline.training.module.ModelModule` returns the base
    optimizer of ``optimizer`` with every trick applied, so every trick composes with every family.

    ``optimizer`` is the validated ``optimizer:`` section (``name``, ``lr``, ``weight_decay``, and
    the settings of its own that the optimizer plugin ``name`` declares, such as ``momentum``);
    the plugin is looked up in ``registry``. ``tricks`` maps trick names to their settings, as
    the ``tricks:`` section does; they are validated here (defaults filled, conflicts refused), then
    loaded through ``registry``. ``validated=True`` says they come from params that
    :func:`pipeline.params.validate.validate` already checked (the train stage's), so they are
    loaded as given. ``trainer`` holds the ``trainer:`` section's Trainer arguments; the tricks' own
    (grad_accum's ``accumulate_grad_batches``) override them. Callbacks run in this order:
    :class:`~pipeline.training.callbacks.random_state.RandomStreams` (the generators' state, in
    every checkpoint), ``callbacks``, the tricks' callbacks, ``extra_callbacks``. Every trick first
    checks that it fits the module, and Lightning then judges the settings, so a bad one raises
    ``PipelineError`` here, before training.
    """
    enabled = load(tricks if validated else validate_tricks(dict(tricks), registry), registry)
    optimization.attach(module, optimizer, enabled, registry.optimizer(optimizer["name"]))
    # The random streams come first: restored before any other callback's epoch draws.
    streams = RandomStreams()
    every = [streams, *callbacks, *optimization.callbacks(enabled), *extra_callbacks]
    extra = optimization.trainer_kwargs(enabled)
    return Training(build_trainer(trainer, every, logger, root_dir, extra), enabled)


def load(tricks: Mapping[str, Mapping[str, Any]], registry: Registry) -> list[EnabledTrick]:
    """The tricks of validated settings, loaded through ``registry``, in apply order."""
    return optimization.load_tricks([(registry.trick(name), s) for name, s in tricks.items()])
