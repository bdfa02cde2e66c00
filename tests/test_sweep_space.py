"""Sweep spaces and bad input: every mistake is one sentence naming the key, raised before any trial
runs."""

from __future__ import annotations

import shlex
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pipeline.errors import PipelineError
from pipeline.params.validate import read_yaml
from pipeline.sweep.command import (
    DONE,
    RUN,
    WAIT,
    check_metrics,
    check_params,
    open_storage,
    plan,
    sampler_and_pruner,
    shown,
)
from pipeline.sweep.report import dvc_command, hydra_overrides
from pipeline.sweep.space import load_space, parse_space
from tests.project_kit import REPO, composed, run

BASE = read_yaml(REPO / "params.yaml")
OBJECTIVE = {"metric": "accuracy", "direction": "maximize"}


def space(params: dict, **top) -> "Space":  # noqa: F821
    return parse_space({"objective": OBJECTIVE, "params": params, **top}, "space.yaml", "space")


@pytest.mark.parametrize(
    "params, top, message",
    [
        (
            {"optimizer.lr": {"type": "gauss", "low": 1, "high": 2}},
            {},
            "params.optimizer.lr.type = 'gauss' is invalid; expected one of 'float', 'int', "
            "'categorical', 'bool', 'toggle'.",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0.1, "high": 0.001}},
            {},
            "params.optimizer.lr.low = 0.1 is above high = 0.001",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0, "high": 0.1, "log": True}},
            {},
            "a log scale needs low > 0",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0.1}},
            {},
            "params.optimizer.lr.high is missing",
        ),
        (
            {"model.hidden": {"type": "int", "low": 8.5, "high": 64}},
            {},
            "params.model.hidden.low = 8.5 is invalid; expected an integer",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0.1, "high": 1, "lg": True}},
            {},
            "params.optimizer.lr.lg is not a known setting",
        ),
        (
            {"tricks": {"type": "categorical", "choices": [{}, {"ema": {}}]}},
            {},
            "use a mapping of label: value",
        ),
        (
            {"optimizer.name": {"type": "categorical", "choices": []}},
            {},
            "params.optimizer.name.choices is empty",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0.1, "high": 1}},
            {"pruner": {"type": "median"}},
            "pruner.monitor must name",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0.1, "high": 1}},
            {"pruner": {"type": "asha", "monitor": "val_acc"}},
            "pruner.type = 'asha' is invalid; expected one of 'median', 'successive_halving', "
            "'hyperband', 'none'.",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0.1, "high": 1}},
            {"heartbeat": {"interval": 5, "grace_period": 5}},
            "heartbeat.grace_period 5 must exceed heartbeat.interval 5",
        ),
        (
            {"optimizer.lr": {"type": "float", "low": 0.1, "high": 1}},
            {"trials": 5},
            "trials is not a known setting (did you mean 'n_trials'?)",
        ),
    ],
)
def test_malformed_space_names_the_key(params, top, message):
    with pytest.raises(PipelineError) as error:
        space(params, **top)
    assert str(error.value).startswith("space.yaml: ") and message in str(error.value)


def test_objective_must_be_named_and_directed():
    with pytest.raises(
        PipelineError,
        match=r"objective.direction = 'up' is invalid; expected one of 'maximize', 'minimize'",
    ):
        parse_space(
            {"objective": {"metric": "accuracy", "direction": "up"}, "params": {}}, "s.yaml", "s"
        )
    with pytest.raises(
        PipelineError, match="objective.metric must name a metric of the evaluate stage"
    ):
        parse_space({"objective": {"direction": "maximize"}, "params": {}}, "s.yaml", "s")


