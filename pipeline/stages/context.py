"""What a stage receives: validated params, the plugin registry and the paths it reads and
writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline.params.validate import load_params, validate
from pipeline.paths import Paths
from pipeline.plugin.registry import Registry, create_plugin_manager


@dataclass
class RunContext:
    """Everything one stage execution needs, built once by the CLI (or a sweep trial)."""

    params: dict[str, Any]
    registry: Registry
    paths: Paths
    extra_callbacks: list = field(default_factory=list)  # e.g. a sweep's pruning callback
    parent_run_id: str | None = None  # a sweep's parent MLflow run
    on_run_created: Callable[[str], None] | None = None
    run_tags: dict[str, str] = field(
        default_factory=dict
    )  # set on the train stage's MLflow run when it is created

    @property
    def hook(self):
        """The plugin manager's hook caller (for lifecycle hooks)."""
        return self.registry.pm.hook


def build_context(
    root: Path,
    params_file: Path | None = None,
    raw_params: dict | None = None,
    extra_plugins: tuple = (),
) -> RunContext:
    """Create a fresh plugin manager, read and validate params, and return the stage context."""
    registry = Registry(create_plugin_manager(extra_plugins))
    if raw_params is not None:
        params = validate(raw_params, registry)
    else:
        params = load_params(params_file or root / "params.yaml", registry)
    return RunContext(params=params, registry=registry, paths=Paths(Path(root)))
