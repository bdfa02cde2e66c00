"""A comparison spec file: the variants to compare, the seeds each runs on, the metrics reported."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError
from pipeline.plugin.schema import Setting, validate_section
from pipeline.sweep.space import put

SECTION = Setting({}, nullable=True)
NAME = re.compile(r"[A-Za-z0-9_.-]+")  # a comparison's name is a folder name
SOURCES = ("init", "order", "split")  # what a seed can vary
TOP = {
    "name": Setting(None, kinds=(str,), check=NAME.fullmatch, expect="letters, digits, _ . -"),
    "description": Setting(None),
    "base": SECTION,
    "variants": SECTION,
    "seeds": Setting(
        3,
        kinds=(int, list),
        check=lambda s: (s >= 2) if isinstance(s, int) else _distinct_seeds(s),
        expect="a number of seeds (at least 2) or a list of at least 2 distinct integers >= 0",
    ),
    "metrics": Setting(
        None,
        kinds=(list,),
        check=lambda m: bool(m) and all(isinstance(x, str) for x in m),
        expect="a non-empty list of metric names",
    ),
    "baselines": Setting(
        None,
        kinds=(dict,),
        check=lambda b: all(isinstance(k, str) and _names(v) for k, v in b.items()),
        expect="a mapping of a metric to the metric (or list of metrics) of the same run it is "
        "compared with, e.g. {parse_f1: parse_f1_balanced}",
    ),
    "vary": Setting(
        ["init", "order"],
        kinds=(list,),
        check=lambda v: set(v) <= set(SOURCES) and {"init", "order"} <= set(v),
        expect="a list holding init and order (both follow params.seed), and optionally split",
    ),
}
# What an override may not set, and why.
NOT_OVERRIDDEN = {
    "seed": "`seeds` sets it for every run",
    "tracking": "every run is recorded under the comparison's run in one MLflow experiment",
}
NOT_PER_VARIANT = {"data": "paired runs must see the same data; set it in `base` instead"}


def _names(value: Any) -> bool:
    names = value if isinstance(value, list) else [value]
    return bool(names) and all(isinstance(name, str) and name for name in names)


def _distinct_seeds(seeds: list) -> bool:
    ints = all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    return ints and len(seeds) >= 2 and len(set(seeds)) == len(seeds)


@dataclass(frozen=True)
class Spec:
    """A parsed comparison spec."""

    source: str
    name: str
    base: Mapping[str, Any]  # dotted overrides applied to every run
    variants: tuple[
        tuple[str, Mapping[str, Any]], ...
    ]  # (name, dotted overrides); first: reference
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]  # evaluate keys (test) or val_* names; empty: the family's default
    vary: frozenset[str]  # init and order always; split when each seed prepares its own split
    # variant -> the params.yaml sections its recipes (``model: NAME``) replace, before any override
    recipes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # (metric, baseline metric of the same run), each compared seed by seed
    baselines: tuple[tuple[str, str], ...] = ()

    @property
    def reference(self) -> str:
        """The variant every other one is compared with."""
        return self.variants[0][0]

    @property
    def names(self) -> list[str]:
        """The variants' names, the reference first."""
        return [name for name, _ in self.variants]

    def raw_params(self, params: Mapping[str, Any], variant: str, seed: int) -> dict[str, Any]:
        """``params`` (params.yaml) with the base, then the variant's overrides, and the seed."""
        raw = copy.deepcopy(dict(params))
        raw.update(copy.deepcopy(dict(self.recipes.get(variant, {}))))
        for key, value in (*self.base.items(), *dict(self.variants)[variant].items()):
            put(raw, key, copy.deepcopy(value))
        raw["seed"] = seed
        return raw

    def split_seed(self, params: Mapping[str, Any], seed: int) -> int:
        """The seed of the data split a run trains on: its own, or params.yaml's for all."""
        return seed if "split" in self.vary else int(params.get("seed", 0))


def load_spec(spec: str, root: Path) -> Spec:
    """Read and check the spec ``spec``: a path, or a name under ``conf/compare/``."""
    from pipeline.params.yaml_io import read_conf_file

    return parse_spec(*read_conf_file(spec, root, "compare", "comparison spec"))


def parse_spec(data: Any, source: str, stem: str) -> Spec:
    """Turn a loaded spec mapping into a :class:`Spec`, naming the exact key of any mistake."""
    try:
        if not isinstance(data, Mapping):
            raise PipelineError(f"the file holds {data!r}, not a mapping of {', '.join(TOP)}.")
        data = validate_section("", data, TOP)
        base = _overrides("base", data["base"], NOT_OVERRIDDEN)
        variants = data["variants"] or {}
        if not variants:
            example = "e.g. none: {} and ema: {tricks.ema: {}}; the first is the reference"
            raise PipelineError(f"variants must name at least one variant ({example}).")
        parsed = []
        for name, overrides in variants.items():
            if not isinstance(name, str) or not NAME.fullmatch(name):
                raise PipelineError(
                    f"variants.{name} is not a valid name; use letters, digits, _ . -"
                )
            forbidden = NOT_OVERRIDDEN | NOT_PER_VARIANT
            parsed.append((name, _overrides(f"variants.{name}", overrides, forbidden)))
        seeds = data["seeds"]
        seeds = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
        pairs = tuple(
            (metric, baseline)
            for metric, named in (data["baselines"] or {}).items()
            for baseline in (named if isinstance(named, list) else [named])
        )
        metrics = tuple(dict.fromkeys([*(data["metrics"] or ()), *(m for p in pairs for m in p)]))
        name = data["name"] or stem
        if not NAME.fullmatch(name):
            raise PipelineError(f"the file name {stem!r} is no valid comparison name; set `name`.")
        vary = frozenset(data["vary"])
        return Spec(source, name, base, tuple(parsed), seeds, metrics, vary, baselines=pairs)
    except PipelineError as error:
        raise PipelineError(f"{source}: {error}") from error


def _overrides(where: str, values: Any, forbidden: Mapping[str, str]) -> dict[str, Any]:
    """A mapping of dotted key paths to values, as ``dvc exp run -S key=value`` sets them."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        example = "e.g. {trainer.max_epochs: 3}"
        raise PipelineError(f"{where} must be a mapping of dotted key paths to values ({example}).")
    for key in values:
        reason = forbidden.get(str(key).split(".")[0])
        if reason:
            raise PipelineError(f"{where}.{key} cannot be set here, because {reason}.")
    return {str(key): value for key, value in values.items()}
