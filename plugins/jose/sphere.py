"""JoSE's math on the unit sphere: the max-margin loss, the Riemannian step's two halves and a
held-out document's vector.

Every vector (word u, context v, document d) lies on the sphere, so each cosine is a dot product.
The loss of a center word u, one of its context words v in document d and a negative word u' is

    max(0, m − v·u − u·d + v·u' + u'·d),

the paper's joint form (the C reference splits it into a word hinge and a document hinge).

Riemannian SGD on the sphere takes the Euclidean gradient g at x, keeps its tangent part
(I − x xᵀ) g, steps along it and retracts to the sphere by normalising:
x ← (x − lr·(I − x xᵀ) g) / ‖·‖. The two halves are separate functions because the pipeline's
optimizer owns the step between them (see :mod:`plugins.jose.family`). The reference also scales
each step by a cosine distance (1 − u·v and the like); that is left out here so that the step is
the plain projected step and any optimizer or trick composes with it.

A held-out document's vector is the mean direction of its words' vectors u, each weighted by the
chance that subsampling keeps it in training (:func:`mean_direction`): training pulls a document's
d toward each of its words in proportion to how often it keeps that word, and the weighted mean
direction is the d that maximises exactly that pull, in closed form.
"""

from __future__ import annotations

import torch


def tangent(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``grad``'s part tangent to the sphere at each row of ``x``: (I − x xᵀ) g, row by row
    (``x`` on the sphere)."""
    return grad - (grad * x).sum(-1, keepdim=True) * x


def retract(x: torch.Tensor) -> torch.Tensor:
    """Each row of ``x`` scaled back to length 1 (the retraction after a step)."""
    return x / x.norm(dim=-1, keepdim=True)


def random_sphere(rows: int, dim: int) -> torch.Tensor:
    """``rows`` directions uniform on the sphere (normalised Gaussians), from torch's seeded
    generator."""
    return retract(torch.randn(rows, dim))


def max_margin_loss(
    center: torch.Tensor,
    context: torch.Tensor,
    document: torch.Tensor,
    negative: torch.Tensor,
    margin: float,
) -> torch.Tensor:
    """The hinge max(0, m − v·u − u·d + v·u' + u'·d) of each row (one per triple), from the rows'
    center u, context v, document d and negative u'."""
    positive = (context * center).sum(-1) + (center * document).sum(-1)
    contrast = (context * negative).sum(-1) + (negative * document).sum(-1)
    return torch.relu(margin - positive + contrast)


def mean_direction(vectors: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """For each row of ``vectors`` ``(rows, length, dim)``, the normalised weighted sum
    Σ wᵢuᵢ / ‖Σ wᵢuᵢ‖ with ``weights`` ``(rows, length)``: the unit d that maximises Σ wᵢ uᵢ·d, so
    the maximum-likelihood mean direction of von Mises–Fisher draws uᵢ ~ vMF(d, κ) counted wᵢ
    times each. A row whose weights are all 0 gets the zero vector."""
    total = (vectors * weights.unsqueeze(-1).to(vectors.dtype)).sum(1)
    return total / total.norm(dim=-1, keepdim=True).clamp(min=1e-12)
