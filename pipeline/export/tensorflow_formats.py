"""TensorFlow formats: a Keras model as a SavedModel and as a TFLite flatbuffer, and running
each."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.export.backend import load_keras


def export_saved_model(model: Any, path: Path) -> None:
    """Write ``model`` as a SavedModel whose ``serving_default`` signature takes a batch of any
    size."""
    load_keras()
    model.export(str(path), format="tf_saved_model", verbose=False)


def run_saved_model(path: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of the SavedModel at ``path`` for ``x``, through its ``serving_default`` signature
    (what servers call)."""
    load_keras()
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    (input_name,) = serve.structured_input_signature[1]
    outputs = serve(**{input_name: tf.constant(x)})
    return next(iter(outputs.values())).numpy()


def convert_tflite(saved_model: Path, path: Path) -> None:
    """Convert the SavedModel at ``saved_model`` to a float32 TFLite file at ``path`` (no
    quantization)."""
    load_keras()
    import tensorflow as tf

    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved_model)).convert())


def run_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of the TFLite file at ``path`` for ``x``; the signature runner resizes the batch
    axis."""
    load_keras()
    import tensorflow as tf

    with warnings.catch_warnings():
        # tf.lite.Interpreter warns that it moves to the ai-edge-litert package, which is not a
        # dependency.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    (input_name,) = runner.get_input_details()
    outputs = runner(**{input_name: x})
    return next(iter(outputs.values()))