def test_unknown_pruner_option_is_refused_with_the_valid_ones():
    with pytest.raises(
        PipelineError,
        match=r"space.yaml: pruner.n_startup is not a known setting .*; known settings: .*"
        r"n_startup_trials",
    ):
        space(
            {"optimizer.lr": {"type": "float", "low": 0.1, "high": 1}},
            pruner={"type": "median", "monitor": "val_acc", "n_startup": 3},
        )


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"optimizer.lrr": {"type": "float", "low": 1e-3, "high": 0.1}},
            "optimizer.lrr is not a known setting (did you mean 'lr'?); known settings: "
            "batch_size, "
            "lr",
        ),
        (
            {"optimzer.lr": {"type": "float", "low": 1e-3, "high": 0.1}},
            "optimzer is not a known params section",
        ),
        (
            {"trainer.max_epoch": {"type": "int", "low": 1, "high": 3}},
            "trainer.max_epoch is not an argument of Lightning's Trainer",
        ),
        (
            {"optimizer.batch_size": {"type": "int", "low": 0, "high": 64}},
            "optimizer.batch_size = 0 is invalid",
        ),
        # only the third choice is wrong: every choice is checked, not just a random sample
        (
            {
                "tricks": {
                    "type": "categorical",
                    "choices": {"none": {}, "ema": {"ema": {}}, "typo": {"emma": {}}},
                }
            },
            "tricks.emma: unknown trick 'emma'",
        ),
        (
            {"tricks.ema": {"type": "toggle", "settings": {"decay": 1.5}}},
            "tricks.ema.decay = 1.5 is invalid",
        ),
    ],
)
def test_space_that_does_not_fit_params_is_refused(registry, params, message):
    with pytest.raises(PipelineError) as error:
        check_params(space(params), BASE, registry)
    assert str(error.value).startswith("space.yaml does not fit params.yaml: ") and message in str(
        error.value
    )


@pytest.mark.parametrize("key", ["seed", "data.test_fraction", "tracking.experiment"])
def test_keys_a_sweep_shares_cannot_be_searched(key):
    with pytest.raises(
        PipelineError, match=rf"space.yaml: {key} cannot be searched or fixed by a sweep"
    ):
        space({key: {"type": "float", "low": 0.1, "high": 0.2}})


def test_shipped_spaces_fit_the_project(registry):
    for name in ("classifier", "vae"):
        loaded = load_space(name, REPO)
        sampler_and_pruner(loaded)
        assert {params["model"]["family"] for params in check_params(loaded, BASE, registry)} == {
            name
        }


def test_toggle_switches_a_trick_and_its_nested_key_is_asked_only_when_on():
    toggled = space(
        {
            "tricks.ema": {"type": "toggle", "settings": {"decay": 0.99}},
            "tricks.ema.decay": {"type": "float", "low": 0.9, "high": 0.999},
        }
    )
    # FixedTrial raises if asked for a param it was not given: off means decay is never suggested
    off = toggled.suggest(
        optuna.trial.FixedTrial({"tricks.ema": False}), {**BASE, "tricks": {"ema": {"decay": 0.5}}}
    )
    assert off["tricks"] == {}
    on = toggled.suggest(
        optuna.trial.FixedTrial({"tricks.ema": True, "tricks.ema.decay": 0.95}), BASE
    )
    assert on["tricks"] == {"ema": {"decay": 0.95}} and BASE["tricks"] == {}


def test_labelled_choices_store_the_label_and_write_the_section():
    sets = space(
        {
            "tricks": {
                "type": "categorical",
                "choices": {"none": {}, "both": {"ema": {"decay": 0.9}, "lookahead": {"k": 3}}},
            }
        },
        fixed={"trainer.max_epochs": 2},
    )
    applied = sets.apply(BASE, {"tricks": "both"})
    assert (
        applied["tricks"] == {"ema": {"decay": 0.9}, "lookahead": {"k": 3}}
        and applied["trainer"]["max_epochs"] == 2
    )
    assert sets.suggest(optuna.trial.FixedTrial({"tricks": "none"}), BASE)["tricks"] == {}


