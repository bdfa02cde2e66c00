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


class _SafeLoader(yaml.SafeLoader):
    """The safe loader (no Python objects), reading ``1e-3`` as a float the way YAML 1.2 does."""


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
    except yaml.YAMLError as error:
        raise PipelineError(f"{what} {path} is not valid YAML: {error}.") from error


def dump_yaml(data: Any) -> str:
    """YAML text for ``data``, keys in their given order."""
    return yaml.safe_dump(data, sort_keys=False)
