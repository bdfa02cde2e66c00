"""The plugin API is one module: everything a plugin author needs is importable from ``pipeline``,
light to import, and the built-in plugins and the example plugin use nothing else of the core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import pipeline
from tests.project_kit import REPO

PLUGIN_SOURCES = [REPO / "plugins", REPO / "examples"]


def core_imports(path: Path, root: Path = REPO) -> list[str]:
    """The ``pipeline.<submodule>`` imports of a file, anywhere in it (functions included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{path.relative_to(root)}: {n}" for n in names if n.startswith("pipeline.")]
    return found


def plugin_files() -> list[Path]:
    return [
        path
        for root in PLUGIN_SOURCES
        for path in sorted(root.rglob("*.py"))
        if "build" not in path.relative_to(root).parts
    ]


def test_plugins_import_only_the_public_face():
    files = plugin_files()
    assert len(files) > 50  # the built-in plugins and the example are all read
    assert [found for path in files for found in core_imports(path)] == []


def test_a_submodule_import_in_a_plugin_is_caught(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "def f():\n    from pipeline.data.vocab import Vocab\n    import pipeline.plots\n"
    )
    assert core_imports(sneaky, tmp_path) == [
        "sneaky.py: pipeline.data.vocab",
        "sneaky.py: pipeline.plots",
    ]


@pytest.mark.parametrize("name", sorted(pipeline.__all__))
def test_every_public_name_resolves(name):
    value = getattr(pipeline, name)
    assert value is not None
    assert name in dir(pipeline)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        pipeline.NoSuchThing  # noqa: B018


def test_importing_the_face_loads_no_numerical_library():
    code = (
        "import sys, pipeline; from pipeline import Family, FamilySpec, Setting, hookimpl; "
        "print(sorted(m for m in ('numpy', 'torch', 'lightning', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
