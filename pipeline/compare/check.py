"""Everything about a comparison that can be wrong, refused in one sentence before any run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from pipeline.compare.spec import Spec
from pipeline.errors import PipelineError
from pipeline.params.validate import validate
from pipeline.sweep.metric_names import is_validation, shown

SETUP_ATTR = "compare.setup"  # study user attr: what its runs were made with


def check_variants(spec: Spec, params: Mapping[str, Any], registry) -> dict[str, dict[str, Any]]:
    """Each variant's params, validated as ``pipeline run`` validates params.yaml."""
    checked = {}
    for variant in spec.names:
        try:
            checked[variant] = validate(spec.raw_params(params, variant, spec.seeds[0]), registry)
        except PipelineError as error:
            where = f"{spec.source}: variant {variant!r} does not fit params.yaml"
            raise PipelineError(f"{where}: {error}") from error
    return checked


def default_metrics(root: Path, family: str, produced: list[str]) -> list[str]:
    """The family's objective: its shipped sweep space's test metric, else all it produces."""
    from pipeline.params.yaml_io import read_yaml_file

    space = root / "conf" / "sweep" / f"{family}.yaml"
    if space.is_file():
        metric = (read_yaml_file(space, "search space").get("objective") or {}).get("metric")
        if metric in produced:
            return [metric]
    return produced


def check_metrics(
    spec: Spec, variants: Mapping[str, Mapping[str, Any]], registry, prepared: Path, root: Path
) -> list[str]:
    """The metrics to report (their shown names), each produced by every variant's family."""
    from pipeline.data.prepared import PreparedData
    from pipeline.sweep.command import produced_metrics

    data, names = PreparedData.load(prepared), list(spec.metrics)
    for variant, params in variants.items():
        produced, logged = produced_metrics(registry, params, data)
        if not names:
            names = default_metrics(root, params["model"]["family"], produced)
        for name in names:
            known, kind = (logged, "logs") if is_validation(name) else (produced, "produces")
            if name not in known:
                where = f"{spec.source}: metric {name!r} is not produced by variant {variant!r}"
                offered = f"its family {params['model']['family']!r} {kind}: {', '.join(known)}"
                split = "evaluate keys are test metrics, val_* names validation ones"
                raise PipelineError(f"{where}; {offered} ({split}).")
    return [shown(name) for name in names]


def setup_of(spec: Spec, params: Mapping[str, Any]) -> dict[str, Any]:
    """What a comparison's runs depend on besides the seed: params.yaml, base, overrides, vary."""
    variants = {name: {**spec.recipes.get(name, {}), **o} for name, o in spec.variants}
    setup = {"params": dict(params), "base": dict(spec.base), "variants": variants}
    return json.loads(json.dumps(setup | {"vary": sorted(spec.vary)}, default=str))


def check_setup(study, spec: Spec, params: Mapping[str, Any]) -> None:
    """Refuse to continue a comparison whose finished runs were made with other settings; new
    seeds and new variants may be added."""
    new = setup_of(spec, params)
    old = study.user_attrs.get(SETUP_ATTR)
    if old is not None:
        same = {k: old[k] == new[k] for k in ("params", "base", "vary")}
        same |= {
            f"variant {name!r}": old["variants"][name] == overrides
            for name, overrides in new["variants"].items()
            if name in old["variants"]
        }
        changed = [what for what, equal in same.items() if not equal]
        if changed:
            what = ", ".join(changed).replace("params", "params.yaml")
            raise PipelineError(
                f"comparison {spec.name!r} ran with another {what}; its finished runs would not "
                "compare: restore it, or give the spec another `name`."
            )
        new["variants"] = old["variants"] | new["variants"]
    study.set_user_attr(SETUP_ATTR, new)
