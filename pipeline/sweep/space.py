"""A search space file: the params.yaml keys a sweep varies, its objective, sampler and pruner."""

from __future__ import annotations

import copy
import enum
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.errors import PipelineError
from pipeline.plugin.schema import Setting, key_path, validate_section
from pipeline.sweep.metric_names import VALIDATION, counterpart, is_validation

# Each section is checked against a schema of Settings; only what relates two keys is by hand.
DIRECTIONS = ("maximize", "minimize")
SCALARS = (str, int, float, bool, type(None))  # what Optuna can store as a categorical choice
SECTION = Setting({}, nullable=True)
TOP = dict.fromkeys(("objective", "params", "fixed", "pruner", "sampler", "heartbeat"), SECTION)
TOP |= {"description": Setting(None), "n_trials": Setting(20, low=1)}
OBJECTIVE = {"metric": Setting("", kinds=(str,)), "direction": Setting("", choices=DIRECTIONS)}
OBJECTIVE |= {
    "select": Setting(None, kinds=(str,)),
    "select_direction": Setting(None, choices=DIRECTIONS),
}
HEARTBEAT = {"interval": Setting(10, low=1), "grace_period": Setting(0, low=1)}
CHOICES = Setting(
    None,
    kinds=(list, dict),
    check=lambda c: isinstance(c, dict) or all(isinstance(v, SCALARS) for v in c),
    expect="a list of numbers, strings, booleans or null; use a mapping of label: value for "
    "sections such as trick sets",
)
REAL, INTEGER, LOG = Setting(None, kinds=(float, int)), Setting(None, kinds=(int,)), Setting(False)
STEP, INT_STEP = Setting(0.0, low=0, low_open=True), Setting(0, low=0, low_open=True)
FIELDS = {"float": {"low": REAL, "high": REAL, "log": LOG, "step": STEP}}  # besides ``type``
FIELDS["int"] = {"low": INTEGER, "high": INTEGER, "log": LOG, "step": INT_STEP}
FIELDS |= {"categorical": {"choices": CHOICES}, "bool": {}, "toggle": {"settings": SECTION}}
TYPE = {"type": Setting("", choices=tuple(FIELDS))}
REQUIRED = {"float": ("low", "high"), "int": ("low", "high"), "categorical": ("choices",)}
# Each sampler (optuna.samplers) and pruner (optuna.pruners): its class, then the options a space
# file may give it.
SAMPLERS = {
    "tpe": "TPESampler seed n_startup_trials n_ei_candidates multivariate group constant_liar "
    "consider_endpoints consider_prior prior_weight consider_magic_clip warn_independent_sampling",
    "random": "RandomSampler seed",
}
PRUNERS = {
    "median": "MedianPruner n_startup_trials n_warmup_steps interval_steps n_min_trials",
    "successive_halving": "SuccessiveHalvingPruner min_resource reduction_factor "
    "min_early_stopping_rate bootstrap_count",
    "hyperband": "HyperbandPruner min_resource max_resource reduction_factor bootstrap_count",
    "none": "NopPruner",
}
PRUNER = {"type": Setting("none", choices=tuple(PRUNERS)), "monitor": Setting(None, kinds=(str,))}
PRUNER["monitor_direction"] = Setting(None, choices=DIRECTIONS)
SAMPLER = {"type": Setting("tpe", choices=tuple(SAMPLERS))}
ALGORITHMS = {"sampler": SAMPLERS, "pruner": PRUNERS}
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
                self.key, self.low, self.high, log=self.log, step=self.step or 1
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
    metric: str  # the test metric reported for every trial (metrics/evaluate.json)
    direction: str  # the direction in which ``metric`` improves
    fixed: Mapping[str, Any]
    monitor: str | None  # the validation metric reported to the pruner after every epoch
    monitor_direction: str  # the direction in which it improves
    pruner: Mapping[str, Any]  # its type, then the options of its Optuna class
    sampler: Mapping[str, Any]  # its type, then the options of its Optuna class
    n_trials: int
    heartbeat: tuple[int, int]  # seconds between a running trial's signs of life; grace period
    select: str = ""  # the validation metric trials are ranked on: the study's objective value
    select_direction: str = "maximize"  # the direction in which ``select`` improves
    select_derived: bool = False  # ``select`` was not given: the counterpart of ``metric``

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
        n = max((len(p.edges()) for p in self.params), default=1)
        return [self.resolve(base, lambda p, i=i: p.edges()[i % len(p.edges())]) for i in range(n)]

    def touched(self) -> list[str]:
        """Every key path the space writes (fixed and searched)."""
        return [*self.fixed, *(p.key for p in self.params)]


def load_space(spec: str, root: Path) -> Space:
    """Read and check the space file ``spec``: a path, or a name under ``conf/sweep/``."""
    from pipeline.params.yaml_io import read_conf_file

    return parse_space(*read_conf_file(spec, root, "sweep", "search space"))


def section(path: str, values: Any, schema: dict, required=(), extra=False) -> dict[str, Any]:
    """``values`` checked against ``schema``, defaults filled in, each of ``required`` given."""
    checked = validate_section(path, values, schema, allow_extra=extra)
    for name in required:
        if name not in (values or {}):
            expected = schema[name].describe()
            raise PipelineError(f"{key_path(path, name)} is missing; expected {expected}.")
    return checked


