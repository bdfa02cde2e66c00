"""Params validation: every mistake a user can make in params.yaml gets one sentence naming the key
path."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.errors import PipelineError
from pipeline.params.validate import validate
from tests.project_kit import REPO, edit_params, run

DEFAULT = yaml.safe_load((REPO / "params.yaml").read_text())


def changed(**sections) -> dict:
    params = copy.deepcopy(DEFAULT)
    for section, values in sections.items():
        if isinstance(values, dict):
            params.setdefault(section, {}).update(values)
        else:
            params[section] = values
    return params


def test_default_params_validate_to_themselves(registry):
    params = validate(DEFAULT, registry)
    assert params["model"] == {"family": "classifier", "hidden": 100, "loss": "cross_entropy"}
    assert params["optimizer"]["name"] == "adam" and params["optimizer"]["lr"] == 0.001
    assert params["trainer"]["max_epochs"] == DEFAULT["trainer"]["max_epochs"]
    assert params["tricks"] == {}


def test_checkpoint_interval_has_its_own_section_and_shapes_no_result(registry):
    from pipeline.training import resume

    params = validate(DEFAULT, registry)
    assert params["checkpoint"] == {"seconds": 2.0}
    assert "checkpoint_seconds" not in params["trainer"]  # the section holds Trainer arguments only
    every_epoch = validate(changed(checkpoint={"seconds": 0}), registry)
    assert every_epoch["checkpoint"] == {"seconds": 0}
    # a killed run resumes under another interval instead of starting over
    assert resume.fingerprint(every_epoch) == resume.fingerprint(params)


@pytest.mark.parametrize(
    "sections, message",
    [
        (
            {"model": {"family": "resnet9000"}},
            "model.family: unknown model family 'resnet9000' (did you mean 'iresnet'?); known: ",
        ),
        (
            {"data": {"name": "imagenet"}},
            "data.name: unknown dataset 'imagenet' (did you mean 'image_folder'?); known: ",
        ),
        ({"tricks": {"warp_drive": {}}}, "tricks.warp_drive: unknown trick 'warp_drive'; known: "),
        (
            {"model": {"hidden": "wide"}},
            "model.hidden = 'wide' is invalid; expected an integer in [1, inf)",
        ),
        ({"model": {"hidden": 0}}, "model.hidden = 0 is invalid; expected an integer in [1, inf)"),
        ({"model": {"hidden": True}}, "model.hidden = True is invalid"),
        (
            {"model": {"depth": 3}},
            "model.depth is not a known setting; known settings: family, hidden, loss.",
        ),
        (
            {"optimizer": {"lr": -0.1}},
            "optimizer.lr = -0.1 is invalid; expected a number in (0, inf)",
        ),
        (
            {"optimizer": {"name": "adagrad"}},
            "optimizer.name = 'adagrad' is invalid; expected one of 'sgd', 'momentum', 'adam', "
            "'adamw', 'rmsprop'.",
        ),
        (
            {"data": {"test_fraction": 1.5}},
            "data.test_fraction = 1.5 is invalid; expected a number in (0, 1)",
        ),
        (
            {"data": {"val_fraction": 0.5, "test_fraction": 0.5}},
            "data.val_fraction + data.test_fraction must be below 1",
        ),
        ({"trainer": {"max_epochs": 0}}, "trainer.max_epochs = 0 is invalid"),
        ({"seed": -1}, "seed = -1 is invalid"),
        ({"trainer": "fast"}, "trainer must be a mapping of settings"),
        (
            {"optimiser": {}},
            "optimiser is not a known params section (did you mean 'optimizer'?); known sections: ",
        ),
        (
            {"trainr": {"max_epochs": 3}},
            "trainr is not a known params section (did you mean 'trainer'?)",
        ),
        (
            {"model": {"hiden": 3}},
            "model.hiden is not a known setting (did you mean 'hidden'?); known settings: family, "
            "hidden, loss.",
        ),
        ({"optimizer": {"lr": float("nan")}}, "optimizer.lr = nan is not a finite number"),
        ({"optimizer": {"lr": float("inf")}}, "optimizer.lr = inf is not a finite number"),
        ({"export": {"tolerance": float("inf")}}, "export.tolerance = inf is not a finite number"),
        (
            {"tricks": {"piecewise_lr": {"points": [[0, 1.0], [10, float("inf")]]}}},
            "tricks.piecewise_lr.points[1][1] = inf is not a finite number",
        ),
        (
            {"optimizer": {"name": "sgd", "momentum": 0.9}},
            "optimizer.momentum is ignored by optimizer.name = 'sgd'; remove it, or choose an "
            "optimizer that uses it: momentum, rmsprop.",
        ),
        (
            {"optimizer": {"name": "adam", "momentum": 0.5}},
            "optimizer.momentum is ignored by optimizer.name = 'adam'",
        ),
        (
            {"trainer": {"checkpoint_seconds": 0}},
            "trainer.checkpoint_seconds moved to checkpoint.seconds; move it there "
            "(checkpoint: {seconds: 0}).",
        ),
        ({"checkpoint": {"seconds": -1}}, "checkpoint.seconds = -1 is invalid"),
        (
            {"checkpoint": {"every": 2}},
            "checkpoint.every is not a known setting; known settings: seconds.",
        ),
    ],
)
def test_bad_params_name_the_key(registry, sections, message):
    with pytest.raises(PipelineError) as error:
        validate(changed(**sections), registry)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_infinite_bound_is_printed_open_and_refused():
    from pipeline.params.validate import CORE_SCHEMA

    lr = CORE_SCHEMA["optimizer"]["lr"]
    assert lr.describe() == "a number in (0, inf)"
    assert not lr.is_valid(float("inf")) and not lr.is_valid(float("nan")) and lr.is_valid(1e30)


def test_only_the_settings_an_optimizer_uses_are_kept(registry):
    assert "momentum" not in validate(changed(optimizer={"name": "sgd"}), registry)["optimizer"]
    assert (
        validate(changed(optimizer={"name": "momentum"}), registry)["optimizer"]["momentum"] == 0.9
    )
    assert (
        validate(changed(optimizer={"name": "rmsprop", "momentum": 0.5}), registry)["optimizer"][
            "momentum"
        ]
        == 0.5
    )


def test_nan_written_in_yaml_is_refused(registry, tmp_path: Path):
    from pipeline.params.validate import load_params

    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(DEFAULT).replace("lr: 0.001", "lr: .nan"))
    with pytest.raises(PipelineError, match=r"^optimizer.lr = nan is not a finite number"):
        load_params(path, registry)


def test_misspelled_plugin_name_gets_a_suggestion(registry):
    with pytest.raises(
        PipelineError, match=r"^tricks.emma: unknown trick 'emma' \(did you mean 'ema'\?\); known: "
    ):
        validate(changed(tricks={"emma": {}}), registry)


def test_plugins_lists_the_optimizers(project: Path):
    listing = run(["pipeline", "plugins"], project).stdout
    section = listing[listing.index("optimizers (optimizer.name):") :].splitlines()
    assert [line.split()[0] for line in section[1:6]] == [
        "sgd",
        "momentum",
        "adam",
        "adamw",
        "rmsprop",
    ]
    assert "also uses optimizer.momentum" in section[2]


def test_unknown_family_lists_the_known_ones(registry):
    with pytest.raises(PipelineError, match="known: .*classifier"):
        validate(changed(model={"family": "nope"}), registry)


def test_cli_rejects_bad_params_before_heavy_imports(project: Path):
    edit_params(project, model={"family": "resnet9000"})
    done = run(["pipeline", "run", "train"], project, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[-1]] and lines[0].startswith(
        "error: model.family: unknown model family 'resnet9000'"
    )
    assert not (project / "checkpoints").exists() and not (project / "mlflow.db").exists()


def test_validation_imports_no_torch(project: Path):
    code = (
        "import sys; from pathlib import Path; from pipeline.stages.context import build_context; "
        "build_context(Path('.')); print(sorted(m for m in ('torch', 'lightning', 'mlflow', "
        "'tensorflow') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_params_file_must_be_yaml_mapping(project: Path):
    (project / "params.yaml").write_text("- just\n- a list\n")
    done = run(["pipeline", "run", "prepare"], project, check=False)
    assert done.returncode == 2 and "must hold a mapping of sections" in done.stderr


def test_params_are_read_with_the_safe_loader(project: Path):
    (project / "params.yaml").write_text("seed: !!python/object/apply:os.system ['echo pwned']\n")
    done = run(["pipeline", "run", "prepare"], project, check=False)
    assert (
        done.returncode == 2 and "is not valid YAML" in done.stderr and "pwned" not in done.stdout
    )
