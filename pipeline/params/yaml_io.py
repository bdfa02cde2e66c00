"""The one YAML loader for params.yaml, conf/ files and search spaces.

PyYAML follows YAML 1.1, where ``1e-4`` (no dot) is a string; YAML 1.2, DVC and Hydra read it as a
float. Every file the pipeline reads goes through :func:`load_yaml_text`, so a value means the same
in params.yaml, in a conf/ group and in a search space.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping that gives the same key twice: YAML forbids it, and DVC refuses such a file, so
    keeping the last value silently would train on settings DVC never saw."""

    def __init__(self, key: Any, first_line: int, node: yaml.Node):
        self.key, self.first_line, self.line = key, first_line, node.start_mark.line + 1
        super().__init__(problem=f"repeats the key {key!r}", problem_mark=node.start_mark)

    def __str__(self) -> str:
        return f"repeats the key {self.key!r} at line {self.line} (first at line {self.first_line})"


class _SafeLoader(yaml.SafeLoader):
    """The safe loader (no Python objects), reading ``1e-3`` as a float the way YAML 1.2 does, and
    refusing a key given twice in one mapping (merge keys ``<<`` may still be overridden)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first_lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in first_lines:
                        raise DuplicateKeyError(key, first_lines[key], key_node)
                except TypeError:  # an unhashable key: the base class explains it
                    continue
                first_lines[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml_text(text: str) -> Any:
    """Parse YAML text safely, floats read as YAML 1.2 reads them."""
    return yaml.load(text, Loader=_SafeLoader)


def read_yaml_file(path: Path, what: str, hint: str = "") -> Any:
    """Load the YAML file ``path`` (described as ``what`` in errors), or raise one clear error;
    ``hint`` says what to do when the file is missing."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{what} {path} does not exist{'; ' + hint if hint else ''}.")
    try:
        return load_yaml_text(path.read_text())
    except DuplicateKeyError as error:
        raise PipelineError(f"{what} {path} {error}; keep one of them.") from error
    except yaml.YAMLError as error:
        raise PipelineError(f"{what} {path} is not valid YAML: {error}.") from error


def read_conf_file(spec: str, root: Path, group: str, what: str) -> tuple[Any, str, str]:
    """Find and load ``spec``: a YAML file path, or a name under ``conf/<group>/``; return its data,
    its path as shown in messages (relative to ``root`` when inside it) and its stem."""
    folder = root / "conf" / group
    candidates = (Path(spec), root / spec, folder / spec, folder / f"{spec}.yaml")
    path = next((path for path in candidates if path.is_file()), None)
    if path is None:
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
        hint = f"give a YAML file path or one of conf/{group}/: {known}"
        raise PipelineError(f"{what} {spec!r} not found; {hint}.")
    resolved, project = path.resolve(), root.resolve()
    source = str(resolved.relative_to(project) if resolved.is_relative_to(project) else path)
    return read_yaml_file(path, what), source, path.stem


def dump_yaml(data: Any) -> str:
    """YAML text for ``data``, keys in their given order."""
    return yaml.safe_dump(data, sort_keys=False)
