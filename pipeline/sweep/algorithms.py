"""Optuna's samplers and pruners, built from the space file's ``sampler:`` and ``pruner:`` sections."""
from __future__ import annotations

import inspect
from typing import Any, Mapping

from pipeline.errors import PipelineError


def _classes(kind: str) -> dict[str, type]:
    import optuna

    if kind == "pruner":
        return {"median": optuna.pruners.MedianPruner, "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
                "hyperband": optuna.pruners.HyperbandPruner, "none": optuna.pruners.NopPruner}
    return {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}


def build_pruner(space) -> Any:
    """The pruner the space names, with its options (checked against the pruner's own arguments)."""
    return _build("pruner", space.pruner, space.pruner_options, space.source)


def build_sampler(space, worker: int = 0, started: int = 0) -> Any:
    """The sampler the space names; each worker (and each resumed run) draws from its own seeded stream."""
    options = dict(space.sampler_options)
    seed = options.pop("seed", 0)
    if space.sampler == "tpe":
        # Workers sharing a study see each other's running trials as provisional results, so
        # parallel workers do not all sample the same promising point.
        options.setdefault("constant_liar", True)
    if seed is not None:
        # Distinct streams: same seed on two workers (or on a resumed run) would repeat draws.
        options["seed"] = int(seed) + 1000 * worker + 100_003 * started
    return _build("sampler", space.sampler, options, space.source)


def check_options(space) -> None:
    """Build the pruner and sampler once so a bad option fails before any trial."""
    build_pruner(space)
    build_sampler(space)


def _build(kind: str, name: str, options: Mapping[str, Any], source: str) -> Any:
    import warnings

    import optuna

    cls = _classes(kind)[name]
    accepted = {name for name, p in inspect.signature(cls.__init__).parameters.items()
                if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    for key in options:
        if key not in accepted:
            raise PipelineError(f"{source}: {kind}.{key} is not an option of {cls.__name__}; valid: {', '.join(sorted(accepted)) or 'none'}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(**options)
    except (TypeError, ValueError) as error:
        raise PipelineError(f"{source}: {kind} {name!r} rejected its options {dict(options)}: {error}.") from error
