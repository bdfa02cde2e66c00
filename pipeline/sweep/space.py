"""A search space: the params.yaml keys a sweep varies, what it optimizes, and how it samples and prunes."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pipeline.sweep import dotted

MISSING = object()  # a param the trial never suggested (switched off by an earlier toggle)


@dataclass(frozen=True)
class Param:
    """One searched key: a distribution over values, or a list of labelled choices."""

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
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return trial.suggest_categorical(self.key, [label for label, _ in self.choices])

    def value(self, label: Any) -> Any:
        """The params value for a label Optuna stored (a fresh copy, or :data:`dotted.REMOVE`)."""
        for known, value in self.choices:
            if known == label and type(known) is type(label):
                return copy.deepcopy(value)
        return label

    def corners(self) -> list[Any]:
        """Labels at the edges of the space (both bounds, every choice), for checking before any trial."""
        if self.choices:
            return [label for label, _ in self.choices]
        if self.kind == "int":
            step = int(self.step or 1)
            return [int(self.low), int(self.low) + step * ((int(self.high) - int(self.low)) // step)]
        return [self.low, self.high]

    def describe(self) -> str:
        """The distribution in a few words (MLflow params, the summary)."""
        if self.choices:
            return f"{self.kind}{[label for label, _ in self.choices]}"
        extra = (", log" if self.log else "") + (f", step {self.step}" if self.step else "")
        return f"{self.kind}[{self.low}, {self.high}{extra}]"


@dataclass(frozen=True)
class Space:
    """A parsed space file: searched params, fixed overrides, the objective, sampler, pruner and worker settings."""

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

    def param(self, key: str) -> Param:
        """The searched param called ``key``."""
        return next(p for p in self.params if p.key == key)

    def resolve(self, base: Mapping[str, Any], pick: Callable[[Param], Any]) -> dict[str, Any]:
        """Raw params: ``base`` with the fixed values, then each active param's picked label applied in file order."""
        raw = copy.deepcopy(dict(base))
        for key, value in self.fixed.items():
            dotted.assign(raw, key, copy.deepcopy(value))
        for index, param in enumerate(self.params):
            if not self._active(index, raw):
                continue
            label = pick(param)
            if label is not MISSING:
                dotted.assign(raw, param.key, param.value(label))
        return raw

    def suggest(self, trial, base: Mapping[str, Any]) -> dict[str, Any]:
        """Raw params for an Optuna trial (define-by-run: switched-off keys are never suggested)."""
        return self.resolve(base, lambda param: param.suggest(trial))

    def apply(self, base: Mapping[str, Any], labels: Mapping[str, Any]) -> dict[str, Any]:
        """Raw params for labels a finished trial stored (``trial.params``)."""
        return self.resolve(base, lambda param: labels.get(param.key, MISSING))

    def samples(self, base: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Raw params at the space's corners: every bound and every choice appears in at least one."""
        count = max((len(p.corners()) for p in self.params), default=1)
        return [self.resolve(base, lambda p, i=i: p.corners()[i % len(p.corners())]) for i in range(count)]

    def touched(self) -> list[str]:
        """Every key path the space writes (fixed and searched)."""
        return [*self.fixed, *(p.key for p in self.params)]

    def _active(self, index: int, raw: Mapping[str, Any]) -> bool:
        # A key nested under an earlier searched key (a trick's setting under its toggle) is only
        # searched while that parent is switched on; any other missing parent is a user error that
        # validation reports.
        key = self.params[index].key
        controlled = any(key.startswith(earlier.key + ".") for earlier in self.params[:index])
        return not controlled or dotted.is_mapping(raw, dotted.parent(key))
