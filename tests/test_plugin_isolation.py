"""An installed plugin whose registration hook raises is left out like one that fails to import:
listed as broken by ``pipeline plugins``, one warning elsewhere, and every other component works."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import DatasetSpec, PipelineError, hookimpl
from pipeline.plugin.registry import Registry, create_plugin_manager
from tests.project_kit import run

PLUGIN = """
from pipeline import DatasetSpec, hookimpl


@hookimpl
def pipeline_families():
    raise RuntimeError("the registry service is down")


@hookimpl
def pipeline_datasets():
    return [DatasetSpec("raising_blobs", "never offered", load="pipeline_raising:nothing")]
"""
BROKEN = (
    "pipeline-raising 0.1.0 (entry point raising = pipeline_raising: "
    "pipeline_families() raised RuntimeError: the registry service is down)"
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding the installed distribution pipeline-raising, as pip would leave it."""
    site = tmp_path / "site"
    (site / "pipeline_raising").mkdir(parents=True)
    (site / "pipeline_raising" / "__init__.py").write_text(PLUGIN)
    info = site / "pipeline_raising-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pipeline-raising\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[pipeline.plugins]\nraising = pipeline_raising\n")
    return site


def test_a_raising_hook_leaves_the_plugin_out_with_one_warning(site, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(site))
    registry = Registry(create_plugin_manager())
    assert "classifier" in registry.families and "digits" in registry.datasets
    assert "raising_blobs" not in registry.datasets  # the whole plugin is out, not one hook
    assert [str(plugin) for plugin in registry.broken] == [BROKEN]
    assert capsys.readouterr().err.splitlines() == [
        f"warning: skipping broken plugin {BROKEN}; `pipeline plugins` says how to fix it."
    ]
    with pytest.raises(PipelineError, match="It may come from the broken plugin pipeline-raising"):
        registry.family("raising")


def test_plugins_command_lists_it_as_broken(site, tmp_path):
    done = run(["pipeline", "plugins"], tmp_path, check=False, PYTHONPATH=str(site))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(line.split()[:1] == ["classifier"] for line in lines)
    assert lines[lines.index("broken plugins:") :] == [
        "broken plugins:",
        "  pipeline-raising 0.1.0, entry point raising = pipeline_raising",
        "    pipeline_families() raised RuntimeError: the registry service is down",
        "    to fix: reinstall pipeline-raising, or remove it with "
        "`pip uninstall pipeline-raising`",
    ]
    assert "Traceback" not in done.stderr


class RaisingInProcess:
    @hookimpl
    def pipeline_datasets(self):
        raise ValueError("bad table")


class Offering:
    @hookimpl
    def pipeline_datasets(self):
        return [DatasetSpec("offered", "a dataset", load="tests.test_plugin_isolation:nothing")]


def test_a_plugin_registered_in_process_raises_its_error_in_one_line():
    pm = create_plugin_manager([RaisingInProcess(), Offering()], entry_points=False)
    with pytest.raises(PipelineError) as raised:
        Registry(pm)
    assert str(raised.value).endswith("pipeline_datasets() raised ValueError: bad table")