@pytest.mark.parametrize(
    "name, start, labels",
    [
        (
            "classifier",
            (),
            {
                "optimizer.lr": 0.0123,
                "optimizer.name": "momentum",
                "optimizer.batch_size": 32,
                "model.hidden": 40,
                "tricks.ema": True,
                "tricks.ema.decay": 0.95,
                "tricks.weight_decay": False,
            },
        ),
        (
            "classifier",
            ("trick=[ema,weight_decay]",),
            {
                "optimizer.lr": 1e-4,
                "optimizer.name": "adam",
                "optimizer.batch_size": 128,
                "model.hidden": 16,
                "tricks.ema": False,
                "tricks.weight_decay": True,
                "tricks.weight_decay.rate": 0.003,
            },
        ),
        (
            "vae",
            (),
            {
                "optimizer.lr": 0.001,
                "model.hidden": 64,
                "model.latent": 5,
                "tricks": "ema+lookahead",
            },
        ),
    ],
)
def test_printed_dvc_line_composes_to_the_applied_params(name, start, labels):
    loaded = load_space(name, REPO)
    before = composed(*start)
    after = loaded.apply(before, labels)
    line = dvc_command(hydra_overrides(loaded, before, after))
    words = shlex.split(line)
    assert words[:3] == ["dvc", "exp", "run"] and words[3::2] == ["-S"] * len(words[3::2])
    assert composed(*start, *words[4::2]) == after


def test_unreachable_or_malformed_storage_is_one_clear_error(tmp_path):
    with pytest.raises(
        PipelineError,
        match=r"storage sqlite:///.*/missing/s.db cannot be reached: unable to open database file",
    ):
        open_storage(f"sqlite:///{tmp_path}/missing/s.db", 1, 2)
    with pytest.raises(PipelineError, match="is not a database URL"):
        open_storage("optuna/sweeps.db", 1, 2)
    with pytest.raises(
        PipelineError, match=r"mysql://me:\*\*\*@127.0.0.1:1/db needs a database driver .* pymysql"
    ):
        open_storage("mysql://me:secret@127.0.0.1:1/db", 1, 2)
    # postgresql:// takes the installed psycopg driver; nothing listens on port 1.
    with pytest.raises(
        PipelineError, match=r"storage postgresql://me:\*\*\*@127.0.0.1:1/db cannot be reached"
    ):
        open_storage("postgresql://me:secret@127.0.0.1:1/db", 1, 2)
    assert shown("mysql://me:secret@host/db") == "mysql://me:***@host/db"


def test_objective_and_monitor_must_be_what_the_family_produces(tmp_path, registry):
    from pipeline.params.validate import validate
    from pipeline.paths import Paths
    from pipeline.stages import run_stage
    from pipeline.stages.context import RunContext

    params = validate(BASE, registry)
    run_stage("prepare", RunContext(params=params, registry=registry, paths=Paths(tmp_path)))
    params = [params]
    prepared = tmp_path / "data" / "prepared"
    lr = {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 0.1}}
    with pytest.raises(
        PipelineError,
        match=r"objective.metric 'acc' is not produced by the evaluate stage of family "
        r"'classifier'; it produces: accuracy, nll.",
    ):
        check_metrics(
            parse_space(
                {"objective": {"metric": "acc", "direction": "maximize"}, "params": lr},
                "space.yaml",
                "s",
            ),
            params,
            registry,
            prepared,
        )
    # nll's counterpart val_nll is not logged: the space must name what to select on.
    with pytest.raises(
        PipelineError,
        match=r"'val_nll', the validation counterpart of objective.metric 'nll', is not logged by "
        r"the validation step of family 'classifier'; it logs: val_acc, val_loss; name the one to "
        r"select trials on with objective.select.",
    ):
        check_metrics(
            parse_space(
                {"objective": {"metric": "nll", "direction": "minimize"}, "params": lr},
                "space.yaml",
                "s",
            ),
            params,
            registry,
            prepared,
        )
    nll = {"metric": "nll", "direction": "minimize", "select": "val_loss"}
    check_metrics(
        parse_space({"objective": nll, "params": lr}, "s.yaml", "s"), params, registry, prepared
    )
    wrong_monitor = space(lr, pruner={"type": "median", "monitor": "val_accuracy"})
    with pytest.raises(
        PipelineError,
        match=r"pruner.monitor 'val_accuracy' is not logged by the validation step .*; it logs: "
        r"val_acc, val_loss.",
    ):
        check_metrics(wrong_monitor, params, registry, prepared)
    check_metrics(
        space(lr, pruner={"type": "median", "monitor": "val_acc"}), params, registry, prepared
    )


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_slots_count_the_study_not_the_worker(tmp_path):
    """A failed trial frees its slot; its WAITING retry takes it; running trials are waited for."""
    storage = open_storage(f"sqlite:///{tmp_path}/s.db", 1, 2)
    study = optuna.create_study(storage=storage, study_name="s")
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for state, value in (
        (TrialState.COMPLETE, 1.0),
        (TrialState.PRUNED, None),
        (TrialState.FAIL, None),
    ):
        study.add_trial(
            optuna.create_trial(state=state, value=value, params={"x": 0.5}, distributions=dist)
        )
    assert plan(study, 2) == DONE and plan(study, 3) == RUN
    study.add_trial(
        optuna.create_trial(state=TrialState.WAITING, params={"x": 0.5}, distributions=dist)
    )
    assert plan(study, 2) == RUN  # a queued retry always runs
    running = study.ask()  # pops the waiting trial
    assert running.params == {"x": 0.5} and plan(study, 3) == WAIT
    study.tell(running, 0.5)
    assert plan(study, 3) == DONE


