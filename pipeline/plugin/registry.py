"""Builds a fresh plugin manager for each run and indexes the families, datasets, tricks and
optimizers it provides."""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pluggy

from pipeline.errors import PipelineError
from pipeline.plugin import hookspecs
from pipeline.plugin.hookspecs import (
    DatasetSpec,
    FamilySpec,
    OptimizerSpec,
    TrickSpec,
    lazy_references,
)
from pipeline.plugin.markers import PROJECT
from pipeline.plugin.schema import did_you_mean

ENTRY_POINT_GROUP = "pipeline.plugins"
STRICT_ENV = "PIPELINE_STRICT_PLUGINS"


@dataclass(frozen=True)
class BrokenPlugin:
    """An installed entry point that failed to load: where it comes from and why it failed."""

    distribution: str  # project name as pip knows it
    version: str
    entry_point: str  # "name = module[:attr]"
    error: str  # the exception's one-line summary

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (entry point {self.entry_point}: {self.error})"

    @property
    def remedy(self) -> str:
        """What the user can do about it."""
        return (
            f"reinstall {self.distribution}, or remove it with `pip uninstall {self.distribution}`"
        )


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers where each installed plugin came from, and the
    installed plugins that could not be loaded."""

    def __init__(self, project_name: str):
        super().__init__(project_name)
        self.broken: list[BrokenPlugin] = []
        # id(plugin) -> the installed distribution whose entry point registered it, and the entry
        # point's "name = module[:attr]"
        self.installed_from: dict[int, importlib.metadata.Distribution] = {}
        self.entry_points: dict[int, str] = {}
        self.report_broken = True


def create_plugin_manager(
    extra_plugins: Iterable[object] = (), entry_points: bool = True, report_broken: bool = True
) -> PluginManager:
    """Return a new manager with every installed plugin (and ``extra_plugins``) registered and
    checked.

    An installed plugin that fails to load is left out and recorded in ``pm.broken``. With
    ``report_broken`` it is one warning line on stderr, or an error when
    ``PIPELINE_STRICT_PLUGINS=1``; ``pipeline plugins`` passes False and lists them itself.
    """
    pm = PluginManager(PROJECT)
    pm.report_broken = report_broken
    pm.add_hookspecs(hookspecs)
    if entry_points:
        _load_entry_points(pm)
        if report_broken:
            _report(pm.broken)
    for plugin in extra_plugins:
        register(pm, plugin)
    for _, plugin in pm.list_name_plugin():
        _refuse_class(plugin, pm.get_name(plugin))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        raise PipelineError(f"a plugin implements a hook that does not exist: {error}") from error
    return pm


def strict_plugins() -> bool:
    """Whether ``PIPELINE_STRICT_PLUGINS`` asks for a broken plugin to fail every command."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _load_entry_points(pm: PluginManager) -> None:
    """pluggy's ``load_setuptools_entrypoints``, one entry point at a time: a broken one is
    recorded, not raised."""
    for dist in list(importlib.metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as error:  # a third-party import can raise anything
                entry = f"{ep.name} = {ep.value}"
                broken = BrokenPlugin(dist.metadata["Name"], dist.version, entry, _summary(error))
                if broken not in pm.broken:  # a distribution found twice on sys.path
                    pm.broken.append(broken)
                continue
            pm.installed_from[id(plugin)] = dist
            pm.entry_points[id(plugin)] = f"{ep.name} = {ep.value}"


def _summary(error: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, however many lines the message had."""
    text = " ".join(str(error).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_warned: set[BrokenPlugin] = set()  # a sweep builds several managers in one process; warn once each


def _report(broken: list[BrokenPlugin]) -> None:
    if broken and strict_plugins():
        others = f" (and {len(broken) - 1} more; see `pipeline plugins`)" if len(broken) > 1 else ""
        raise PipelineError(
            f"plugin {broken[0]} failed to load{others} and {STRICT_ENV} is set; "
            f"{broken[0].remedy}, or unset {STRICT_ENV} to run without it."
        )
    for plugin in broken:
        if plugin not in _warned:
            _warned.add(plugin)
            print(
                f"warning: skipping broken plugin {plugin}; `pipeline plugins` says how to fix it.",
                file=sys.stderr,
            )


def register(pm: pluggy.PluginManager, plugin: object, name: str | None = None) -> None:
    """Register one plugin module or instance, refusing a class where an instance was meant."""
    _refuse_class(plugin, name or repr(plugin))
    pm.register(plugin, name=name)


def _refuse_class(plugin: object, name: str | None) -> None:
    if inspect.isclass(plugin):
        raise PipelineError(
            f"plugin {name} is the class {plugin.__qualname__}; register an instance of it instead."
        )


@dataclass(frozen=True)
class Entry:
    """A registered component and the package it came from."""

    spec: Any
    package: str  # "distribution version", or the plugin's name when registered in-process
    distribution: importlib.metadata.Distribution | None = None


class Registry:
    """The families, datasets, tricks and optimizers that one plugin manager provides, looked up
    by name. Optimizers keep the order the plugins registered them in (the built-ins' table order
    first when no other plugin registers before them); the other kinds are sorted by name.

    An installed plugin whose registration hook raises is left out and recorded as broken, like one
    that fails to import, so it never stops a run that does not use it."""

    def __init__(self, pm: PluginManager):
        self.pm = pm
        self.broken = pm.broken
        known_broken = len(pm.broken)
        hooks = {
            "families": (pm.hook.pipeline_families, FamilySpec, "model family"),
            "datasets": (pm.hook.pipeline_datasets, DatasetSpec, "dataset"),
            "tricks": (pm.hook.pipeline_tricks, TrickSpec, "trick"),
            "optimizers": (pm.hook.pipeline_optimizers, OptimizerSpec, "optimizer"),
        }
        failed: set[int] = set()
        answers = {kind: self._answers(hook, failed) for kind, (hook, _, _) in hooks.items()}
        collected = {
            kind: self._collect(
                [(impl, specs) for impl, specs in answers[kind] if id(impl.plugin) not in failed],
                hook.name,
                spec_type,
                what,
            )
            for kind, (hook, spec_type, what) in hooks.items()
        }
        self.families: dict[str, Entry] = collected["families"]
        self.datasets: dict[str, Entry] = collected["datasets"]
        self.tricks: dict[str, Entry] = collected["tricks"]
        self.optimizers: dict[str, Entry] = collected["optimizers"]
        if pm.report_broken:
            _report(pm.broken[known_broken:])

    def _answers(self, hook, failed: set[int]) -> list[tuple[Any, list[Any]]]:
        """Each plugin's answer to one registration hook. An installed plugin whose hook raises is
        recorded as broken and added to ``failed``; an in-process plugin's error is raised."""
        answers = []
        for impl in hook.get_hookimpls():
            try:
                answers.append((impl, impl.function() or []))
            except Exception as error:  # a third-party hook can raise anything
                dist = self.pm.installed_from.get(id(impl.plugin))
                summary = f"{hook.name}() raised {_summary(error)}"
                if dist is None:
                    raise PipelineError(f"plugin {impl.plugin_name}: {summary}") from error
                entry = self.pm.entry_points.get(id(impl.plugin), impl.plugin_name)
                broken = BrokenPlugin(dist.metadata["Name"], dist.version, entry, summary)
                if broken not in self.broken:
                    self.broken.append(broken)
                failed.add(id(impl.plugin))
        return answers

    def _collect(
        self, answers: list[tuple[Any, list[Any]]], hook_name: str, spec_type: type, what: str
    ) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for impl, specs in answers:
            dist = self.pm.installed_from.get(id(impl.plugin))
            package = f"{dist.metadata['Name']} {dist.version}" if dist else impl.plugin_name
            for spec in specs:
                if not isinstance(spec, spec_type):
                    raise PipelineError(
                        f"plugin {impl.plugin_name} returned {spec!r} from "
                        f"{hook_name}; expected {spec_type.__name__} objects."
                    )
                if spec.name in found:
                    raise PipelineError(
                        f"{what} {spec.name!r} is provided by both "
                        f"{found[spec.name].package} and {package}; "
                        "uninstall one of them."
                    )
                for reference in lazy_references(spec):  # a failing reference names its plugin
                    reference.plugin = package
                found[spec.name] = Entry(spec, package, dist)
        return found if spec_type is OptimizerSpec else dict(sorted(found.items()))

    def family(self, name: str) -> FamilySpec:
        """The family called ``name``, or an error listing the known ones."""
        return _lookup(self.families, name, "model family", "model.family", self.broken)

    def dataset(self, name: str) -> DatasetSpec:
        """The dataset called ``name``, or an error listing the known ones."""
        return _lookup(self.datasets, name, "dataset", "data.name", self.broken)

    def trick(self, name: str) -> TrickSpec:
        """The trick called ``name``, or an error listing the known ones."""
        return _lookup(self.tricks, name, "trick", f"tricks.{name}", self.broken)

    def optimizer(self, name: str) -> OptimizerSpec:
        """The base optimizer called ``name``, or an error listing the known ones."""
        return _lookup(self.optimizers, name, "optimizer", "optimizer.name", self.broken)


def _lookup(
    entries: Mapping[str, Entry], name: str, what: str, key: str, broken: list[BrokenPlugin]
):
    if name not in entries:
        known = ", ".join(entries) or "none installed"
        hint = "".join(
            f" It may come from the broken plugin {plugin}; {plugin.remedy}." for plugin in broken
        )
        raise PipelineError(
            f"{key}: unknown {what} {name!r}{did_you_mean(name, entries)}; known: {known}.{hint}"
        )
    return entries[name].spec
