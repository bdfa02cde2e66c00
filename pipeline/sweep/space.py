"""A search space file: the params.yaml keys a sweep varies, its objective, sampler and pruner."""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.errors import PipelineError

TYPES = ("float", "int", "categorical", "bool", "toggle")
FIELDS = {
    "float": ("high", "log", "low", "step"),
    "int": ("high", "log", "low", "step"),
    "categorical": ("choices",),
    "bool": (),
    "toggle": ("settings",),
}
DIRECTIONS = ("maximize", "minimize")
PRUNERS = ("median", "successive_halving", "hyperband", "none")
SAMPLERS = ("tpe", "random")
TOP_LEVEL = (
    "description",
    "objective",
    "params",
    "fixed",
    "pruner",
    "sampler",
    "n_trials",
    "heartbeat",
)
SCALARS = (str, int, float, bool, type(None))  # what Optuna can store as a categorical choice
FROZEN = {
    "seed": "it also fixes the data split, which a sweep prepares once for all trials",
    "data": "a sweep prepares the data once and shares it between trials",
    "tracking": "every trial is recorded as a child of the sweep's run in one MLflow experiment",
}


class _Missing(enum.Enum):
    MISSING = "missing"  # an enum member pickles as itself, so spawned workers recognize it


MISSING = _Missing.MISSING  # an absent key: a toggle switched off, a param never suggested


def get(tree: Mapping[str, Any], key: str) -> Any:
    """The value at dotted ``key`` (``optimizer.lr``), or :data:`MISSING`."""
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def put(tree: dict, key: str, value: Any) -> None:
    """Set dotted ``key`` (creating sections), or delete it when ``value`` is :data:`MISSING`."""
    *heads, last = key.split(".")
    for part in heads:
        if not isinstance(tree.get(part), dict):
            if value is MISSING:
                return
            tree[part] = {}
        tree = tree[part]
    if value is MISSING:
        tree.pop(last, None)
    else:
        tree[last] = value


