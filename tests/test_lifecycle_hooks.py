"""The lifecycle hooks: when ``pipeline_before_stage``, ``pipeline_after_stage`` and
``pipeline_on_stage_error`` fire around a stage, and with what."""

from __future__ import annotations

import json

import pytest

from pipeline import hookimpl
from pipeline.errors import PipelineError
from pipeline.params.validate import read_yaml
from pipeline.stages import run_stage
from pipeline.stages.context import build_context
from tests.project_kit import REPO


class Recorder:
    """A plugin that records every lifecycle call it receives, in order."""

    def __init__(self):
        self.calls: list[tuple] = []

    @hookimpl
    def pipeline_before_stage(self, stage, params):
        self.calls.append(("before", stage, params))

    @hookimpl
    def pipeline_after_stage(self, stage, params, metrics):
        self.calls.append(("after", stage, params, dict(metrics)))

    @hookimpl
    def pipeline_on_stage_error(self, stage, params, error):
        self.calls.append(("error", stage, params, error))


@pytest.fixture
def recorded(tmp_path):
    recorder = Recorder()
    ctx = build_context(
        tmp_path, raw_params=read_yaml(REPO / "params.yaml"), extra_plugins=(recorder,)
    )
    return recorder, ctx


def test_before_and_after_surround_a_stage_that_succeeds(recorded):
    recorder, ctx = recorded
    metrics = run_stage("prepare", ctx)

    written = json.loads((ctx.paths.prepared / "sizes.json").read_text())
    assert recorder.calls == [
        ("before", "prepare", ctx.params),
        ("after", "prepare", ctx.params, written),
    ]
    assert recorder.calls[0][2] is ctx.params  # the validated params, not a copy
    assert dict(metrics) == written and written["train_examples"] > 0


def test_a_failing_stage_fires_the_error_hook_with_its_error_and_no_after_hook(recorded):
    recorder, ctx = recorded
    with pytest.raises(PipelineError) as raised:
        run_stage("evaluate", ctx)  # nothing was trained in this empty project

    assert [call[:2] for call in recorder.calls] == [("before", "evaluate"), ("error", "evaluate")]
    assert recorder.calls[1][2] is ctx.params
    assert recorder.calls[1][3] is raised.value


def test_before_hook_fires_before_the_stage_does_any_work(recorded):
    recorder, ctx = recorded
    seen = []
    ctx.registry.pm.unregister(recorder)

    class Observer:
        @hookimpl
        def pipeline_before_stage(self, stage, params):
            seen.append(ctx.paths.prepared.exists())

    ctx.registry.pm.register(Observer())
    run_stage("prepare", ctx)
    assert seen == [False] and ctx.paths.prepared.is_dir()
