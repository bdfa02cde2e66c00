"""Hydra config groups for the installed plugins' components, so `dvc exp run -S model=NAME` (or
`data=NAME`, `optimizer=NAME`, `trick=[NAME]`) works for a pip-installed plugin without a file in
``conf/``."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from pipeline.params.validate import CORE_SCHEMA
from pipeline.params.yaml_io import dump_yaml
from pipeline.plugin.schema import defaults_of

OPTIMIZER_SCHEMA = CORE_SCHEMA["optimizer"]


def group_files(registry) -> dict[str, str]:
    """``group/name.yaml`` → its text: each component's declared defaults, as ``conf/`` writes
    them."""
    files = {}
    for name, entry in registry.families.items():
        defaults = defaults_of(entry.spec.settings)
        files[f"model/{name}.yaml"] = dump_yaml({"family": name, **defaults})
    for name, entry in registry.datasets.items():
        defaults = defaults_of(entry.spec.settings)
        files[f"data/{name}.yaml"] = dump_yaml({"name": name, **defaults})
    for name, entry in registry.optimizers.items():
        # the core's keys at their defaults, then the optimizer's own settings (which may
        # redefine a core default, such as a smaller lr)
        defaults = {k: s.default for k, s in OPTIMIZER_SCHEMA.items() if k != "name"}
        defaults.update(defaults_of(entry.spec.settings))
        files[f"optimizer/{name}.yaml"] = dump_yaml({"name": name, **defaults})
    for name, entry in registry.tricks.items():
        body = dump_yaml(defaults_of(entry.spec.settings)) if entry.spec.settings else ""
        files[f"trick/{name}.yaml"] = f"# @package tricks.{name}\n{body}"
    return files


def compose_params(conf_dir: Path, overrides: list[str]) -> dict:
    """params.yaml as ``dvc exp run -S OVERRIDE ...`` composes it from ``conf_dir``."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        return OmegaConf.to_container(compose("config", overrides=list(overrides)))


def plugin_conf_dir() -> Path:
    """A folder holding :func:`group_files` of the installed plugins; one per distinct content,
    so concurrent runs never write over a folder another one reads."""
    from pipeline.plugin.registry import Registry, create_plugin_manager

    files = group_files(Registry(create_plugin_manager(report_broken=False)))
    digest = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "pipeline-hydra-conf" / digest
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=folder.parent))
        for relative, text in files.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(text)
        try:
            staging.rename(folder)
        except OSError:  # another process made it first, with the same content
            shutil.rmtree(staging, ignore_errors=True)
    return folder
