"""Reads a search-space YAML file into a :class:`Space`, naming the exact key of any mistake."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from pipeline.errors import PipelineError
from pipeline.sweep.dotted import REMOVE
from pipeline.sweep.space import Param, Space

TYPES = ("float", "int", "categorical", "bool", "toggle")
FIELDS = {"float": {"low", "high", "log", "step"}, "int": {"low", "high", "log", "step"},
          "categorical": {"choices"}, "bool": set(), "toggle": {"settings"}}
DIRECTIONS = ("maximize", "minimize")
PRUNERS = ("median", "successive_halving", "hyperband", "none")
SAMPLERS = ("tpe", "random")
TOP_LEVEL = ("description", "objective", "params", "fixed", "pruner", "sampler", "n_trials", "heartbeat")
SCALARS = (str, int, float, bool, type(None))  # what Optuna can store as a categorical choice


def find_space(spec: str, root: Path) -> Path:
    """The space file ``spec`` names: a path, or a name under ``conf/sweep/``."""
    folder = root / "conf" / "sweep"
    for candidate in (Path(spec), root / spec, folder / spec, folder / f"{spec}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
    raise PipelineError(f"search space {spec!r} not found; give a YAML file path or one of conf/sweep/: {known}.")


def load_space(spec: str, root: Path) -> Space:
    """Read and check the space file ``spec`` (structure only; params are checked against the project later)."""
    path = find_space(spec, root)
    source = _shown(path, root)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PipelineError(f"{source} is not valid YAML: {error}.") from error
    return parse_space(data, source, path.stem)


def parse_space(data: Any, source: str, name: str) -> Space:
    """Turn the loaded YAML mapping into a :class:`Space`."""
    data = _mapping(data, source, "the file")
    _known(data, TOP_LEVEL, source, "")
    objective = _mapping(data.get("objective"), source, "objective")
    _known(objective, ("metric", "direction"), source, "objective.")
    metric = objective.get("metric")
    if not isinstance(metric, str) or not metric:
        raise PipelineError(f"{source}: objective.metric must name a metric of the evaluate stage (metrics/evaluate.json), e.g. accuracy.")
    direction = _choice(objective.get("direction"), DIRECTIONS, source, "objective.direction")
    raw_params = _mapping(data.get("params"), source, "params")
    if not raw_params:
        raise PipelineError(f"{source}: params is empty; add at least one key path to search, e.g. optimizer.lr.")
    params = tuple(_param(str(key), spec, source) for key, spec in raw_params.items())
    fixed = _mapping(data.get("fixed") or {}, source, "fixed")
    pruner = _mapping(data.get("pruner") or {"type": "none"}, source, "pruner")
    sampler = _mapping(data.get("sampler") or {"type": "tpe"}, source, "sampler")
    heartbeat = _mapping(data.get("heartbeat") or {}, source, "heartbeat")
    _known(heartbeat, ("interval", "grace_period"), source, "heartbeat.")
    interval = _count(heartbeat.get("interval", 10), source, "heartbeat.interval")
    grace = _count(heartbeat.get("grace_period", 3 * interval), source, "heartbeat.grace_period")
    if grace <= interval:
        raise PipelineError(f"{source}: heartbeat.grace_period {grace} must exceed heartbeat.interval {interval}, or live trials would be declared dead.")
    kind = _choice(pruner.get("type"), PRUNERS, source, "pruner.type")
    monitor = pruner.get("monitor")
    if kind != "none" and (not isinstance(monitor, str) or not monitor):
        raise PipelineError(f"{source}: pruner.monitor must name the validation metric reported each epoch (e.g. val_loss, val_acc) for pruner {kind!r}.")
    monitor_direction = _choice(pruner.get("monitor_direction", direction), DIRECTIONS, source, "pruner.monitor_direction")
    return Space(
        source=source, name=name, params=params, metric=metric, direction=direction, fixed=dict(fixed),
        pruner=kind, monitor=monitor, monitor_direction=monitor_direction,
        pruner_options={k: v for k, v in pruner.items() if k not in ("type", "monitor", "monitor_direction")},
        sampler=_choice(sampler.get("type"), SAMPLERS, source, "sampler.type"),
        sampler_options={k: v for k, v in sampler.items() if k != "type"},
        n_trials=_count(data.get("n_trials", 20), source, "n_trials"),
        heartbeat_interval=interval, grace_period=grace,
    )


def _param(key: str, spec: Any, source: str) -> Param:
    where = f"params.{key}"
    spec = _mapping(spec, source, where)
    kind = _choice(spec.get("type"), TYPES, source, f"{where}.type", noun="distribution type")
    _known(spec, ("type", *sorted(FIELDS[kind])), source, f"{where}.")
    if kind in ("float", "int"):
        return _numeric(key, kind, spec, source)
    if kind == "bool":
        return Param(key, kind, choices=((True, True), (False, False)))
    if kind == "toggle":
        settings = _mapping(spec.get("settings") or {}, source, f"{where}.settings")
        return Param(key, kind, choices=((True, dict(settings)), (False, REMOVE)))
    choices = spec.get("choices")
    if isinstance(choices, Mapping):  # labelled choices: Optuna stores the label, params get the value
        pairs = tuple((label, value) for label, value in choices.items())
        bad = [label for label, _ in pairs if not isinstance(label, SCALARS)]
    elif isinstance(choices, list):
        pairs = tuple((value, value) for value in choices)
        bad = [value for value, _ in pairs if not isinstance(value, SCALARS)]
    else:
        raise PipelineError(f"{source}: {where}.choices must be a list of values or a mapping of label: value.")
    if not pairs:
        raise PipelineError(f"{source}: {where}.choices is empty; give at least one choice.")
    if bad:
        raise PipelineError(f"{source}: {where}.choices holds {bad[0]!r}; list choices must be numbers, strings, booleans or null — use a mapping of label: value for sections such as trick sets.")
    return Param(key, kind, choices=pairs)


def _numeric(key: str, kind: str, spec: Mapping[str, Any], source: str) -> Param:
    where = f"params.{key}"
    number = int if kind == "int" else (int, float)
    values = {}
    for name in ("low", "high", "step"):
        value = spec.get(name)
        if value is None and name != "step":
            raise PipelineError(f"{source}: {where}.{name} is missing; a {kind} param needs low and high.")
        if value is not None and (isinstance(value, bool) or not isinstance(value, number)):
            raise PipelineError(f"{source}: {where}.{name} = {value!r} is invalid; expected {'an integer' if kind == 'int' else 'a number'}.")
        values[name] = value
    low, high, step = values["low"], values["high"], values["step"]
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise PipelineError(f"{source}: {where}.log = {log!r} is invalid; expected true or false.")
    if low > high:
        raise PipelineError(f"{source}: {where}.low = {low} is above high = {high}; swap them.")
    if log and low <= 0:
        raise PipelineError(f"{source}: {where}.low = {low} is invalid with log: true; a log scale needs low > 0.")
    if step is not None and (step <= 0 or log):
        raise PipelineError(f"{source}: {where}.step = {step} is invalid; it must be positive and cannot be combined with log: true.")
    return Param(key, kind, low=low, high=high, log=log, step=step)


def _mapping(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PipelineError(f"{source}: {where} must be a mapping, got {value!r}.")
    return value


def _known(section: Mapping[str, Any], allowed: tuple[str, ...], source: str, prefix: str) -> None:
    unknown = sorted(str(k) for k in set(section) - set(allowed))
    if unknown:
        raise PipelineError(f"{source}: {prefix}{unknown[0]} is not a known key; known: {', '.join(allowed)}.")


def _choice(value: Any, allowed: tuple[str, ...], source: str, where: str, noun: str = "value") -> str:
    if value not in allowed:
        raise PipelineError(f"{source}: {where} = {value!r} is not a known {noun}; valid: {', '.join(allowed)}.")
    return value


def _count(value: Any, source: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PipelineError(f"{source}: {where} = {value!r} is invalid; expected a positive integer.")
    return value


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
