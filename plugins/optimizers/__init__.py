"""The built-in base optimizers: every one and its own settings, in one table.

Registered by entry point exactly as a third-party optimizer package is. Each ``load`` is a lazy
reference straight to a torch optimizer class (torch's constructors take the parameter groups,
``lr``, ``weight_decay`` and their own settings as keywords, which is what the core passes), and
each ``rule`` to the update written out in numpy (:mod:`plugins.optimizers.rules`), which the
optimizer contract test holds the class to. Nothing here imports torch.
"""

from __future__ import annotations

from pipeline import OptimizerSpec, Setting, hookimpl


def _momentum(doc: str) -> Setting:
    return Setting(0.9, doc, low=0, high=1, high_open=True)


OPTIMIZERS = [
    OptimizerSpec(
        "sgd",
        "plain stochastic gradient descent (torch.optim.SGD)",
        load="torch.optim:SGD",
        rule="plugins.optimizers.rules:sgd",
    ),
    OptimizerSpec(
        "momentum",
        "SGD with heavy-ball momentum (torch.optim.SGD, momentum)",
        load="torch.optim:SGD",
        settings={"momentum": _momentum("heavy-ball momentum β (used by momentum and rmsprop)")},
        rule="plugins.optimizers.rules:momentum",
    ),
    OptimizerSpec(
        "adam",
        "Adam (torch.optim.Adam)",
        load="torch.optim:Adam",
        rule="plugins.optimizers.rules:adam",
    ),
    OptimizerSpec(
        "adamw",
        "Adam with decoupled weight decay (torch.optim.AdamW)",
        load="torch.optim:AdamW",
        rule="plugins.optimizers.rules:adamw",
    ),
    OptimizerSpec(
        "rmsprop",
        "RMSprop, optionally with momentum (torch.optim.RMSprop)",
        load="torch.optim:RMSprop",
        settings={
            "momentum": _momentum("momentum on the scaled step (used by momentum and rmsprop)")
        },
        rule="plugins.optimizers.rules:rmsprop",
    ),
]


@hookimpl
def pipeline_optimizers():
    return OPTIMIZERS
