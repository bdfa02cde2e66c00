"""Writes every format of every exported network into a staging folder, checks parity, and only
then replaces ``exported/``.

A family exports one network (files ``model.onnx``, ``saved_model/``, ``model.tflite``) or several
named parts, e.g. a sequence model's encoder and decoder step (``encoder.onnx``,
``decoder_step.onnx``, …); each part may take several inputs. The formats written are the family's
``export_formats``: ONNX always, SavedModel and TFLite where the family has a Keras twin or the
generic converter rebuilds its network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch

from pipeline._runtime.atomic_folder import recover_dir, replace_dir
from pipeline.errors import PipelineError
from pipeline.export import parity
from pipeline.export.backend import load_keras
from pipeline.export.keras_convert import to_keras
from pipeline.export.onnx_format import export_onnx, run_onnx_outputs
from pipeline.export.tensorflow_formats import (
    convert_tflite,
    export_saved_model,
    run_saved_model,
    run_tflite,
)

ALL_FORMATS = ("ONNX", "SavedModel", "TFLite")
SINGLE = "model"  # the part name of a family exporting one network
ONNX_FILE = "model.onnx"
SAVED_MODEL_DIR = "saved_model"
TFLITE_FILE = "model.tflite"


@dataclass(frozen=True)
class Part:
    """One exported network, its example inputs and where its files go."""

    name: str
    network: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]

    def file(self, fmt: str) -> str:
        """The file (or folder) name of this part in format ``fmt``."""
        if self.name == SINGLE:
            return {"ONNX": ONNX_FILE, "SavedModel": SAVED_MODEL_DIR, "TFLite": TFLITE_FILE}[fmt]
        suffix = {"ONNX": ".onnx", "SavedModel": "_saved_model", "TFLite": ".tflite"}[fmt]
        return self.name + suffix

    def key(self, fmt: str) -> str:
        """The diff's key: the format, prefixed with the part's name when there are parts."""
        return fmt if self.name == SINGLE else f"{self.name}.{fmt}"

    def arrays(self) -> list[np.ndarray]:
        return [t.numpy() for t in self.inputs]


def parts_of(target: Any, examples: int) -> list[Part]:
    """The parts of what ``Family.export_target`` returned, each with its first ``examples``
    rows: ``(network, inputs)`` or ``{name: (network, inputs)}``; ``inputs`` is a tensor or a tuple
    of tensors."""
    named = target.items() if isinstance(target, Mapping) else [(SINGLE, target)]
    parts = []
    for name, (network, inputs) in named:
        inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
        inputs = tuple(torch.as_tensor(t)[:examples].contiguous() for t in inputs)
        parts.append(Part(str(name), network.eval(), inputs))
    return parts


@contextlib.contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Yield an empty folder next to ``target``; on success it replaces ``target``, on error it is
    deleted."""
    # Named *.tmp so git ignores it; a folder left by a killed export is cleared by the next one.
    recover_dir(target)
    for stale in target.parent.glob(f".{target.name}-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = target.parent / f".{target.name}-new-{os.getpid()}.tmp"
    staging.mkdir(parents=True)
    try:
        yield staging
        replace_dir(staging, target)  # one atomic swap: target is never missing or half-written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def torch_outputs(network: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    """What every format must reproduce: the network's outputs on ``inputs`` in eval mode."""
    with torch.no_grad():
        outputs = network.eval()(*inputs)
    if isinstance(outputs, (tuple, list)):
        return [o.numpy() for o in outputs]
    return [outputs.numpy()]


def largest_diff(fmt: str, reference: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """The largest absolute difference over every output."""
    if len(outputs) != len(reference):
        raise PipelineError(
            f"{fmt} gives {len(outputs)} outputs but torch gives {len(reference)}; the export is "
            "broken."
        )
    return max(parity.max_abs_diff(fmt, r, o) for r, o in zip(reference, outputs, strict=True))


def write_part(family: Any, part: Part, formats: tuple[str, ...], folder: Path) -> dict[str, float]:
    """Write ``part`` in ``formats`` into ``folder``; return each format's max abs diff from
    torch."""
    reference = torch_outputs(part.network, part.inputs)
    x = part.arrays()
    export_onnx(part.network, part.inputs, folder / part.file("ONNX"))
    diffs = {
        part.key("ONNX"): largest_diff(
            "ONNX", reference, run_onnx_outputs(folder / part.file("ONNX"), x)
        )
    }
    if "SavedModel" not in formats:
        return diffs
    keras_model = family.keras_model(part.network)
    if keras_model is None:
        keras_model = to_keras(part.network, tuple(part.inputs[0].shape[1:]))
    saved, tflite = folder / part.file("SavedModel"), folder / part.file("TFLite")
    export_saved_model(keras_model, saved)
    diffs[part.key("SavedModel")] = largest_diff(
        "SavedModel", reference, [run_saved_model(saved, x[0])]
    )
    if "TFLite" in formats:
        convert_tflite(saved, tflite)
        diffs[part.key("TFLite")] = largest_diff("TFLite", reference, [run_tflite(tflite, x[0])])
    return diffs


def export_formats(family: Any) -> tuple[str, ...]:
    """The formats ``family`` exports, checked: ONNX always, TFLite only with SavedModel."""
    formats = tuple(getattr(family, "export_formats", ALL_FORMATS))
    if (
        "ONNX" not in formats
        or not set(formats) <= set(ALL_FORMATS)
        or ("TFLite" in formats and "SavedModel" not in formats)
    ):
        raise PipelineError(
            f"{type(family).__name__}.export_formats = {formats!r} is invalid; give ('ONNX',), "
            "('ONNX', 'SavedModel') or ('ONNX', 'SavedModel', 'TFLite')."
        )
    return formats


def export_parts(
    family: Any, parts: list[Part], target: Path, tolerance: float
) -> dict[str, float]:
    """Export every part to ``target`` if every format matches torch within ``tolerance``; return
    the diff metrics."""
    formats = export_formats(family)
    for part in parts:  # before anything is written: a diverged model is no conversion problem
        outputs = torch_outputs(part.network, part.inputs)
        for output in outputs:
            parity.check_reference(output)
        if "SavedModel" in formats and (len(part.inputs) != 1 or len(outputs) != 1):
            raise PipelineError(
                f"the SavedModel and TFLite export takes networks of one input and one output, "
                f"but {part.name} has {len(part.inputs)} and {len(outputs)}; set the family's "
                "export_formats to ('ONNX',)."
            )
    if "SavedModel" in formats:
        load_keras()  # configures TensorFlow before a family's keras_model imports it
    with staged(target) as folder:
        diffs: dict[str, float] = {}
        for part in parts:
            diffs.update(write_part(family, part, formats, folder))
        return parity.check(diffs, tolerance)


def export_network(
    family: Any, network: torch.nn.Module, examples: torch.Tensor, target: Path, tolerance: float
) -> dict[str, float]:
    """Export one network (a family's single part) to ``target``; see :func:`export_parts`."""
    return export_parts(family, parts_of((network, examples), len(examples)), target, tolerance)
