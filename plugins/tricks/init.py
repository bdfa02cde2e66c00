"""Trick ``init``: set the freshly built model's weights by a chosen scheme, once, before training.

The schemes draw every weight matrix W (an ``nn.Linear`` weight of shape fan_out × fan_in; a
convolution's trailing dimensions count into fan_in, as torch counts them) as

- ``xavier``: N(0, gain² · 2 / (fan_in + fan_out)), Glorot's compromise between the two fans;
- ``he``: N(0, gain² · 2 / fan_in), for ReLU, which zeroes half of each layer's input;
- ``geometric``: N(0, gain² / fan_in), the scheme of "从几何视角来理解模型参数的初始化策略"
  (understanding initialisation from a geometric view): in high dimension two random vectors are
  nearly perpendicular, so the fan_in-long filters (the rows of torch's weight, the columns of the
  series' kernel) are nearly orthonormal and the layer nearly preserves the length of its input;
- ``orthogonal``: gain · Q with Q exactly (semi-)orthogonal (torch's ``orthogonal_``, Saxe et al.):
  W Wᵀ = I when fan_out ≤ fan_in, else Wᵀ W = I;
- ``default``: every parameter stays as the family built it (a baseline for a sweep over schemes).

Biases are set to zero (``bias: zero``, what Keras does), a parameter the family built as exactly
zero stays zero (``keep_zero``: conditional LayerNorm's projections, a flat-start discriminator),
and 1-D parameters that are no bias (normalisation scales) are left alone.

The draws come from a generator of their own, seeded from the run's seed, so the data order,
dropout and every other random stream of the run are those of the same run without the trick. It
runs in the callback's ``setup``, before Lightning restores a checkpoint and before any other
trick's callback copies the weights (``ema``'s average starts from the initialised weights). A
resumed run's checkpoint then replaces the weights, so resuming stays bit-exact.

:func:`mean_abs_cos` and :func:`singular_value_range` state what the geometric scheme gives, and
``tests/test_init_geometry.py`` checks them.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Mapping

import lightning.pytorch as pl
import torch
from torch import nn

from pipeline import PipelineError, Trick
from plugins.tricks.patterns import matches, parameter_names, require_matches

SCHEMES = ("default", "xavier", "he", "geometric", "orthogonal")
# Mixed into the run's seed, so the scheme's draws are a stream of their own.
SEED_OFFSET = 0x1417
REFRESH = 15  # evaluations of a re-drawn parametrized weight, as many as torch's spectral_norm


def fans(shape: torch.Size) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape`` (out, in, *kernel), as torch counts them."""
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def draw(scheme: str, shape: torch.Size, gain: float, generator: torch.Generator) -> torch.Tensor:
    """A float64 CPU tensor of ``shape`` drawn by ``scheme`` (any but ``default``)."""
    values = torch.empty(shape, dtype=torch.float64)
    if scheme == "orthogonal":
        return nn.init.orthogonal_(values, gain, generator=generator)
    fan_in, fan_out = fans(shape)
    variance = {"xavier": 2 / (fan_in + fan_out), "he": 2 / fan_in, "geometric": 1 / fan_in}
    return values.normal_(0.0, gain * math.sqrt(variance[scheme]), generator=generator)


def chosen(module: nn.Module, patterns: list[str]) -> Iterator[tuple[str, nn.Parameter]]:
    """The trainable parameters whose names match ``patterns``, in the module's order."""
    for name, param in module.named_parameters():
        if param.requires_grad and matches(name, patterns):
            yield name, param


