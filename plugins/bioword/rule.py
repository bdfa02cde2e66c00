"""The fly network's learning rule, written as a surrogate loss whose gradient is the rule.

Liang et al. (ICLR 2021) train the synapses W (K cells × 2·V inputs) on windows v by minimising
the energy E = −Σ_A ⟨W_μ̂, v^A/p⟩ / ‖W_μ̂‖ with μ̂ = argmax_μ ⟨W_μ, v^A⟩, through the rule

    ΔW_μ = ε · δ(μ, μ̂) · (v/p − ⟨W_μ, v/p⟩ W_μ)

(p the words' corpus frequencies, element-wise): only the winning cell learns, Hebbian toward the
frequency-normalised input, with an Oja-like decay that drives ‖W_μ‖ to 1. The reference
implementation (github.com/bhoov/flyvec, ``cuda_funcs.cu``) picks the winner on the raw
activations ⟨W_μ, v⟩ as the paper's energy does, sums the rule over a minibatch into
ds = Σ_A δ(μ, μ̂_A)(v^A/p − ⟨W_μ, v^A/p⟩ W_μ) and steps W ← W + ε·ds / max|ds|: the largest synapse
change per step is ε, whatever the batch size and the scale of p. That step is done here.

The rule is not the gradient of any function of W (its Jacobian −x Wᵀ − ⟨W, x⟩I is not symmetric),
so it is written as the gradient of a surrogate with the Oja coefficient held constant:

    L = −Σ_A [⟨W_μ̂, x_A⟩ − ½·sg(⟨W_μ̂, x_A⟩)·‖W_μ̂‖²] / sg(max|ds|),   x_A = v^A/p,

whose gradient in W_μ is −ds_μ / max|ds| (sg: stop-gradient; the winners are constants too). Plain
SGD at rate ε on L therefore performs the reference's step exactly, and because the optimizer the
core builds takes that step, every trick (schedules, averaging, clipping…) composes with the rule
as with any loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from plugins.bioword.windows import NONE

PREC = 1e-30  # the reference's floor on max|ds|, so an empty update divides by no zero


def _slots(ids: torch.Tensor, size: int) -> torch.Tensor:
    """Sparse input ids with the blanks sent to ``size``, one past the last input."""
    return torch.where(ids == NONE, size, ids)


def activations(weight: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """⟨W_μ, v⟩ for every cell μ (n, K), v the sparse inputs ``ids`` (n, slots)."""
    table = F.pad(weight.T, (0, 0, 0, 1))  # the blank slot reads a zero row
    return F.embedding_bag(_slots(ids, weight.shape[1]), table, mode="sum")


@torch.no_grad()
def winners(weight: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """μ̂ = argmax_μ ⟨W_μ, v⟩ of each input (the first cell on a tie)."""
    return activations(weight, ids).argmax(1)


def _overlap(weight, ids, inverse_p, winner):
    """The inputs' slots, their values x = v/p per slot, and ⟨W_μ̂, x⟩ of each input."""
    slots = _slots(ids, weight.shape[1])
    x = F.pad(inverse_p, (0, 1))[slots]  # 1/p of each listed input, 0 for a blank
    return slots, x, (F.pad(weight, (0, 1))[winner[:, None], slots] * x).sum(1)


def hebbian_update(
    weight: torch.Tensor, ids: torch.Tensor, inverse_p: torch.Tensor, winner: torch.Tensor
) -> torch.Tensor:
    """ds = Σ_A δ(μ, μ̂_A)(x_A − ⟨W_μ, x_A⟩ W_μ) written out (K, 2·V), x_A = v^A / p."""
    slots, x, overlap = _overlap(weight, ids, inverse_p, winner)
    drive = weight.new_zeros(len(weight), weight.shape[1] + 1)
    drive.index_put_((winner[:, None].expand_as(slots), slots), x, accumulate=True)
    decay = weight.new_zeros(len(weight)).index_add_(0, winner, overlap)
    return drive[:, :-1] - decay[:, None] * weight


def _winning_overlap(weight, ids, inverse_p):
    """Each input's winner μ̂, ⟨W_μ̂, x⟩ and ‖W_μ̂‖² (both with gradient)."""
    winner = winners(weight, ids)
    _, _, overlap = _overlap(weight, ids, inverse_p, winner)
    return winner, overlap, weight.pow(2).sum(1)[winner]


def energy(weight: torch.Tensor, ids: torch.Tensor, inverse_p: torch.Tensor) -> torch.Tensor:
    """The paper's energy per input, −mean ⟨W_μ̂, x⟩ / ‖W_μ̂‖, which the rule descends."""
    with torch.no_grad():
        _, overlap, norm2 = _winning_overlap(weight, ids, inverse_p)
        return -(overlap / norm2.sqrt()).mean()


def surrogate(weight: torch.Tensor, ids: torch.Tensor, inverse_p: torch.Tensor) -> torch.Tensor:
    """The surrogate L of a batch of sparse inputs: its gradient in W is −ds / max|ds|."""
    winner, overlap, norm2 = _winning_overlap(weight, ids, inverse_p)
    with torch.no_grad():
        scale = hebbian_update(weight, ids, inverse_p, winner).abs().max().clamp_min(PREC)
    return -(overlap - 0.5 * overlap.detach() * norm2).sum() / scale


def hash_codes(activation: torch.Tensor, k: int) -> torch.Tensor:
    """The binary hash (n, K): 1 for the ``k`` cells of largest activation, 0 for the rest.

    Cells are ranked by activation, a tie going to the lower cell index: a cell's rank counts the
    cells before it in that strict order, so the ranks of a row are 0 … K−1 and exactly ``k`` of
    them are below ``k``, ties or not. Written with comparisons rather than ``topk``, whose order
    among equal values is unspecified (torch and onnxruntime break ties differently), so the
    exported network gives the same bits. It holds an (n, K, K) comparison: hash in chunks."""
    cells = activation.shape[1]
    mine, other = activation[:, :, None], activation[:, None, :]
    earlier = torch.ones(cells, cells, dtype=torch.bool, device=activation.device).tril(-1)
    rank = ((other > mine) | ((other == mine) & earlier)).sum(-1)
    return (rank < k).to(activation.dtype)
