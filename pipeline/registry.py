"""Builds a fresh plugin manager for each run and indexes the families, datasets and tricks it provides."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pluggy

from pipeline import hookspecs
from pipeline.errors import PipelineError
from pipeline.hookspecs import DatasetSpec, FamilySpec, TrickSpec
from pipeline.markers import PROJECT

ENTRY_POINT_GROUP = "pipeline.plugins"


def create_plugin_manager(extra_plugins: Iterable[object] = (), entry_points: bool = True) -> pluggy.PluginManager:
    """Return a new manager with every installed plugin (and ``extra_plugins``) registered and checked."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra_plugins:
        register(pm, plugin)
    for _, plugin in pm.list_name_plugin():
        _refuse_class(plugin, pm.get_name(plugin))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        raise PipelineError(f"a plugin implements a hook that does not exist: {error}") from error
    return pm


def register(pm: pluggy.PluginManager, plugin: object, name: str | None = None) -> None:
    """Register one plugin module or instance, refusing a class where an instance was meant."""
    _refuse_class(plugin, name or repr(plugin))
    pm.register(plugin, name=name)


def _refuse_class(plugin: object, name: str | None) -> None:
    if inspect.isclass(plugin):
        raise PipelineError(f"plugin {name} is the class {plugin.__qualname__}; register an instance of it instead.")


@dataclass(frozen=True)
class Entry:
    """A registered component and the package it came from."""

    spec: Any
    package: str


class Registry:
    """The families, datasets and tricks that one plugin manager provides, looked up by name."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        packages = _package_of_plugins(pm)
        self.families: dict[str, Entry] = self._collect(pm.hook.pipeline_families, FamilySpec, "model family", packages)
        self.datasets: dict[str, Entry] = self._collect(pm.hook.pipeline_datasets, DatasetSpec, "dataset", packages)
        self.tricks: dict[str, Entry] = self._collect(pm.hook.pipeline_tricks, TrickSpec, "trick", packages)

    @staticmethod
    def _collect(hook, kind: type, what: str, packages: Mapping[int, str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for impl in hook.get_hookimpls():
            specs = impl.function() or []
            package = packages.get(id(impl.plugin), impl.plugin_name)
            for spec in specs:
                if not isinstance(spec, kind):
                    raise PipelineError(f"plugin {impl.plugin_name} returned {spec!r} from {hook.name}; expected {kind.__name__} objects.")
                if spec.name in found:
                    raise PipelineError(f"{what} {spec.name!r} is provided by both {found[spec.name].package} and {package}; uninstall one of them.")
                found[spec.name] = Entry(spec, package)
        return dict(sorted(found.items()))

    def family(self, name: str) -> FamilySpec:
        """The family called ``name``, or an error listing the known ones."""
        return _lookup(self.families, name, "model family", "model.family")

    def dataset(self, name: str) -> DatasetSpec:
        """The dataset called ``name``, or an error listing the known ones."""
        return _lookup(self.datasets, name, "dataset", "data.name")

    def trick(self, name: str) -> TrickSpec:
        """The trick called ``name``, or an error listing the known ones."""
        return _lookup(self.tricks, name, "trick", f"tricks.{name}")


def _lookup(entries: Mapping[str, Entry], name: str, what: str, key: str):
    if name not in entries:
        known = ", ".join(entries) or "none installed"
        raise PipelineError(f"{key}: unknown {what} {name!r}; known: {known}.")
    return entries[name].spec


def _package_of_plugins(pm: pluggy.PluginManager) -> dict[int, str]:
    """Map each plugin object to 'distribution version' for plugins that came from entry points."""
    return {id(plugin): f"{dist.project_name} {dist.version}" for plugin, dist in pm.list_plugin_distinfo()}
