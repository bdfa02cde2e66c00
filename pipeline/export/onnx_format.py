"""ONNX: export a torch network with a dynamic batch dimension and run the file with onnxruntime."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

INPUT_NAME = "input"
OUTPUT_NAME = "output"


def export_onnx(network: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """Write ``network`` as one self-contained ``.onnx`` file whose batch dimension is dynamic."""
    # The torch.export-based exporter (dynamo=True) is the maintained one and writes byte-identical
    # files run after run; the TorchScript exporter is deprecated and due for removal.
    # Dim.DYNAMIC (rather than a named Dim) also accepts a one-row example without specializing to
    # 1.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=FutureWarning, module="copyreg"
        )  # torch-internal pytree notice
        torch.onnx.export(
            network,
            (example,),
            str(path),
            dynamo=True,
            external_data=False,
            verbose=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim.DYNAMIC},),
        )


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of the ONNX file at ``path`` for the batch ``x``, computed by onnxruntime on CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
