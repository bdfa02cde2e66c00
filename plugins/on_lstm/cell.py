"""The ON-LSTM cell and layer stack of "Ordered Neurons: Integrating Tree Structures into Recurrent
Neural Networks" (Shen et al., 2019), the subject of "ON-LSTM:用有序神经元表达层次结构"
(ON-LSTM: expressing hierarchy with ordered neurons).

Besides an LSTM's gates, the cell has a master forget gate f̃ = cumax(·) and a master input gate
ĩ = 1 − cumax(·), with cumax = cumsum ∘ softmax: monotone vectors over ``hidden / chunk_size``
levels, each level expanded over a chunk of ``chunk_size`` neurons. Where they overlap
(ω = f̃ ∘ ĩ) the ordinary gates act; above ĩ the history is kept, below f̃ it is overwritten. So
high-ranking neurons keep long-term information and low-ranking ones are erased often, and how much
of the order a token erases, d_t = levels − Σ f̃_t, is a syntactic distance.
"""

from __future__ import annotations

import torch
from torch import nn


def cumax(logits: torch.Tensor) -> torch.Tensor:
    """cumsum ∘ softmax along the last dimension: non-decreasing, ending at 1 (rounding above 1 is
    cut, which keeps the order)."""
    return torch.cumsum(torch.softmax(logits, dim=-1), dim=-1).clamp(max=1.0)


class OnLstmCell(nn.Module):
    """One ON-LSTM step. The gate rows are laid out as ``torch.nn.LSTMCell``'s (input, forget, cell,
    output, ``hidden`` rows each), followed by the master forget and master input logits (one row
    per level), so an LSTMCell's weights copy into the first ``4 * hidden`` rows."""

    def __init__(self, inputs: int, hidden: int, chunk_size: int):
        super().__init__()
        if hidden % chunk_size:
            raise ValueError(f"hidden ({hidden}) must be a multiple of chunk_size ({chunk_size})")
        self.hidden, self.chunk_size, self.levels = hidden, chunk_size, hidden // chunk_size
        rows = 4 * hidden + 2 * self.levels
        self.ih = nn.Linear(inputs, rows)
        self.hh = nn.Linear(hidden, rows)

    def master_gates(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The master forget gate (non-decreasing) and master input gate (non-increasing) per level,
        each ``(batch, levels)``, from the last ``2 * levels`` gate rows."""
        both = cumax(logits[:, 4 * self.hidden :].view(-1, 2, self.levels))
        return both[:, 0], 1.0 - both[:, 1]

    def forward(
        self,
        projected: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        master: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(h, c, master forget gate)`` after one step on ``projected`` = ``ih(x)`` (the
        input's projection, computed for the whole sequence at once). ``master``, if given, replaces
        the computed master gates (``(batch, levels)`` each); ones make the cell a plain LSTM."""
        h, c = state
        logits = projected + self.hh(h)
        master_forget, master_input = master if master is not None else self.master_gates(logits)
        # Neurons as (batch, levels, chunk): a level's master gate covers its whole chunk.
        gates = torch.sigmoid(logits[:, : 4 * self.hidden])
        i, f, _, o = gates.view(-1, 4, self.levels, self.chunk_size).unbind(1)
        g = torch.tanh(logits[:, 2 * self.hidden : 3 * self.hidden]).view_as(i)
        f_tilde, i_tilde = master_forget.unsqueeze(-1), master_input.unsqueeze(-1)
        overlap = f_tilde * i_tilde
        forget = f * overlap + (f_tilde - overlap)
        write = i * overlap + (i_tilde - overlap)
        c = forget * c.view_as(i) + write * g
        h = o * torch.tanh(c)
        return h.flatten(1), c.flatten(1), master_forget


class OnLstm(nn.Module):
    """A stack of ON-LSTM layers over ``(batch, time, features)``, with dropout between layers."""

    def __init__(self, inputs: int, hidden: int, chunk_size: int, layers: int, dropout: float):
        super().__init__()
        sizes = [inputs] + [hidden] * layers
        self.cells = nn.ModuleList(OnLstmCell(n_in, hidden, chunk_size) for n_in in sizes[:-1])
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return the last layer's outputs ``(batch, time, hidden)`` and, per layer, the master
        forget gates ``(batch, time, levels)``."""
        gates = []
        for depth, cell in enumerate(self.cells):
            if depth:
                x = self.drop(x)
            h = x.new_zeros(x.shape[0], cell.hidden)
            c = h
            outputs, forgets = [], []
            # unbind: one backward for all steps (indexing each step would zero-fill a full-size
            # gradient per step).
            for projected in cell.ih(x).unbind(1):
                h, c, master_forget = cell(projected, (h, c))
                outputs.append(h)
                forgets.append(master_forget)
            x = torch.stack(outputs, dim=1)
            gates.append(torch.stack(forgets, dim=1))
        return x, gates
