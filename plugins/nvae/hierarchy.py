"""The NVAE hierarchy on flat inputs: residual cells, the bottom-up encoder, the top-down generative
path and the residual normal posterior with its closed-form KL.

Groups are numbered from the top. z_1 has the prior N(0, I); z_l (l > 1) has N(μ_p, σ_p²), read off
the top-down state that z_<l built. The posterior of group l is N(μ_p + Δμ, σ_p²·Δσ²), Δμ and
log Δσ² read from that same state and the bottom-up feature of x for group l: encoder and generative
path share the top-down network (NVAE's bidirectional encoder). Its KL to the prior is closed-form,
½ Σ (Δμ²/σ_p² + Δσ² − log Δσ² − 1), so the ELBO needs no sampled log-density ratio.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import nn

Noise = Callable[[torch.Tensor], torch.Tensor]  # a group's Δμ → its ε (randn_like, zeros_like)


def residual_kl(
    delta_mu: torch.Tensor, delta_logvar: torch.Tensor, prior_logvar: torch.Tensor
) -> torch.Tensor:
    """KL(N(μ_p + Δμ, σ_p²Δσ²) ‖ N(μ_p, σ_p²)) per row, summed over dimensions; μ_p drops out."""
    scaled_mu = delta_mu.pow(2) * (-prior_logvar).exp()
    return 0.5 * (scaled_mu + delta_logvar.exp() - delta_logvar - 1).sum(1)


class SqueezeExcite(nn.Module):
    """Scales each unit by a gate in (0, 1) computed from all units: squeeze-and-excitation, whose
    spatial pooling a flat vector does not need."""

    def __init__(self, width: int, reduction: int = 4):
        super().__init__()
        squeezed = max(width // reduction, 1)
        self.gate = nn.Sequential(
            nn.Linear(width, squeezed), nn.ReLU(), nn.Linear(squeezed, width), nn.Sigmoid()
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * self.gate(h)


class ResidualCell(nn.Module):
    """h + 0.1·branch(h), the branch BN → Swish → Linear → BN → Swish → Linear → SE: NVAE's cell
    with linear layers for its convolutions; the 0.1 keeps the stack near the identity at first."""

    def __init__(self, width: int):
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm1d(width),
            nn.SiLU(),
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
            nn.SiLU(),
            nn.Linear(width, width),
            SqueezeExcite(width),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + 0.1 * self.branch(h)


def residual_stack(width: int, count: int) -> nn.Sequential:
    """``count`` residual cells of ``width`` units (none is the identity)."""
    return nn.Sequential(*(ResidualCell(width) for _ in range(count)))


class BottomUp(nn.Module):
    """x → one feature per group, deeper for higher groups; the top group's is the deepest."""

    def __init__(self, inputs: int, hidden: int, groups: int, cells: int):
        super().__init__()
        self.stem = nn.Linear(inputs, hidden)
        self.stages = nn.ModuleList(residual_stack(hidden, cells) for _ in range(groups))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The features, top group first."""
        h, features = self.stem(x), []
        for stage in self.stages:
            h = stage(h)
            features.append(h)
        return features[::-1]


class TopDown(nn.Module):
    """The generative path: the noise ε of every group (concatenated, top first) → pixel logits,
    each z_l = μ_p + σ_p·ε_l drawn from its prior given the state z_<l built."""

    def __init__(self, inputs: int, hidden: int, latent: int, groups: int, cells: int):
        super().__init__()
        self.latent, self.groups = latent, groups
        self.start = nn.Parameter(torch.zeros(1, hidden))
        # The top group's prior is N(0, I): no head.
        self.priors = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * latent)) for _ in range(groups - 1)
        )
        self.combine = nn.ModuleList(nn.Linear(hidden + latent, hidden) for _ in range(groups))
        self.stages = nn.ModuleList(residual_stack(hidden, cells) for _ in range(groups))
        self.output = nn.Sequential(nn.SiLU(), nn.Linear(hidden, inputs))

    def initial(self, rows: int) -> torch.Tensor:
        """The learned state every sample starts from."""
        return self.start.expand(rows, -1)

    def prior(self, group: int, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ_p and log σ_p² of ``group`` (0 is the top) given the state above it."""
        if group == 0:
            zeros = state.new_zeros(len(state), self.latent)
            return zeros, zeros
        mu, logvar = self.priors[group - 1](state).chunk(2, dim=1)
        return mu, logvar

    def advance(self, group: int, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The state after ``group`` takes its sample ``z``."""
        return self.stages[group](self.combine[group](torch.cat([state, z], dim=1)))

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        state = self.initial(len(noise))
        for group, eps in enumerate(noise.split(self.latent, dim=1)):
            mu, logvar = self.prior(group, state)
            state = self.advance(group, state, mu + (0.5 * logvar).exp() * eps)
        return self.output(state)


class Descent(NamedTuple):
    """One top-down pass guided by x: logits, and per group (top first) the prior's and the
    posterior's (mean, log-variance) and their KL per row."""

    logits: torch.Tensor
    priors: list[tuple[torch.Tensor, torch.Tensor]]
    posteriors: list[tuple[torch.Tensor, torch.Tensor]]
    kls: list[torch.Tensor]


class Posterior(nn.Module):
    """q(z_l | x, z_<l): the bottom-up features and one head per group reading (state, feature)
    into the residual parameters (Δμ, log Δσ²)."""

    def __init__(self, inputs: int, hidden: int, latent: int, groups: int, cells: int):
        super().__init__()
        self.bottom_up = BottomUp(inputs, hidden, groups, cells)
        self.heads = nn.ModuleList(nn.Linear(2 * hidden, 2 * latent) for _ in range(groups))

    def descend(self, x: torch.Tensor, top_down: TopDown, noise: Noise) -> Descent:
        """Sample z_1 … z_L from q with ε = ``noise(Δμ)`` per group, building the top-down state."""
        state = top_down.initial(len(x))
        priors, posteriors, kls = [], [], []
        for group, (feature, head) in enumerate(zip(self.bottom_up(x), self.heads, strict=True)):
            prior_mu, prior_logvar = top_down.prior(group, state)
            delta_mu, delta_logvar = head(torch.cat([state, feature], dim=1)).chunk(2, dim=1)
            mu, logvar = prior_mu + delta_mu, prior_logvar + delta_logvar
            state = top_down.advance(group, state, mu + (0.5 * logvar).exp() * noise(delta_mu))
            priors.append((prior_mu, prior_logvar))
            posteriors.append((mu, logvar))
            kls.append(residual_kl(delta_mu, delta_logvar, prior_logvar))
        return Descent(top_down.output(state), priors, posteriors, kls)
