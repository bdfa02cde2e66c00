"""Variants that name a recipe: ``model: wgan_gp`` in a spec does what ``dvc exp run -S
model=wgan_gp`` does, composing ``conf/model/wgan_gp.yaml`` with Hydra; its dotted overrides then
apply on top, as ``-S`` values after a group choice do."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from pipeline.compare.spec import NOT_OVERRIDDEN, NOT_PER_VARIANT, Spec
from pipeline.errors import PipelineError

GROUPS = ("model", "optimizer", "trainer")  # the config groups a variant may pick a file of


def choices(overrides: Mapping[str, Any]) -> dict[str, str]:
    """The group choices among ``overrides`` (``model: NAME``); every other key is a dotted path."""
    return {k: v for k, v in overrides.items() if k in GROUPS and isinstance(v, str)}


def with_recipes(spec: Spec, root: Path) -> Spec:
    """``spec`` with its group choices turned into the params.yaml sections they set, per variant;
    unchanged when it makes none."""
    base_choices = choices(spec.base)
    if not base_choices and not any(choices(o) for _, o in spec.variants):
        return spec
    try:
        return _expanded(spec, root / "conf", base_choices)
    except PipelineError as error:
        raise PipelineError(f"{spec.source}: {error}") from error


def _expanded(spec: Spec, conf: Path, base_choices: Mapping[str, str]) -> Spec:
    default = _compose(conf, {}, "base")
    recipes, variants, first = {}, [], None
    for name, overrides in spec.variants:
        own = choices(overrides)
        composed = _compose(conf, {**base_choices, **own}, f"variants.{name}")
        first = first or (name, composed)
        for section, reason in NOT_PER_VARIANT.items():  # the same data for every variant
            if composed.get(section) != first[1].get(section):
                picked = ", ".join(f"{k}: {v}" for k, v in own.items()) or "no recipe"
                raise PipelineError(
                    f"variants.{name} ({picked}) gets another `{section}` than variant "
                    f"{first[0]!r}; {reason}."
                )
        recipes[name] = {
            key: value
            for key, value in composed.items()
            if key not in NOT_OVERRIDDEN and value != default.get(key)
        }
        variants.append((name, {k: v for k, v in overrides.items() if k not in own}))
    base = {k: v for k, v in spec.base.items() if k not in base_choices}
    return dataclasses.replace(spec, base=base, variants=tuple(variants), recipes=recipes)


def _compose(conf: Path, picked: Mapping[str, str], where: str) -> dict[str, Any]:
    for group, name in picked.items():
        if not (conf / group / f"{name}.yaml").is_file():
            known = ", ".join(sorted(p.stem for p in (conf / group).glob("*.yaml")))
            raise PipelineError(
                f"{where}.{group}: {name!r} names no recipe; conf/{group}/ holds {known}."
            )
    from pipeline.params.hydra_groups import compose_params

    return compose_params(conf, [f"{group}={name}" for group, name in picked.items()])
