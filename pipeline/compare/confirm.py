"""``pipeline sweep SPACE --confirm-top K --seeds N``: the sweep's K best trials run again over N
seeds as a comparison, and the best by mean validation value becomes the study's choice.

A sweep ranks each trial on one seed, so its best trial is partly the luckiest one. Confirming
runs the K best (on validation) over the same N seeds through :mod:`pipeline.compare`, with the
sweep's best as the reference, reports every mean with its interval and the paired differences,
and records the trial with the best mean in the study (user attr ``sweep.confirmed_trial``), which
``--apply-best`` then applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna

from pipeline.compare.command import Request as CompareRequest
from pipeline.compare.command import run_spec
from pipeline.compare.spec import Spec
from pipeline.errors import PipelineError
from pipeline.params.validate import read_yaml
from pipeline.sweep.command import open_storage, shown
from pipeline.sweep.metric_names import shown as shown_metric
from pipeline.sweep.report import CONFIRMED_ATTR
from pipeline.sweep.space import Space, get, load_space


def confirm_top(
    space_name: str, top: int, seeds: int, root: Path, study_name=None, storage=None, workers=1
) -> int:
    """Run the study's ``top`` best trials over ``seeds`` seeds and record the best by mean."""
    if top < 2 or seeds < 2:
        raise PipelineError(
            f"--confirm-top {top} --seeds {seeds}: confirming needs at least 2 trials and 2 seeds "
            "(an interval needs two values)."
        )
    space = load_space(space_name, root)
    url = storage or f"sqlite:///{root.resolve() / 'optuna' / 'sweeps.db'}"
    study = load(space, url, study_name or space.name, space_name)
    best = ranked(study, space)[:top]
    if len(best) < top:
        raise PipelineError(
            f"study {study.study_name!r} holds {len(best)} complete trial(s), fewer than "
            f"--confirm-top {top}; run more trials first, or confirm fewer."
        )
    spec = top_spec(study, space, best, read_yaml(root / "params.yaml"), seeds)
    code = run_spec(spec, CompareRequest(spec.source, workers, storage), root)
    if code:
        return code
    summary = json.loads((root / "comparisons" / spec.name / "summary.json").read_text())
    chosen = choose(summary, space, best)
    study.set_user_attr(CONFIRMED_ATTR, chosen.number)
    mean = summary["variants"][f"trial-{chosen.number}"][shown_metric(space.select)]
    interval = f"[{mean['ci_low']:.4g}, {mean['ci_high']:.4g}]"
    print(
        f"confirmed: trial #{chosen.number}, {shown_metric(space.select)} mean {mean['mean']:.4g} "
        f"{interval} over {mean['n']} seeds (the sweep's best was #{best[0].number}); "
        f"`pipeline sweep {space_name} --apply-best` applies it."
    )
    return 0


def load(space: Space, url: str, name: str, space_name: str) -> Any:
    try:
        return optuna.load_study(study_name=name, storage=open_storage(url, *space.heartbeat))
    except KeyError:
        raise PipelineError(
            f"storage {shown(url)} holds no study {name!r}; run `pipeline sweep {space_name}` "
            "first (or name the study with --study)."
        ) from None


def ranked(study, space: Space) -> list[Any]:
    """The study's complete trials, best validation value first."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(done, key=lambda t: t.value, reverse=space.select_direction == "maximize")


def top_spec(study, space: Space, trials: list[Any], params: dict, seeds: int) -> Spec:
    """A comparison of ``trials``, each as the dotted overrides the space writes, the first (the
    sweep's best) the reference, on seeds 0 … ``seeds`` − 1."""
    variants = []
    for trial in trials:
        applied = space.apply(params, trial.params)
        variants.append((f"trial-{trial.number}", {k: get(applied, k) for k in space.touched()}))
    return Spec(
        source=f"pipeline sweep {space.name} --confirm-top {len(trials)}",
        name=f"{study.study_name}-top{len(trials)}",
        base={},
        variants=tuple(variants),
        seeds=tuple(range(seeds)),
        metrics=(space.select, space.metric),
        vary=frozenset({"init", "order"}),
    )


def choose(summary: dict, space: Space, trials: list[Any]) -> Any:
    """The trial whose mean validation value over the seeds is best."""
    variants = summary["variants"]
    pick = max if space.select_direction == "maximize" else min
    select = shown_metric(space.select)  # the summary names val.* and test.*
    return pick(trials, key=lambda t: variants[f"trial-{t.number}"][select]["mean"])
