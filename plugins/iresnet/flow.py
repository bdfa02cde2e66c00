"""The invertible residual network: blocks y = x + g(x) with Lip(g) < 1, stacked into a flow.

A branch g whose Lipschitz constant is below one makes x ↦ x + g(x) invertible (Banach: the map
x ↦ y − g(x) contracts, so iterating it from y finds x) and gives the change of variables

    log p(x) = log N(f(x); 0, I) + Σ_blocks log det(I + J_g(x)),

with log det(I + J) = tr log(I + J) = Σ_{k≥1} (−1)^{k+1} tr(J^k)/k, a series that converges since
‖J‖ ≤ Lip(g) < 1. In few dimensions J is formed exactly (one vector–Jacobian product per
dimension) and the traces are exact; in more, Hutchinson's estimator tr(A) = E vᵀAv with one
Gaussian probe per row is used, each power costing one more vector–Jacobian product.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

EXACT_DIMS = 8  # up to this width the Jacobian is formed and the traces are exact


class Scale(nn.Module):
    """A parametrization multiplying a weight by a constant: spectral norm 1 becomes ``c``."""

    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return self.c * weight


def branch(dims: int, hidden: int, coefficient: float | None) -> nn.Sequential:
    """g: Linear → ELU → Linear → ELU → Linear, each weight of spectral norm ``coefficient``
    (None: plain weights, for a copy that holds weights already normalised).

    ELU is 1-Lipschitz, so Lip(g) ≤ coefficient³."""
    layers: list[nn.Module] = []
    sizes = [dims, hidden, hidden, dims]
    for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(width_in, width_out)
        if coefficient is not None:
            linear = spectral_norm(linear, n_power_iterations=1)
            parametrize.register_parametrization(linear, "weight", Scale(coefficient))
        layers.append(linear)
        if index < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


def lipschitz_bound(g: nn.Sequential) -> float:
    """Π over g's linear layers of the exact largest singular value of the weight in use (each
    activation between them is 1-Lipschitz): an upper bound of Lip(g)."""
    bound = 1.0
    for layer in g:
        if isinstance(layer, nn.Linear):
            bound *= float(torch.linalg.matrix_norm(layer.weight.detach().double(), ord=2))
    return bound


def jacobian(
    g: nn.Module, x: torch.Tensor, create_graph: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """g(x) and its Jacobian per row, shape (n, d, d), from d vector–Jacobian products."""
    x = x if x.requires_grad else x.requires_grad_(True)
    out = g(x)
    rows = []
    for i in range(out.shape[1]):
        basis = torch.zeros_like(out)
        basis[:, i] = 1
        (row,) = torch.autograd.grad(out, x, basis, create_graph=create_graph, retain_graph=True)
        rows.append(row)
    return out, torch.stack(rows, dim=1)


def series_logdet(jac: torch.Tensor, terms: int) -> torch.Tensor:
    """Σ_{k=1}^{terms} (−1)^{k+1} tr(J^k)/k per row, traces exact."""
    power, total = jac, torch.zeros(jac.shape[0], dtype=jac.dtype, device=jac.device)
    for k in range(1, terms + 1):
        total = total + (-1) ** (k + 1) * power.diagonal(dim1=1, dim2=2).sum(1) / k
        if k < terms:
            power = power @ jac
    return total


def hutchinson_logdet(
    g: nn.Module, x: torch.Tensor, terms: int, create_graph: bool, probe: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """g(x) and the series with each tr(J^k) estimated by vᵀJ^k v, v ~ N(0, I) (or ``probe``)."""
    x = x if x.requires_grad else x.requires_grad_(True)
    out = g(x)
    v = torch.randn_like(out) if probe is None else probe
    w, total = v, torch.zeros(len(x), dtype=x.dtype, device=x.device)
    for k in range(1, terms + 1):
        (w,) = torch.autograd.grad(out, x, w, create_graph=create_graph, retain_graph=True)
        total = total + (-1) ** (k + 1) * (w * v).sum(1) / k  # w = vᵀJ^k
    return out, total


class ResidualBlock(nn.Module):
    """y = x + g(x), invertible by fixed-point iteration."""

    def __init__(self, dims: int, hidden: int, coefficient: float | None):
        super().__init__()
        self.g = branch(dims, hidden, coefficient)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.g(x)

    def forward_logdet(self, x: torch.Tensor, terms: int, train: bool):
        """(y, log det(I + J_g(x))) with the power series; ``train`` keeps the graph."""
        if x.shape[1] <= EXACT_DIMS:
            out, jac = jacobian(self.g, x, create_graph=train)
            return x + out, series_logdet(jac, terms)
        out, logdet = hutchinson_logdet(self.g, x, terms, create_graph=train)
        return x + out, logdet

    @torch.no_grad()
    def inverse(self, y: torch.Tensor, iterations: int = 100, tolerance: float = 1e-7):
        """x with x + g(x) = y: iterate x ← y − g(x) from x = y until it stops moving."""
        x = y.clone()
        for _ in range(iterations):
            step = y - self.g(x)
            moved = (step - x).abs().max()
            x = step
            if moved <= tolerance:
                break
        return x


class InvertibleResNet(nn.Module):
    """f(x) = blocks(scale·(x − ½)): a learned elementwise scale, then the residual blocks."""

    def __init__(self, dims: int, hidden: int, blocks: int, coefficient: float | None):
        super().__init__()
        # [0, 1] data spread to about unit width for the N(0, I) base; learned from there.
        self.log_scale = nn.Parameter(torch.full((dims,), math.log(4.0)))
        self.blocks = nn.ModuleList(ResidualBlock(dims, hidden, coefficient) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - 0.5) * self.log_scale.exp()
        for block in self.blocks:
            z = block(z)
        return z

    def forward_logdet(self, x: torch.Tensor, terms: int, train: bool = True):
        """f(x) and log|det J_f(x)| per row (the blocks' terms from the power series)."""
        z = (x - 0.5) * self.log_scale.exp()
        logdet = self.log_scale.sum().expand(len(x))
        for block in self.blocks:
            z, term = block.forward_logdet(z, terms, train)
            logdet = logdet + term
        return z, logdet

    @torch.no_grad()
    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """f⁻¹(z): each block inverted by fixed-point iteration, last block first."""
        for block in reversed(self.blocks):
            z = block.inverse(z)
        return z * (-self.log_scale).exp() + 0.5

    def exact_logdet(self, x: torch.Tensor) -> torch.Tensor:
        """log|det J_f(x)| by slogdet of each block's exact Jacobian (few dimensions only)."""
        z = (x - 0.5) * self.log_scale.exp()
        logdet = self.log_scale.sum().expand(len(x))
        for block in self.blocks:
            out, jac = jacobian(block.g, z.detach(), create_graph=False)
            eye = torch.eye(jac.shape[1], dtype=jac.dtype, device=jac.device)
            logdet = logdet + torch.linalg.slogdet(eye + jac).logabsdet
            z = z.detach() + out.detach()
        return logdet

    @torch.no_grad()
    def plain(self) -> InvertibleResNet:
        """A copy holding the normalised weights as plain ones (for export). Built afresh: a deep
        copy would share the parametrized layers' generated classes with this flow."""
        dims, hidden = self.log_scale.numel(), self.blocks[0].g[0].out_features
        twin = InvertibleResNet(dims, hidden, len(self.blocks), coefficient=None)
        twin.log_scale.copy_(self.log_scale)
        for mine, theirs in zip(self.blocks, twin.blocks, strict=True):
            for layer, copy in zip(mine.g, theirs.g, strict=True):
                if isinstance(layer, nn.Linear):
                    copy.weight.copy_(layer.weight)
                    copy.bias.copy_(layer.bias)
        return twin.eval()


def standard_normal_logpdf(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per row."""
    return -0.5 * (z.pow(2).sum(1) + z.shape[1] * math.log(2 * math.pi))
