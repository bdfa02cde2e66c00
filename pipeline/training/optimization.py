"""Builds the base optimizer plugin named by params and applies the enabled tricks to it in their
fixed order."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Mapping

import torch

from pipeline.errors import PipelineError
from pipeline.plugin.hookspecs import OptimizerSpec, Trick, TrickSpec


@dataclass(frozen=True)
class EnabledTrick:
    """A trick switched on for this run: its spec, its loaded implementation and its settings."""

    spec: TrickSpec
    impl: Trick
    settings: Mapping[str, Any]


def load_tricks(
    specs_and_settings: list[tuple[TrickSpec, Mapping[str, Any]]],
) -> list[EnabledTrick]:
    """Load each enabled trick and sort by (order, name): the one order tricks always apply in."""
    enabled = [EnabledTrick(spec, spec.load(), settings) for spec, settings in specs_and_settings]
    return sorted(enabled, key=lambda t: (t.spec.order, t.spec.name))


def named_param_groups(module: torch.nn.Module) -> list[dict]:
    """One group holding every trainable parameter, with its names alongside."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    return [{"params": [p for _, p in named], "names": [n for n, _ in named]}]


def base_optimizer(
    spec: OptimizerSpec, settings: Mapping[str, Any], groups: list[dict]
) -> torch.optim.Optimizer:
    """The optimizer plugin ``spec`` over ``groups`` (names are kept in each group), given the
    ``optimizer:`` section's ``lr``, ``weight_decay`` and the spec's own settings.

    A group's ``lr_scale`` multiplies the base learning rate for that group, so tricks that split
    groups compose without knowing ``optimizer.lr``. Settings the spec does not declare are not
    passed (another optimizer's ``momentum`` never reaches Adam).
    """
    lr, wd = settings["lr"], settings["weight_decay"]
    groups = [
        {**g, "lr": lr * g["lr_scale"]} if "lr_scale" in g and "lr" not in g else g for g in groups
    ]
    own = {k: settings.get(k, spec.settings[k].default) for k in spec.own_settings}
    optimizer = spec.load(groups, lr=lr, weight_decay=wd, **own)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise PipelineError(
            f"optimizer {spec.name!r} returned {optimizer!r} from load; expected a "
            "torch.optim.Optimizer."
        )
    return optimizer


def configure(
    module: torch.nn.Module,
    optimizer_settings: Mapping[str, Any],
    tricks: list[EnabledTrick],
    base: OptimizerSpec,
) -> Any:
    """Return what ``configure_optimizers`` returns: the ``base`` optimizer with every trick
    applied."""
    groups = named_param_groups(module)
    for trick in tricks:
        groups = trick.impl.param_groups(trick.settings, groups)
        if not isinstance(groups, list) or not all(
            isinstance(g, dict) and "params" in g for g in groups
        ):
            raise PipelineError(
                f"trick {trick.spec.name} returned {groups!r} from param_groups; expected a list "
                "of "
                "dicts with 'params'."
            )
    optimizer = base_optimizer(base, optimizer_settings, groups)
    for trick in tricks:
        optimizer = trick.impl.wrap_optimizer(trick.settings, optimizer)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise PipelineError(
                f"trick {trick.spec.name} returned {optimizer!r} from wrap_optimizer; expected a "
                "torch.optim.Optimizer."
            )
    scheduling = [t for t in tricks if type(t.impl).scheduler is not Trick.scheduler]
    total = total_steps(module) if scheduling else math.inf
    schedulers = [
        s for t in scheduling if (s := t.impl.scheduler(t.settings, optimizer, total)) is not None
    ]
    if not schedulers:
        return optimizer
    return (
        {"optimizer": optimizer, "lr_scheduler": schedulers[0]}
        if len(schedulers) == 1
        else ([optimizer], schedulers)
    )


def total_steps(module: Any) -> float:
    """The optimizer steps of the whole run, from its start (Lightning's estimate: epochs × ⌈batches
    ÷
    accumulation⌉, capped by ``max_steps``); ``math.inf`` when the run has no set end. Asked only
    when a
    trick schedules, because it makes Lightning load the training data early."""
    steps = module.trainer.estimated_stepping_batches
    return math.inf if steps < 0 else steps


def attach(
    module: Any,
    optimizer_settings: Mapping[str, Any],
    tricks: list[EnabledTrick],
    base: OptimizerSpec,
) -> None:
    """Let ``module`` build its ``base`` optimizer with ``tricks`` applied, after each trick
    checked it fits the model (so a bad setting stops the run before training starts)."""
    for trick in tricks:
        trick.impl.check(trick.settings, module)
    module.optimization = partial(
        configure, optimizer_settings=optimizer_settings, tricks=tricks, base=base
    )


def trainer_kwargs(tricks: list[EnabledTrick]) -> dict[str, Any]:
    """Trainer arguments the tricks ask for, merged in trick order."""
    merged: dict[str, Any] = {}
    for trick in tricks:
        merged.update(trick.impl.trainer_kwargs(trick.settings))
    return merged


def callbacks(tricks: list[EnabledTrick]) -> list:
    """Callbacks the tricks add, in trick order."""
    return [cb for trick in tricks for cb in trick.impl.callbacks(trick.settings)]
