"""Plain multilayer perceptrons built only from standard layers, so they export as Keras
Sequentials."""

from __future__ import annotations

from torch import nn


def mlp(
    sizes: list[int], activation: type[nn.Module] = nn.ReLU, output: nn.Module | None = None
) -> nn.Sequential:
    """Linear layers through ``sizes`` with ``activation`` between them and an optional ``output``
    layer."""
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(width_in, width_out))
        if index < len(sizes) - 2:
            layers.append(activation(0.2) if activation is nn.LeakyReLU else activation())
    if output is not None:
        layers.append(output)
    return nn.Sequential(*layers)
