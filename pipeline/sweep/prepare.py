"""The sweep's shared inputs: the prepare stage's split, written once, and the params every trial starts from."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError
from pipeline.sweep import dotted
from pipeline.tracking import flatten

BASE_ATTR = "sweep.base_params"  # study user attr: params.yaml minus the searched keys, when the study began


def prepare_once(folder: Path, params: Mapping[str, Any], registry) -> Path:
    """Run the prepare stage into ``folder/prepared`` unless a split for the same seed and data is there."""
    from pipeline.context import RunContext
    from pipeline.paths import Paths
    from pipeline.stages import run_stage

    prepared = folder / "prepared"
    wanted = {"seed": params["seed"], "data": params["data"]}
    marker = prepared / "sweep.json"
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return prepared
    # Written beside and renamed into place, so a worker never reads a half-written split.
    staging = folder / f"prepared.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    run_stage("prepare", RunContext(params=dict(params), registry=registry, paths=Paths(root=folder, prepared_dir=staging)))
    (staging / "sweep.json").write_text(json.dumps(wanted, indent=2) + "\n")
    shutil.rmtree(prepared, ignore_errors=True)
    staging.rename(prepared)
    return prepared


def check_base(study, space, base: Mapping[str, Any]) -> None:
    """Refuse to continue a study whose trials started from other params than params.yaml holds now."""
    stripped = dict(base)
    for key in space.touched():
        stripped = _without(stripped, key)
    # JSON round trip: what the storage gives back has lists for tuples and string keys
    current = json.loads(json.dumps(stripped, default=str))
    recorded = study.user_attrs.get(BASE_ATTR)
    if recorded is None:
        study.set_user_attr(BASE_ATTR, current)
        return
    if recorded != current:
        old, new = flatten(recorded), flatten(current)
        key = next(k for k in sorted(set(old) | set(new)) if old.get(k, "absent") != new.get(k, "absent"))
        raise PipelineError(f"params.yaml changed since study {study.study_name!r} began ({key}: {old.get(key, 'absent')!r} → "
                            f"{new.get(key, 'absent')!r}); restore it, or start a new study with --study NAME.")


def _without(tree: Mapping[str, Any], key: str) -> dict[str, Any]:
    import copy

    tree = copy.deepcopy(dict(tree))
    dotted.assign(tree, key, dotted.REMOVE)
    return tree
