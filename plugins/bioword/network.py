"""The fly network as one module: Kenyon cells reading a 2·V input through their synapses, then the
APL neuron's inhibition keeping the k most active cells as a binary hash."""

from __future__ import annotations

import torch
from torch import nn

from plugins.bioword.rule import hash_codes


class FlyHash(nn.Module):
    """Dense 2·V input → K activations ⟨W_μ, v⟩ (a Linear without bias, so the tricks that act on
    Linear kernels see the synapses) → the binary code with ``k`` ones.

    The input is raw counts (no division by p): the paper hashes ⟨W_μ, v⟩ and picks the learning
    winner on it too; only the learning signal is frequency-normalised.
    """

    def __init__(self, inputs: int, cells: int, k: int, init_std: float = 0.02):
        super().__init__()
        self.k = k
        self.synapses = nn.Linear(inputs, cells, bias=False)
        nn.init.normal_(self.synapses.weight, std=init_std)  # the reference's N(0, 0.02²) start

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return hash_codes(self.synapses(inputs), self.k)