@dataclass(frozen=True)
class Param:
    """One searched key: a distribution over numbers, or labelled choices."""

    key: str
    kind: str  # float, int, categorical, bool or toggle
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[tuple[Any, Any], ...] = ()  # (label Optuna stores, value written into params)

    def suggest(self, trial) -> Any:
        """Ask the Optuna trial for this key's label (the number itself for float and int)."""
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        return trial.suggest_categorical(self.key, [label for label, _ in self.choices])

    def value(self, label: Any) -> Any:
        """The params value for a stored label (a fresh copy, or :data:`MISSING`)."""
        for known, value in self.choices:
            if known == label and type(known) is type(label):
                return copy.deepcopy(value)
        return label

    def edges(self) -> list[Any]:
        """Both bounds, or every choice: the labels checked before any trial."""
        if self.choices:
            return [label for label, _ in self.choices]
        if self.kind == "int":
            step, low = int(self.step or 1), int(self.low)
            return [low, low + step * ((int(self.high) - low) // step)]
        return [self.low, self.high]

    def describe(self) -> str:
        """The distribution in a few words (MLflow params)."""
        if self.choices:
            return f"{self.kind}{[label for label, _ in self.choices]}"
        extra = (", log" if self.log else "") + (f", step {self.step}" if self.step else "")
        return f"{self.kind}[{self.low}, {self.high}{extra}]"


@dataclass(frozen=True)
class Space:
    """A parsed space file."""

    source: str
    name: str
    params: tuple[Param, ...]
    metric: str
    direction: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    pruner: str = "none"
    monitor: str | None = None
    monitor_direction: str | None = None
    pruner_options: Mapping[str, Any] = field(default_factory=dict)
    sampler: str = "tpe"
    sampler_options: Mapping[str, Any] = field(default_factory=dict)
    n_trials: int = 20
    heartbeat_interval: int = 10
    grace_period: int = 30

    def resolve(self, base: Mapping[str, Any], pick: Callable[[Param], Any]) -> dict[str, Any]:
        """``base`` with the fixed values, then each active param's picked label, in file order."""
        raw = copy.deepcopy(dict(base))
        for key, value in self.fixed.items():
            put(raw, key, copy.deepcopy(value))
        for index, param in enumerate(self.params):
            # A key under an earlier searched key (a trick's setting under its toggle) is searched
            # only while that parent is on; any other missing parent is left to validation.
            parent = param.key.rpartition(".")[0]
            nested = any(param.key.startswith(p.key + ".") for p in self.params[:index])
            if nested and not isinstance(get(raw, parent), Mapping):
                continue
            label = pick(param)
            if label is not MISSING:
                put(raw, param.key, param.value(label))
        return raw

    def suggest(self, trial, base: Mapping[str, Any]) -> dict[str, Any]:
        """Raw params for an Optuna trial (switched-off keys are never suggested)."""
        return self.resolve(base, lambda param: param.suggest(trial))

    def apply(self, base: Mapping[str, Any], labels: Mapping[str, Any]) -> dict[str, Any]:
        """Raw params for the labels a finished trial stored (``trial.params``)."""
        return self.resolve(base, lambda param: labels.get(param.key, MISSING))

    def corners(self, base: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Raw params in which every bound and every choice appears at least once."""
        count = max((len(p.edges()) for p in self.params), default=1)
        return [
            self.resolve(base, lambda p, i=i: p.edges()[i % len(p.edges())]) for i in range(count)
        ]

    def touched(self) -> list[str]:
        """Every key path the space writes (fixed and searched)."""
        return [*self.fixed, *(p.key for p in self.params)]


def find_space(spec: str, root: Path) -> Path:
    """The space file ``spec`` names: a path, or a name under ``conf/sweep/``."""
    folder = root / "conf" / "sweep"
    for candidate in (Path(spec), root / spec, folder / spec, folder / f"{spec}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
    raise PipelineError(
        f"search space {spec!r} not found; give a YAML file path or one of conf/sweep/: {known}."
    )


def load_space(spec: str, root: Path) -> Space:
    """Read and check the space file ``spec`` (its structure; the project checks come later)."""
    from pipeline.params.yaml_io import read_yaml_file

    path = find_space(spec, root)
    try:
        source = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        source = str(path)
    return parse_space(read_yaml_file(path, "search space"), source, path.stem)


def parse_space(data: Any, source: str, name: str) -> Space:
    """Turn a loaded space mapping into a :class:`Space`, naming the exact key of any mistake."""

    def fail(message: str) -> PipelineError:
        return PipelineError(f"{source}: {message}")

    def mapping(value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise fail(f"{where} must be a mapping, got {value!r}.")
        return value

    def known(section: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        unknown = sorted(str(k) for k in set(section) - set(allowed))
        if unknown:
            raise fail(f"{prefix}{unknown[0]} is not a known key; known: {', '.join(allowed)}.")

    def choice(value: Any, allowed: tuple[str, ...], where: str, noun: str = "value") -> str:
        if value not in allowed:
            raise fail(f"{where} = {value!r} is not a known {noun}; valid: {', '.join(allowed)}.")
        return value

    def count(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(f"{where} = {value!r} is invalid; expected a positive integer.")
        return value

    def param(key: str, spec: Any) -> Param:
        where = f"params.{key}"
        spec = mapping(spec, where)
        kind = choice(spec.get("type"), TYPES, f"{where}.type", noun="distribution type")
        known(spec, ("type", *FIELDS[kind]), f"{where}.")
        if kind in ("float", "int"):
            number = int if kind == "int" else (int, float)
            for bound in ("low", "high", "step"):
                value = spec.get(bound)
                if value is None and bound != "step":
                    raise fail(f"{where}.{bound} is missing; a {kind} param needs low and high.")
                if value is not None and (isinstance(value, bool) or not isinstance(value, number)):
                    expected = "an integer" if kind == "int" else "a number"
                    raise fail(f"{where}.{bound} = {value!r} is invalid; expected {expected}.")
            low, high, step = spec["low"], spec["high"], spec.get("step")
            log = spec.get("log", False)
            if not isinstance(log, bool):
                raise fail(f"{where}.log = {log!r} is invalid; expected true or false.")
            if low > high:
                raise fail(f"{where}.low = {low} is above high = {high}; swap them.")
            if log and low <= 0:
                raise fail(
                    f"{where}.low = {low} is invalid with log: true; a log scale needs low > 0."
                )
            if step is not None and (step <= 0 or log):
                raise fail(
                    f"{where}.step = {step} is invalid; it must be positive and cannot be "
                    "combined with log: true."
                )
            return Param(key, kind, low=low, high=high, log=log, step=step)
        if kind == "bool":
            return Param(key, kind, choices=((True, True), (False, False)))
        if kind == "toggle":
            settings = dict(mapping(spec.get("settings") or {}, f"{where}.settings"))
            return Param(key, kind, choices=((True, settings), (False, MISSING)))
        choices = spec.get("choices")
        if isinstance(choices, Mapping):  # labelled: Optuna stores the label, params get the value
            pairs = tuple(choices.items())
        elif isinstance(choices, list):
            pairs = tuple((value, value) for value in choices)
        else:
            raise fail(f"{where}.choices must be a list of values or a mapping of label: value.")
        if not pairs:
            raise fail(f"{where}.choices is empty; give at least one choice.")
        bad = [label for label, _ in pairs if not isinstance(label, SCALARS)]
        if bad:
            raise fail(
                f"{where}.choices holds {bad[0]!r}; list choices must be numbers, strings, "
                "booleans or null — use a mapping of label: value for sections such as "
                "trick sets."
            )
        return Param(key, kind, choices=pairs)

    data = mapping(data, "the file")
    known(data, TOP_LEVEL, "")
    objective = mapping(data.get("objective"), "objective")
    known(objective, ("metric", "direction"), "objective.")
    metric = objective.get("metric")
    if not isinstance(metric, str) or not metric:
        raise fail(
            "objective.metric must name a metric of the evaluate stage "
            "(metrics/evaluate.json), e.g. accuracy."
        )
    direction = choice(objective.get("direction"), DIRECTIONS, "objective.direction")
    raw_params = mapping(data.get("params"), "params")
    if not raw_params:
        raise fail("params is empty; add at least one key path to search, e.g. optimizer.lr.")
    params = tuple(param(str(key), spec) for key, spec in raw_params.items())
    pruner = mapping(data.get("pruner") or {"type": "none"}, "pruner")
    sampler = mapping(data.get("sampler") or {"type": "tpe"}, "sampler")
    heartbeat = mapping(data.get("heartbeat") or {}, "heartbeat")
    known(heartbeat, ("interval", "grace_period"), "heartbeat.")
    interval = count(heartbeat.get("interval", 10), "heartbeat.interval")
    grace = count(heartbeat.get("grace_period", 3 * interval), "heartbeat.grace_period")
    if grace <= interval:
        raise fail(
            f"heartbeat.grace_period {grace} must exceed heartbeat.interval {interval}, "
            "or live trials would be declared dead."
        )
    kind = choice(pruner.get("type"), PRUNERS, "pruner.type")
    monitor = pruner.get("monitor")
    if kind != "none" and (not isinstance(monitor, str) or not monitor):
        raise fail(
            "pruner.monitor must name the validation metric reported each epoch "
            f"(e.g. val_loss, val_acc) for pruner {kind!r}."
        )
    monitor_direction = choice(
        pruner.get("monitor_direction", direction), DIRECTIONS, "pruner.monitor_direction"
    )
    space = Space(
        source=source,
        name=name,
        params=params,
        metric=metric,
        direction=direction,
        fixed=dict(mapping(data.get("fixed") or {}, "fixed")),
        pruner=kind,
        monitor=monitor,
        monitor_direction=monitor_direction,
        pruner_options={
            k: v for k, v in pruner.items() if k not in ("type", "monitor", "monitor_direction")
        },
        sampler=choice(sampler.get("type"), SAMPLERS, "sampler.type"),
        sampler_options={k: v for k, v in sampler.items() if k != "type"},
        n_trials=count(data.get("n_trials", 20), "n_trials"),
        heartbeat_interval=interval,
        grace_period=grace,
    )
    for key in space.touched():
        reason = FROZEN.get(key.split(".")[0])
        if reason:
            raise fail(
                f"{key} cannot be searched or fixed by a sweep, because {reason}; "
                "set it in params.yaml."
            )
    return space
