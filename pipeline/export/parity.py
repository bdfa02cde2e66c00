"""The parity check: every exported format must reproduce torch's outputs within a tolerance."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from pipeline.errors import PipelineError


class ParityError(PipelineError):
    """An exported format's outputs differ from torch's by more than the tolerance; ``diffs`` holds
    all measured."""

    def __init__(self, message: str, diffs: Mapping[str, float]):
        super().__init__(message)
        self.diffs = dict(diffs)


def check_reference(reference: np.ndarray) -> None:
    """Refuse torch's own outputs when they are not finite: no format could match them, and the
    model is broken."""
    bad = int(reference.size - np.count_nonzero(np.isfinite(reference)))
    if bad:
        raise PipelineError(
            f"the network's outputs on the export examples are not finite ({bad} of "
            f"{reference.size} values "
            "are nan or inf); its weights overflow — retrain with a lower optimizer.lr."
        )


def max_abs_diff(fmt: str, reference: np.ndarray, output: np.ndarray) -> float:
    """Largest absolute elementwise difference between torch's ``reference`` and a format's
    ``output``."""
    if reference.shape != output.shape:
        raise PipelineError(
            f"{fmt} output has shape {output.shape} but torch's has {reference.shape}; the export "
            "is broken."
        )
    return float(
        np.max(np.abs(reference.astype(np.float64) - output.astype(np.float64)), initial=0.0)
    )


def metric_name(fmt: str) -> str:
    """The metric recording a format's difference: ``ONNX`` → ``onnx_max_abs_diff``."""
    return f"{fmt.lower()}_max_abs_diff"


def check(diffs: Mapping[str, float], tolerance: float) -> dict[str, float]:
    """Return the diffs keyed by metric name, or raise :class:`ParityError` naming the first format
    whose
    difference (keyed by format in ``diffs``) exceeds ``tolerance``; NaN or inf never passes."""
    metrics = {metric_name(fmt): diff for fmt, diff in diffs.items()}
    for fmt, diff in diffs.items():
        if not math.isfinite(
            diff
        ):  # torch's outputs are finite (check_reference), so the format broke them
            raise ParityError(
                f"{fmt} output is not finite where torch's is (max abs diff {diff}); exported/ was "
                "left "
                "unchanged (the conversion is broken; no export.tolerance can pass it).",
                metrics,
            )
        if not diff <= tolerance:
            raise ParityError(
                f"{fmt} output differs from torch by {diff:.3g}, above export.tolerance = "
                f"{tolerance:g}; "
                "exported/ was left unchanged (raise export.tolerance or fix the conversion).",
                metrics,
            )
    return metrics
