"""Shipped defaults compose: on the default experiment (params.yaml), every built-in trick alone and
all of
them together, each with its defaults, still learn digits. Trained by the real train and evaluate
stages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from pipeline.stages import run_stage
from pipeline.stages.context import build_context
from tests.project_kit import REPO
from tests.trick_kit import REGISTRY

BUILT_IN = sorted(
    name
    for name, entry in REGISTRY.tricks.items()
    if entry.spec.load.__module__.startswith("plugins.tricks.")
)
LEAST_ACCURACY = 0.9


@pytest.mark.slow
def test_every_trick_alone_and_all_together_learn_the_default_experiment_with_their_defaults(
    tmp_path: Path,
):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    runs = {name: {name: {}} for name in BUILT_IN} | {"all": {name: {} for name in BUILT_IN}}
    threads = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # a tiny model on a shared machine trains faster without thread hand-offs
    try:
        run_stage("prepare", build_context(tmp_path, raw_params=params))
        accuracy = {}
        for (
            label,
            tricks,
        ) in runs.items():  # one project, as successive `dvc exp run`s: each starts over
            ctx = build_context(tmp_path, raw_params={**params, "tricks": tricks})
            run_stage("train", ctx)
            accuracy[label] = run_stage("evaluate", ctx)["accuracy"]
    finally:
        torch.set_num_threads(threads)
    print(
        "test accuracy with default settings:",
        ", ".join(f"{k} {v:.4f}" for k, v in accuracy.items()),
    )
    assert len(BUILT_IN) == 11
    assert min(accuracy.values()) >= LEAST_ACCURACY, accuracy
