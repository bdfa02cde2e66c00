"""The class a family's module derives from: Lightning's in a process that trains, a plain torch
module in a command that only scores or exports a trained model.

Importing Lightning costs 1.5–2 s here (it imports torchmetrics, which imports scipy.signal and
matplotlib, to read torchmetrics' version), a third of ``pipeline run evaluate`` before. Evaluate
and export call nothing of Lightning's: they load ``models/model.pt`` into the family's module and
call its own methods. :func:`without_lightning` makes such a command's families derive from
:class:`pipeline.training.inference_module.InferenceModule`, which has what those methods use of a
LightningModule (``device``, ``current_epoch``, ...). Everything else, tests and sweeps included,
keeps Lightning's base.
"""

from __future__ import annotations

import sys

_without_lightning = False


def without_lightning() -> None:
    """Build this process's family modules without Lightning; the command line calls it for a
    stage that only scores or exports, before any family is imported."""
    global _without_lightning
    if "pipeline.training.module" in sys.modules:
        raise RuntimeError(
            "without_lightning() must run before pipeline.training.module is imported."
        )
    _without_lightning = True


def base() -> type:
    """``lightning.pytorch.LightningModule``, or :class:`InferenceModule` after
    :func:`without_lightning` in a process that has not loaded Lightning."""
    if _without_lightning and "lightning.pytorch" not in sys.modules:
        from pipeline.training.inference_module import InferenceModule

        return InferenceModule
    import lightning.pytorch as pl

    return pl.LightningModule
