"""Loads TensorFlow and Keras for the export, configured before their first import."""

from __future__ import annotations

import os
from types import ModuleType

from pipeline.errors import PipelineError


def load_keras() -> ModuleType:
    """Import Keras on the TensorFlow backend (what SavedModel and TFLite need) and return it."""
    # These are read once, at TensorFlow's first import; setdefault keeps a user's own choice.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no INFO/WARNING chatter on the console
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN reorders float sums run to run
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        raise PipelineError(
            f"KERAS_BACKEND is {keras.backend.backend()!r} but the SavedModel/TFLite export needs "
            "'tensorflow'; unset KERAS_BACKEND or set it to tensorflow."
        )
    return keras