@torch.no_grad()
def initialise(module: nn.Module, settings: Mapping[str, Any], seed: int) -> list[str]:
    """Apply ``settings`` (the trick's) to ``module`` in place, drawing from a generator seeded
    with ``seed``; return the names of the parameters it set."""
    if settings["scheme"] == "default":
        return []
    generator = torch.Generator().manual_seed(seed)
    changed = []
    for name, param in chosen(module, settings["patterns"]):
        if settings["keep_zero"] and not param.any():
            continue
        if param.dim() >= 2:
            # Drawn on the CPU in float64 and copied, so the weights do not depend on the device.
            param.copy_(draw(settings["scheme"], param.shape, settings["gain"], generator))
        elif settings["bias"] == "zero" and name.rsplit(".", 1)[-1].startswith("bias"):
            param.zero_()
        else:
            continue
        changed.append(name)
    refresh_parametrizations(module, changed)
    return changed


@torch.no_grad()
def refresh_parametrizations(module: nn.Module, changed: list[str]) -> None:
    """Evaluate each parametrized weight among ``changed`` ``REFRESH`` times in training mode.

    A weight under a torch parametrization is set through the parameter the optimizer steps,
    ``<layer>.parametrizations.<name>.original``. Spectral normalisation keeps a power-iteration
    estimate of that matrix's largest singular value, refined at each evaluation in training mode
    and run 15 times when torch registers it; left as it was, the estimate would describe the
    weights the family built, and the normalised weights (and an ``ema`` copy, which evaluates in
    eval mode) would not be normalised.
    """
    for name in changed:
        layer_name, marker, tensor = f".{name}".partition(".parametrizations.")
        if not marker:
            continue
        layer = module.get_submodule(layer_name.removeprefix("."))
        training = layer.training
        layer.train()
        for _ in range(REFRESH):
            getattr(layer, tensor.removesuffix(".original"))
        layer.train(training)


def run_seed() -> int:
    """The seed of the scheme's generator: the run's seed (torch's initial seed), offset."""
    return (torch.initial_seed() + SEED_OFFSET) % 2**63


class Initialise(pl.Callback):
    """Initialises the module when its first fit sets up, before anything else reads its
    weights."""

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = settings
        self.initialised: list[str] | None = None  # the names it set, once it has run

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and self.initialised is None:
            self.initialised = initialise(pl_module, self.settings, run_seed())


class InitTrick(Trick):
    """Checks the patterns name parameters and adds the initialising callback."""

    def check(self, settings, module):
        names = parameter_names(module)
        require_matches("tricks.init.patterns", settings["patterns"], names)
        if settings["scheme"] != "default" and not any(
            p.dim() >= 2 for _, p in chosen(module, settings["patterns"])
        ):
            raise PipelineError(
                f"tricks.init.patterns = {settings['patterns']!r} name no weight matrix of this "
                "model (a parameter of two or more dimensions), so no scheme applies; name its "
                "weights, e.g. ['*weight*']."
            )

    def callbacks(self, settings):
        return [Initialise(settings)]


# --- What the geometric scheme gives (checked by tests/test_init_geometry.py) -------------------


def mean_abs_cos(n: int) -> float:
    """E|cos θ| between two independent isotropic vectors in ℝⁿ: Γ(n/2) / (√π · Γ((n+1)/2)).

    cos θ has density ∝ (1 − t²)^((n−3)/2) on [−1, 1] and E cos²θ = 1/n; the mean |cos| tends to
    √(2 / (π n)) as n grows (2/π at n = 2), so the angle concentrates at 90°.
    """
    return math.exp(math.lgamma(n / 2) - math.lgamma((n + 1) / 2)) / math.sqrt(math.pi)


def singular_value_range(rows: int, cols: int, t: float) -> tuple[float, float]:
    """Where every singular value of a rows × cols matrix with entries N(0, 1/rows) lies with
    probability at least 1 − 2·exp(−t²/2) (Davidson–Szarek; Vershynin 2010, Corollary 5.35):
    [|1 − √(cols/rows)| − t/√rows, 1 + √(cols/rows) + t/√rows], the nonzero ones when
    cols > rows. Their extremes tend to 1 ± √(cols/rows) as both grow."""
    ratio, slack = math.sqrt(cols / rows), t / math.sqrt(rows)
    return max(abs(1 - ratio) - slack, 0.0), 1 + ratio + slack
