"""Registers Lion as a base optimizer: ``optimizer: {name: lion, lr: 0.0001}`` in params.yaml.

Registration is light (no torch import): ``load`` and ``rule`` are lazy references."""

from pipeline import OptimizerSpec, Setting, hookimpl


@hookimpl
def pipeline_optimizers():
    beta = {"low": 0, "high": 1, "high_open": True}
    return [
        OptimizerSpec(
            "lion",
            "Lion: the sign of interpolated momentum, decoupled weight decay",
            load="pipeline_lion.lion:Lion",
            settings={
                # Lion's steps are ±lr per element: it wants a rate 3–10× below Adam's.
                "lr": Setting(1e-4, "learning rate", low=0, low_open=True),
                "beta1": Setting(0.9, "β₁: momentum weight inside the sign", **beta),
                "beta2": Setting(0.99, "β₂: momentum's own decay", **beta),
            },
            rule="pipeline_lion.rule:lion",
        )
    ]
