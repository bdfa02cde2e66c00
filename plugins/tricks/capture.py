"""Trick ``capture``: record what chosen modules output on a fixed validation batch, every few
epochs, as statistics, histograms and maps, without changing training.

"“让Keras更酷一些!”:中间变量、权重滑动和安全生成器" (intermediate variables, weight moving
averages and safe generators) reads any intermediate variable of a Keras model, an attention matrix
included, and "精巧的层与花式的回调" (clever layers and fancy callbacks) does such work in
callbacks. Here a Lightning callback registers torch forward hooks on the chosen modules for the
first batch of the validation loop at the chosen epochs, and removes them after it: the hooks only
copy outputs that validation computes anyway (no gradient, no extra forward, no random draw), so
the weights trained with capture on equal those with it off, bit for bit
(``tests/test_trick_capture.py``). Validation runs on what the run validates: with ``ema`` on, the
averaged weights.

A module called several times in one forward (a recurrent cell, a shared layer) has its calls'
outputs stacked along a new axis after the batch, so an ON-LSTM cell's master forget gates become
(batch, time, levels). A tuple output is recorded element by element, ``cell[2]`` for its third.
A family names what is worth recording by default with a ``capture_modules`` attribute on its
module (patterns); without it, ``modules: []`` records every layer holding weights.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

from pipeline import PipelineError, Trick
from plugins.tricks.capture_files import write_capture
from plugins.tricks.patterns import matches

KEY = "tricks.capture.modules"


def default_patterns(module: nn.Module) -> list[str]:
    """The family's ``capture_modules`` if it declares them, else the name of every layer holding
    weights: a module with parameters of its own and no submodule (a weight under a torch
    parametrization, such as spectral normalisation, still counts as its layer's own)."""
    declared = getattr(module, "capture_modules", None)
    if declared:
        return list(declared)
    return [name for name, m in module.named_modules() if name and is_layer(name, m)]


def is_layer(name: str, module: nn.Module) -> bool:
    """Whether ``module`` is a layer holding weights (see :func:`default_patterns`)."""
    if ".parametrizations" in f".{name}":  # a parametrization's own modules
        return False
    children = [child for key, child in module.named_children() if key != "parametrizations"]
    own = any(True for _ in module.parameters(recurse=False))
    return not children and (own or hasattr(module, "parametrizations"))


def chosen_modules(module: nn.Module, patterns: list[str]) -> dict[str, nn.Module]:
    """The submodules whose names match ``patterns`` (``[]``: :func:`default_patterns`); raises
    when a pattern matches none."""
    patterns = patterns or default_patterns(module)
    named = {name: m for name, m in module.named_modules() if name}
    for pattern in patterns:
        if not any(matches(name, (pattern,)) for name in named):
            shown = ", ".join(list(named)[:12]) + (", …" if len(named) > 12 else "")
            raise PipelineError(
                f"{KEY}: pattern {pattern!r} matches no module of this model; its modules are "
                f"{shown}."
            )
    return {name: m for name, m in named.items() if matches(name, patterns)}


def tensors_of(output: Any, name: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Each tensor in a module's ``output`` (nested tuples and lists too), named ``name[i]…``."""
    if isinstance(output, torch.Tensor):
        yield name, output
    elif isinstance(output, (tuple, list)):
        for i, item in enumerate(output):
            yield from tensors_of(item, f"{name}[{i}]")


def combined(calls: list[torch.Tensor]) -> torch.Tensor:
    """One call's output as it is; several calls' of one shape stacked after the batch axis."""
    if len(calls) == 1 or any(c.shape != calls[0].shape for c in calls):
        return calls[0]
    return torch.stack(calls, dim=1 if calls[0].dim() else 0)


class Recording:
    """Forward hooks copying every output of ``modules`` until :meth:`stop`."""

    def __init__(self, modules: Mapping[str, nn.Module]):
        self.calls: dict[str, list[torch.Tensor]] = {}
        self.handles = [
            module.register_forward_hook(self._hook(name)) for name, module in modules.items()
        ]

    def _hook(self, name: str):
        def record(module, args, output):
            for key, tensor in tensors_of(output, name):
                self.calls.setdefault(key, []).append(tensor.detach().float().cpu().clone())

        return record

    def stop(self) -> dict[str, torch.Tensor]:
        """Remove the hooks; return each output, its calls combined."""
        for handle in self.handles:
            handle.remove()
        self.handles = []
        return {key: combined(calls) for key, calls in self.calls.items()}


class CaptureOutputs(pl.Callback):
    """Records the chosen modules' outputs on the first validation batch after every n-th epoch
    and writes them (:func:`plugins.tricks.capture_files.write_capture`)."""

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = settings
        self.modules: dict[str, nn.Module] = {}
        self.recording: Recording | None = None
        self.epochs: list[int] = []  # the epochs this process recorded
        self.last: dict[str, torch.Tensor] = {}  # the latest recording, by output
        self.first_epoch = 0  # the epoch this process's fit started at (later when resumed)

    def due(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (from 0) is one to record: every n-th, as Lightning counts."""
        return (epoch + 1) % self.settings["every_n_epochs"] == 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.modules = chosen_modules(pl_module, self.settings["modules"])

    def on_validation_batch_start(
        self, trainer: pl.Trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        epoch = trainer.current_epoch
        if (
            trainer.sanity_checking
            or trainer.state.fn != "fit"
            or (batch_idx, dataloader_idx) != (0, 0)
            or not trainer.is_global_zero
            or not self.due(epoch)
            or epoch in self.epochs
        ):
            return
        self.recording = Recording(self.modules)

    def on_validation_batch_end(
        self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx=0
    ) -> None:
        if self.recording is None:
            return
        outputs, self.recording = self.recording.stop(), None
        epoch = trainer.current_epoch
        self.epochs.append(epoch)
        self.last = outputs
        if not outputs:
            rank_zero_warn(
                f"{KEY}: none of the chosen modules ran in the validation step; nothing recorded."
            )
        write_capture(trainer, self.settings, epoch, outputs)

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        self.first_epoch = trainer.current_epoch

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        trained = range(self.first_epoch, trainer.current_epoch)
        if trainer.is_global_zero and not self.epochs and any(map(self.due, trained)):
            rank_zero_warn(
                "tricks.capture recorded nothing: it reads the first validation batch, and this "
                "run validated on none of the epochs it was due to record."
            )

    def teardown(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        if self.recording is not None:  # an exception inside the recorded batch
            self.recording.stop()
            self.recording = None


class CaptureTrick(Trick):
    """Checks the patterns name modules and adds the recording callback."""

    def check(self, settings, module):
        chosen_modules(module, settings["modules"])

    def callbacks(self, settings):
        return [CaptureOutputs(settings)]