def test_cli_bad_space_exits_before_any_study_exists(project: Path):
    (project / "bad.yaml").write_text(
        "objective: {metric: accuracy, direction: maximize}\n"
        "params:\n  optimizer.lr: {type: float, low: 0.5, high: 0.01}\n"
    )
    done = run(["pipeline", "sweep", "bad.yaml"], project, check=False)
    assert done.returncode == 2
    assert (
        done.stderr.strip().splitlines()[-1]
        == "error: bad.yaml: params.optimizer.lr.low = 0.5 is above high = 0.01; swap them."
    )
    missing = run(["pipeline", "sweep", "nope"], project, check=False)
    assert (
        missing.returncode == 2
        and "search space 'nope' not found; give a YAML file path or one of conf/sweep/: "
        "classifier, cln_lm, vae."
        in missing.stderr
    )
    assert not (project / "optuna").exists()  # no storage was even opened


def test_space_file_reads_exponents_without_a_dot_as_numbers(tmp_path):
    (tmp_path / "lr.yaml").write_text(
        "objective: {metric: accuracy, direction: maximize}\n"
        "params:\n  optimizer.lr: {type: float, low: 1e-4, high: 1e-1, log: true}\n"
    )
    (param,) = load_space(str(tmp_path / "lr.yaml"), tmp_path).params
    assert (param.low, param.high) == (1e-4, 0.1) and isinstance(param.low, float)


def test_pruning_callback_reports_the_monitor_negated_when_it_moves_against_the_objective():
    """Pins Optuna's Lightning callback reporting through ``trial.report``, which the negation
    wraps."""
    from types import SimpleNamespace

    import torch

    from pipeline.sweep.objective import pruning_callbacks

    lr = {"optimizer.lr": {"type": "float", "low": 0.1, "high": 1}}
    for direction, expected in (("maximize", -2.5), ("minimize", 2.5)):
        study = optuna.create_study(direction=direction)
        trial = study.ask()
        watched = parse_space(
            {
                "objective": {"metric": "elbo", "direction": direction},
                "params": lr,
                "pruner": {
                    "type": "median",
                    "monitor": "val_loss",
                    "monitor_direction": "minimize",
                },
            },
            "space.yaml",
            "s",
        )
        (callback,) = pruning_callbacks(trial, watched)
        trainer = SimpleNamespace(
            sanity_checking=False, callback_metrics={"val_loss": torch.tensor(2.5)}
        )
        callback.on_validation_end(trainer, SimpleNamespace(current_epoch=3))
        assert study.trials[0].intermediate_values == {3: expected}
        assert float(trainer.callback_metrics["val_loss"]) == 2.5 and list(
            trainer.callback_metrics
        ) == ["val_loss"]
