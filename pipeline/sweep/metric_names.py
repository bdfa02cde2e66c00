"""Validation metrics apart from test metrics: what selects a trial and what only reports it.

Training logs validation metrics (``val_acc``, ``val_loss``: the validation split, at the end of
the last epoch); the evaluate stage returns test metrics (``accuracy``: the test split). Reports
show them as ``val.acc`` and ``test.accuracy``, so no table leaves a reader guessing which split a
number comes from.
"""

from __future__ import annotations

from typing import Mapping

VALIDATION = "val_"  # the prefix of every metric a family logs on the validation split
# A test metric whose validation counterpart is not simply ``val_<name>``.
COUNTERPARTS = {"accuracy": "val_acc"}


def is_validation(name: str) -> bool:
    """True for a metric logged on the validation split (``val_*``)."""
    return name.startswith(VALIDATION)


def counterpart(test_metric: str) -> str:
    """The validation metric that stands for ``test_metric`` (``accuracy`` → ``val_acc``)."""
    return COUNTERPARTS.get(test_metric, f"{VALIDATION}{test_metric}")


def shown(name: str) -> str:
    """The report name: ``val_acc`` → ``val.acc``, ``accuracy`` → ``test.accuracy``."""
    if is_validation(name):
        return f"val.{name.removeprefix(VALIDATION)}"
    return f"test.{name}"


def validation(metrics: Mapping[str, float]) -> dict[str, float]:
    """The validation metrics among the train stage's (``metrics/train.json``)."""
    return {name: float(value) for name, value in metrics.items() if is_validation(name)}
