"""The two pieces of GLANN's math that are not a network: GLO's constraint on the codes and IMLE's
nearest-neighbour loss.

GLO keeps every code in the unit ball ‖z‖ ≤ 1 (projecting after each optimizer step). The ball,
rather than the paper's unit sphere, because it is convex: the averages that tricks take of the
weights (``ema``, ``lookahead``) and the straight lines the interpolation picture decodes stay in
it, so no code the generator is ever shown has left the set it was trained on.

IMLE (Li & Malik) fits a sampler T to points without a density: for every target z_i it finds the
nearest of m samples T(e_j) and pulls that one onto it, Σ_i ‖T(e_nn(i)) − z_i‖². Every target then
has a sample nearby, which is what a likelihood asks and what a GAN's mode collapse violates.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def project_to_ball(codes: torch.Tensor) -> None:
    """Scale every row of ``codes`` longer than 1 back to length 1, in place (the nearest point of
    the unit ball); shorter rows are left exactly as they are."""
    norms = codes.norm(dim=1, keepdim=True)
    codes.div_(norms.clamp(min=1.0))


@torch.no_grad()
def nearest(targets: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """For each row of ``targets``, the index of its nearest row of ``candidates`` (Euclidean; the
    first on a tie). Distances are summed coordinate by coordinate, not through the matrix-product
    shortcut ‖a‖² + ‖b‖² − 2ab, whose rounding can swap two near neighbours."""
    distances = torch.cdist(targets, candidates, compute_mode="donot_use_mm_for_euclid_dist")
    return distances.argmin(dim=1)


def imle_loss(targets: torch.Tensor, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over targets of ‖samples[nn(i)] − targets[i]‖², and the assignment ``nn``.

    The assignment is a constant of the step (found without gradient); the gradient reaches only
    the samples that are someone's nearest, and never the targets (detached here)."""
    targets = targets.detach()
    assignment = nearest(targets, samples.detach())
    loss = (samples[assignment] - targets).pow(2).sum(dim=1).mean()
    return loss, assignment
