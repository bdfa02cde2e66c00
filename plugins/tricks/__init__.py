"""The built-in optimizer tricks: every one, its settings, its order and its conflicts, in one
table.

Registered by entry point exactly as a third-party trick package is. This module stays free of
torch: each spec's ``load`` is a lazy ``"module:Class"`` reference to the trick's implementation
module beside it, imported only when a stage trains. Enabled tricks apply in ascending ``order``
(docs/tricks.md explains the sequence); no pair of built-in tricks conflicts, so all eleven run
together.
"""

from __future__ import annotations

from pipeline import Setting, TrickSpec, hookimpl
from plugins.tricks.patterns import pattern_list, pattern_pairs
from plugins.tricks.points import as_points

# What the capture trick can record of each captured output.
CAPTURED = ("mean", "std", "histogram", "map")

TRICKS = [
    TrickSpec(
        "init",
        "initialise the built model's weights by a scheme (xavier, he, geometric, orthogonal)",
        load="plugins.tricks.init:InitTrick",
        order=5,
        settings={
            "scheme": Setting(
                "orthogonal",
                "default (as built), xavier, he, geometric N(0, gain²/fan_in) or orthogonal",
                choices=("default", "xavier", "he", "geometric", "orthogonal"),
            ),
            "gain": Setting(
                1.0, "multiplies the scheme's scale (√2 suits ReLU)", low=0, low_open=True
            ),
            "patterns": pattern_list(["*"], "parameter-name patterns of the parameters to set"),
            "bias": Setting(
                "zero", "biases among them: set to zero, or keep as built", choices=("zero", "keep")
            ),
            "keep_zero": Setting(True, "leave a parameter the family built as exactly zero"),
        },
    ),
    TrickSpec(
        "grad_accum",
        "gradient accumulation: k micro-batches per optimizer step",
        load="plugins.tricks.grad_accum:GradAccum",
        order=10,
        settings={"k": Setting(2, "micro-batches per optimizer step", kinds=(int,), low=1)},
    ),
    TrickSpec(
        "param_lr",
        "learning-rate multipliers by parameter-name pattern (0 freezes)",
        load="plugins.tricks.param_lr:ParamLr",
        order=20,
        settings={
            "multipliers": pattern_pairs(
                [["*.bias", 2.0]],
                "[pattern, learning-rate multiplier] pairs; first match wins",
                low=0,
            )
        },
    ),
    TrickSpec(
        "weight_decay",
        "decoupled weight decay with exclusions, for any optimizer",
        load="plugins.tricks.weight_decay:WeightDecayTrick",
        order=30,
        settings={
            "rate": Setting(
                0.01,
                "decay rate wd; each step multiplies weights by 1 − lr·wd",
                low=0,
                low_open=True,
            ),
            "exclude": pattern_list([], "parameter-name patterns that are never decayed"),
            "exclude_1d": Setting(
                True, "never decay 1-D parameters (biases, normalisation scales and shifts)"
            ),
        },
    ),
    TrickSpec(
        "orthogonal_reg",
        "soft orthogonality: weight · ‖WᵀW − I‖² on Linear kernels, pushing columns apart",
        load="plugins.tricks.orthogonal_reg:OrthogonalReg",
        order=35,
        settings={
            "weight": Setting(0.001, "weight of the penalty ‖WᵀW − I‖²_F", low=0, low_open=True),
            "patterns": pattern_list(
                ["*"], "patterns naming the Linear layers' weights to regularise, e.g. ['net.0.*']"
            ),
        },
    ),
    TrickSpec(
        "grad_transform",
        "per-parameter gradient transforms: norm clip, value clip, zeroing",
        load="plugins.tricks.grad_transform:GradTransform",
        order=40,
        settings={
            "clip_norm": pattern_pairs(
                [["*", 1.0]], "[pattern, largest gradient L2 norm] pairs", low=0, low_open=True
            ),
            "norm_per": Setting(
                "parameter",
                "clip each matching parameter's norm alone, or one pattern's parameters jointly",
                choices=("parameter", "pattern"),
            ),
            "clip_value": pattern_pairs(
                [], "[pattern, largest absolute gradient element] pairs", low=0, low_open=True
            ),
            "zero": pattern_list([], "parameter-name patterns whose gradients are set to zero"),
        },
    ),
    TrickSpec(
        "lookahead",
        "Lookahead: k fast steps, then slow weights move α toward them",
        load="plugins.tricks.lookahead:LookaheadTrick",
        order=60,
        settings={
            "k": Setting(5, "fast steps per slow update", kinds=(int,), low=1),
            "alpha": Setting(
                0.8, "slow step size α (1 = the base optimizer alone)", low=0, high=1, low_open=True
            ),
        },
    ),
    TrickSpec(
        "lazy_embedding",
        "lazy updates: rows without gradient keep their values and optimizer state",
        load="plugins.tricks.lazy_embedding:LazyEmbedding",
        order=70,
        settings={
            "patterns": pattern_list(
                ["*"], "parameter-name patterns of the parameters updated lazily, e.g. ['*embed*']"
            )
        },
    ),
    TrickSpec(
        "piecewise_lr",
        "piecewise-linear learning-rate schedule given as points",
        load="plugins.tricks.piecewise_lr:PiecewiseLr",
        order=80,
        settings={
            "points": Setting(
                [[0.1, 1.0], [0.5, 1.0], [1.0, 0.1]],
                "[position, learning-rate multiplier] pairs; linear in between",
                kinds=(list,),
                check=lambda v: as_points(v) is not None,
                expect="a non-empty list of [position, multiplier] pairs with distinct positions "
                "≥ 0 and multipliers ≥ 0, such as [[0.1, 1], [1.0, 0.1]]",
            ),
            "unit": Setting(
                "fraction",
                "positions are fractions of the run's optimizer steps, or optimizer steps",
                choices=("fraction", "steps"),
            ),
        },
    ),
    TrickSpec(
        "ema",
        "exponential moving average of the weights for evaluation and export",
        load="plugins.tricks.ema:EmaTrick",
        order=90,
        settings={
            "decay": Setting(
                0.95,
                "α: weight of the old average at each step",
                low=0,
                high=1,
                low_open=True,
                high_open=True,
            )
        },
    ),
    TrickSpec(
        "capture",
        "record chosen modules' outputs on a validation batch: statistics, histograms, maps",
        load="plugins.tricks.capture:CaptureTrick",
        order=95,
        settings={
            "modules": Setting(
                [],
                "module-name patterns, e.g. ['net.2', '*attention*']; [] takes the family's own "
                "choice, else every layer holding weights",
                kinds=(list,),
                check=lambda v: all(isinstance(p, str) and p for p in v),
                expect="a list of module-name patterns such as ['net.0', '*attention*']",
            ),
            "every_n_epochs": Setting(
                5, "record after every n-th epoch (epochs n−1, 2n−1, … counted from 0)", low=1
            ),
            "what": Setting(
                list(CAPTURED),
                f"what to record of each output: any of {', '.join(CAPTURED)}",
                kinds=(list,),
                check=lambda v: bool(v) and all(w in CAPTURED for w in v),
                expect=f"a non-empty list drawn from {', '.join(CAPTURED)}",
            ),
            "bins": Setting(50, "histogram bins", kinds=(int,), low=2),
            "folder": Setting(
                None,
                "where the files go; null: capture/ in the Trainer's default_root_dir",
                kinds=(str,),
                nullable=True,
            ),
        },
    ),
]


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    """Every built-in trick."""
    return list(TRICKS)
