"""Rebuilds an ``nn.Sequential`` of standard layers as a Keras model holding the same weights.

Written by hand because the maintained ONNX→TensorFlow converters pin TensorFlow versions that
conflict with ours; a Keras rebuild exports to SavedModel and TFLite with TensorFlow's own tools.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from torch import nn

from pipeline.errors import PipelineError
from pipeline.export.backend import load_keras

# A converter returns the Keras layer and the weights to set once it is built, or None to drop the
# layer (it is the identity at inference).
Converted = tuple[Any, list[np.ndarray]] | None


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)


def _linear(m: nn.Linear, keras) -> Converted:
    weights = [_numpy(m.weight).T] + ([_numpy(m.bias)] if m.bias is not None else [])
    return keras.layers.Dense(m.out_features, use_bias=m.bias is not None), weights


def _batchnorm(m: nn.BatchNorm1d, keras) -> Converted:
    if m.running_mean is None:
        raise PipelineError(
            "BatchNorm1d(track_running_stats=False) normalizes with batch statistics at inference, "
            "which the export cannot reproduce; train with track_running_stats=True."
        )
    affine = [_numpy(m.weight), _numpy(m.bias)] if m.affine else []
    # axis=1 is torch's channel axis for both (N, C) and (N, C, L) inputs.
    layer = keras.layers.BatchNormalization(axis=1, epsilon=m.eps, center=m.affine, scale=m.affine)
    return layer, affine + [_numpy(m.running_mean), _numpy(m.running_var)]


def _softmax(m: nn.Softmax, keras) -> Converted:
    if m.dim is None:
        raise PipelineError(
            "Softmax(dim=None) picks its axis implicitly; give the exported network an explicit "
            "dim."
        )
    return keras.layers.Softmax(axis=m.dim), []


def _flatten(m: nn.Flatten, keras) -> Converted:
    if (m.start_dim, m.end_dim) != (1, -1):
        raise PipelineError(
            f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) is not supported; "
            "only Flatten(start_dim=1, end_dim=-1) converts."
        )
    return (
        keras.layers.Flatten(),
        [],
    )  # channels_last Flatten is a plain C-order reshape, like torch's


CONVERTERS: dict[type, Callable[[Any, Any], Converted]] = {
    nn.Linear: _linear,
    nn.ReLU: lambda m, keras: (keras.layers.ReLU(), []),
    nn.LeakyReLU: lambda m, keras: (keras.layers.LeakyReLU(negative_slope=m.negative_slope), []),
    nn.ELU: lambda m, keras: (keras.layers.ELU(alpha=m.alpha), []),
    nn.Tanh: lambda m, keras: (keras.layers.Activation("tanh"), []),
    nn.Sigmoid: lambda m, keras: (keras.layers.Activation("sigmoid"), []),
    nn.Softmax: _softmax,
    nn.Flatten: _flatten,
    nn.BatchNorm1d: _batchnorm,
    nn.Identity: lambda m, keras: None,
    nn.Dropout: lambda m, keras: None,
}
SUPPORTED = ", ".join(sorted(t.__name__ for t in CONVERTERS)) + ", and nested Sequential"


def _layers(network: nn.Module) -> list[nn.Module]:
    """The leaf layers of a (possibly nested) Sequential, in order."""
    if not isinstance(network, nn.Sequential):
        return [network]
    return [leaf for child in network for leaf in _layers(child)]


def to_keras(network: nn.Module, input_shape: tuple[int, ...]) -> Any:
    """A Keras model computing ``network`` (an ``nn.Sequential``) on inputs of ``input_shape`` (no
    batch axis)."""
    if not isinstance(network, nn.Sequential):
        raise PipelineError(
            f"the exported network is a {type(network).__name__}, which the generic Keras "
            "converter "
            "cannot rebuild; export an nn.Sequential or implement Family.keras_model."
        )
    keras = load_keras()
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    for layer in _layers(network):
        convert = CONVERTERS.get(type(layer))
        if convert is None:
            raise PipelineError(
                f"layer {type(layer).__name__} has no Keras conversion; supported layers: "
                f"{SUPPORTED} "
                "(or implement Family.keras_model)."
            )
        converted = convert(layer, keras)
        if converted is None:
            continue
        keras_layer, weights = converted
        x = keras_layer(x)  # builds the layer, so its weights can be set
        if weights:
            keras_layer.set_weights(weights)
    return keras.Model(inputs, x)
