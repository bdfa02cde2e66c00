"""``--apply-best``: write the best trial into params.yaml and show the same change as ``dvc exp run -S``."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, Mapping

import yaml

from pipeline.errors import PipelineError
from pipeline.sweep import dotted
from pipeline.sweep.space import Space

_MISSING = object()
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")  # strings Hydra reads unquoted


def apply_best(study, space: Space, params_file: Path, registry) -> tuple[dict[str, Any], list[str]]:
    """Write the best trial's values (and the space's fixed values) into ``params_file``; return them and the -S overrides."""
    from pipeline.config import validate
    from pipeline.sweep.report import best_trial

    best = best_trial(study)
    if best is None:
        raise PipelineError(f"study {study.study_name!r} has no complete trial yet, so there is no best trial to apply; run more trials.")
    before = yaml.safe_load(params_file.read_text())
    after = space.apply(before, best.params)
    validate(after, registry)
    params_file.write_text(yaml.safe_dump(after, sort_keys=False))
    return after, hydra_overrides(space, before, after)


def dvc_command(overrides: list[str]) -> str:
    """The ``dvc exp run`` line composing the same params through Hydra (conf/)."""
    return " ".join(["dvc", "exp", "run", *(f"-S {shlex.quote(o)}" for o in overrides)])


def hydra_overrides(space: Space, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Hydra overrides turning ``before`` into ``after`` at every key the space touches."""
    out: list[str] = []
    for key in dict.fromkeys(space.touched()):
        if any(key.startswith(other + ".") for other in space.touched()):
            continue  # written as part of its parent key
        _diff(key, _get(before, key), _get(after, key), out)
    return out


def _diff(path: str, before: Any, after: Any, out: list[str]) -> None:
    if after is _MISSING:
        if before is not _MISSING:
            out.append(f"~{path}")
        return
    if isinstance(after, dict) and isinstance(before, dict) and (after or before):
        for key, value in after.items():
            _diff(f"{path}.{key}", before.get(key, _MISSING), value, out)
        out.extend(f"~{path}.{key}" for key in before if key not in after)
        return
    # ++ adds a key the composed config lacks (Hydra refuses plain assignment to a new key)
    out.append(f"{'' if before is not _MISSING else '++'}{path}={hydra_value(after)}")


def hydra_value(value: Any) -> str:
    """``value`` in Hydra's override grammar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    # A plain word that YAML would read as another type (true, null, 1e5) must stay a string.
    if _PLAIN.fullmatch(text) and isinstance(yaml.safe_load(text), str) and text.lower() not in ("nan", "inf"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _get(tree: Mapping[str, Any], key: str) -> Any:
    return dotted.lookup(tree, key) if dotted.contains(tree, key) else _MISSING