def parse_param(key: str, spec: Any) -> Param:
    """One entry of ``params``: the searched key path and its distribution."""
    where = f"params.{key}"
    kind = section(where, spec, TYPE, ("type",), extra=True)["type"]
    spec = section(where, spec, TYPE | FIELDS[kind], REQUIRED.get(kind, ()))
    if kind in ("float", "int"):
        low, high, step, log = spec["low"], spec["high"], spec["step"] or None, spec["log"]
        if low > high:
            raise PipelineError(f"{where}.low = {low} is above high = {high}; swap them.")
        if log and (low <= 0 or step is not None):
            needs = "a log scale needs low > 0 and no step"
            raise PipelineError(f"{where}.log is true with low = {low} and step = {step}: {needs}.")
        return Param(key, kind, low=low, high=high, log=log, step=step)
    if kind == "categorical":  # a mapping is labelled: Optuna stores the label, params the value
        pairs = tuple(c.items() if isinstance(c := spec["choices"], dict) else ((v, v) for v in c))
        if not pairs:
            raise PipelineError(f"{where}.choices is empty; give at least one choice.")
        return Param(key, kind, choices=pairs)
    on = True if kind == "bool" else dict(spec["settings"] or {})
    return Param(key, kind, choices=((True, on), (False, False if kind == "bool" else MISSING)))


def _algorithm(kind: str, values: Any) -> dict[str, Any]:
    """The pruner or sampler section: its type, then the options its Optuna class takes."""
    schema = PRUNER if kind == "pruner" else SAMPLER
    chosen = section(kind, values, schema, extra=True)["type"]
    options = dict.fromkeys(ALGORITHMS[kind][chosen].split()[1:], Setting(None))
    given = section(kind, values, schema | options)
    return {k: v for k, v in given.items() if k in schema or k in (values or {})}


def parse_space(data: Any, source: str, name: str) -> Space:
    """Turn a loaded space mapping into a :class:`Space`, naming the exact key of any mistake."""
    try:
        if not isinstance(data, Mapping):
            raise PipelineError(f"the file holds {data!r}, not a mapping of {', '.join(TOP)}.")
        data = section("", data, TOP)
        objective = section("objective", data["objective"], OBJECTIVE, ("direction",))
        direction = objective["direction"]
        if not objective["metric"]:
            stage = "the evaluate stage (metrics/evaluate.json)"
            raise PipelineError(f"objective.metric must name a metric of {stage}, e.g. accuracy.")
        if not data["params"]:
            example = "add at least one key path to search, e.g. optimizer.lr"
            raise PipelineError(f"params is empty; {example}.")
        params = tuple(parse_param(str(key), spec) for key, spec in data["params"].items())
        pruner = _algorithm("pruner", data["pruner"])
        sampler = _algorithm("sampler", data["sampler"])
        heartbeat = section("heartbeat", data["heartbeat"], HEARTBEAT)
        interval = heartbeat["interval"]
        grace = heartbeat["grace_period"] or 3 * interval
        if grace <= interval:
            message = f"heartbeat.grace_period {grace} must exceed heartbeat.interval {interval}"
            raise PipelineError(f"{message}, or live trials would be declared dead.")
        if pruner["type"] != "none" and not pruner["monitor"]:
            metric = "the validation metric reported each epoch (e.g. val_loss, val_acc)"
            raise PipelineError(f"pruner.monitor must name {metric} for pruner {pruner['type']!r}.")
        select, select_direction = selection(objective)
        monitor = pruner.pop("monitor")
        watch = pruner.pop("monitor_direction") or select_direction
        fixed, heartbeat = dict(data["fixed"] or {}), (interval, grace)
        args = (fixed, monitor, watch, pruner, sampler, data["n_trials"], heartbeat)
        space = Space(
            source,
            name,
            params,
            objective["metric"],
            direction,
            *args,
            select=select,
            select_direction=select_direction,
            select_derived=objective["select"] is None,
        )
        for key in space.touched():
            reason = FROZEN.get(key.split(".")[0])
            if reason:
                refused = f"{key} cannot be searched or fixed by a sweep, because {reason}"
                raise PipelineError(f"{refused}; set it in params.yaml.")
        return space
    except PipelineError as error:
        raise PipelineError(f"{source}: {error}") from error


def selection(objective: Mapping[str, Any]) -> tuple[str, str]:
    """The validation metric trials are ranked on, and its direction.

    Ranking trials on a test metric would pick the trial that happens to fit the test split; the
    test metric is reported, the validation metric selects. Without ``select``, the counterpart
    of ``metric`` (``accuracy`` → ``val_acc``) is used, checked later against what the family logs.
    """
    select = objective["select"] or counterpart(objective["metric"])
    if not is_validation(select):
        logged = f"a validation metric training logs ({VALIDATION}*), e.g. val_acc or val_loss"
        raise PipelineError(f"objective.select = {select!r} must name {logged}.")
    return select, objective["select_direction"] or objective["direction"]


def sampler_and_pruner(space: Space, worker: int = 0, started: int = 0) -> dict[str, Any]:
    """The sampler and pruner the space names, built with its options (``load_study``'s)."""
    options = {k: v for k, v in space.sampler.items() if k != "type"}
    seed = options.pop("seed", 0)
    if space.sampler["type"] == "tpe":  # running trials count as provisional results: spread out
        options.setdefault("constant_liar", True)
    if seed is not None:  # each worker, and each resumed run, draws from its own stream
        options["seed"] = int(seed) + 1000 * worker + 100_003 * started
    pruning = {k: v for k, v in space.pruner.items() if k != "type"}
    built = {}
    for kind, given in (("sampler", options), ("pruner", pruning)):
        name = ALGORITHMS[kind][getattr(space, kind)["type"]].split()[0]
        cls = pkgutil.resolve_name(f"optuna.{kind}s:{name}")
        try:
            built[kind] = cls(**given)
        except (TypeError, ValueError) as error:
            refused = f"{kind} {cls.__name__} rejected its options {given}"
            raise PipelineError(f"{space.source}: {refused}: {error}.") from error
    return built
