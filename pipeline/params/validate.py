"""Reads params.yaml safely and validates every section against the settings its components
declare."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError
from pipeline.params.trainer_section import check_trainer
from pipeline.params.yaml_io import read_yaml_file
from pipeline.plugin.hookspecs import OPTIMIZER_CORE_KEYS
from pipeline.plugin.registry import Registry
from pipeline.plugin.schema import Setting, did_you_mean, non_finite_numbers, validate_section

CORE_SCHEMA: dict[str, dict[str, Setting]] = {
    "data": {
        "name": Setting("digits", "dataset plugin to load", kinds=(str,)),
        "val_fraction": Setting(
            0.1,
            "share of examples held out for validation",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        ),
        "test_fraction": Setting(
            0.2,
            "share of examples held out for the test metrics",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        ),
        "num_workers": Setting(
            0, "DataLoader worker processes reading training batches (0: the trainer reads)", low=0
        ),
        "shards": Setting(
            8, "shard files per split, for a dataset that streams its examples", low=1
        ),
    },
    "model": {
        "family": Setting("classifier", "model family plugin to train", kinds=(str,)),
    },
    # What every base optimizer takes; each optimizer plugin adds its own settings (momentum…).
    "optimizer": {
        "name": Setting("adam", "base optimizer plugin", kinds=(str,)),
        "lr": Setting(1e-3, "learning rate", low=0, low_open=True),
        "batch_size": Setting(64, "examples per (micro-)batch", low=1),
        "weight_decay": Setting(0.0, "L2 penalty passed to the optimizer", low=0),
    },
    "trainer": {
        "accelerator": Setting("cpu", "cpu, gpu, tpu, mps or auto", kinds=(str,)),
        "devices": Setting(1, "device count, list of ids, or 'auto'", kinds=(int, str, list)),
        "strategy": Setting("auto", "auto, ddp, ddp_spawn, fsdp, deepspeed…", kinds=(str,)),
        "num_nodes": Setting(1, "machines taking part", low=1),
        "precision": Setting("32-true", "32-true, 16-mixed, bf16-mixed…", kinds=(str, int)),
        "max_epochs": Setting(20, "epochs to train", low=1),
        "deterministic": Setting(True, "use deterministic algorithms"),
        "log_every_n_steps": Setting(10, "how often step metrics are logged", low=1),
    },
    # How often a training saves what a killed run resumes from. It changes no result, so it is
    # neither in the resume fingerprint (pipeline.training.resume) nor a param of the train stage.
    "checkpoint": {
        "seconds": Setting(
            2.0,
            "least seconds of training between two saves of checkpoints/last.ckpt (0: every epoch)",
            low=0,
        ),
    },
    # What the train stage refuses to keep (it always refuses a diverged training).
    "checks": {
        "chance_level": Setting(
            True,
            "refuse a model that scores no better than chance on the validation split (the "
            "family's baseline, for a classifier the majority-class rate); false keeps it",
        ),
    },
    # Which epoch's weights the train stage keeps, and whether it stops before trainer.max_epochs.
    "selection": {
        "monitor": Setting(
            "val_loss",
            "validation metric the family logs that selects the epoch (val_loss, val_acc…)",
            kinds=(str,),
            check=lambda name: name.startswith("val_") and len(name) > 4,
            expect="the name of a validation metric, such as 'val_loss' or 'val_acc'",
        ),
        "mode": Setting(
            "min", "min: lower monitor values are better; max: higher", choices=("min", "max")
        ),
        "patience": Setting(
            0,
            "epochs without a better monitor value before training stops early (0: never)",
            low=0,
        ),
        "best": Setting(
            False,
            "keep the weights of the epoch with the best monitor value instead of the last epoch's",
        ),
    },
    "export": {
        "tolerance": Setting(
            1e-4,
            "largest absolute difference allowed between torch and exported outputs",
            low=0,
            low_open=True,
        ),
        "examples": Setting(64, "held-out examples used for the parity check", low=1),
    },
    "tracking": {
        "experiment": Setting("pipeline", "MLflow experiment name", kinds=(str,)),
    },
}
TOP_LEVEL = {"seed": Setting(0, "global random seed", low=0)}
SECTIONS = (
    "seed",
    "data",
    "model",
    "optimizer",
    "tricks",
    "trainer",
    "checkpoint",
    "checks",
    "selection",
    "export",
    "tracking",
)


def read_yaml(path: Path) -> dict[str, Any]:
    """Load a YAML mapping with the safe loader, or raise a clear error."""
    data = read_yaml_file(path, "params file", "run from the project root or pass --params")
    if not isinstance(data, dict):
        raise PipelineError(
            f"params file {path} must hold a mapping of sections ({', '.join(SECTIONS)})."
        )
    return data


def validate(raw: Mapping[str, Any], registry: Registry) -> dict[str, Any]:
    """Return a validated, defaults-filled copy of ``raw`` params; raise on the first bad key."""
    raw = copy.deepcopy(dict(raw))
    unknown = sorted(set(raw) - set(SECTIONS) - {"hydra"}, key=str)
    if unknown:
        raise PipelineError(
            f"{unknown[0]} is not a known params section{did_you_mean(unknown[0], SECTIONS)}; "
            f"known sections: {', '.join(SECTIONS)}."
        )
    for path, value in non_finite_numbers(raw):
        raise PipelineError(f"{path} = {value} is not a finite number; give a finite value.")
    params: dict[str, Any] = validate_section("", {"seed": raw.get("seed", 0)}, TOP_LEVEL)

    data = raw.get("data") or {}
    dataset = registry.dataset(_name(data, "data.name", CORE_SCHEMA["data"]["name"].default))
    params["data"] = validate_section("data", data, {**CORE_SCHEMA["data"], **dataset.settings})
    if params["data"]["val_fraction"] + params["data"]["test_fraction"] >= 1:
        raise PipelineError(
            "data.val_fraction + data.test_fraction must be below 1 so examples are left to train "
            "on."
        )

    model = raw.get("model") or {}
    family = registry.family(_name(model, "model.family", CORE_SCHEMA["model"]["family"].default))
    params["model"] = validate_section("model", model, {**CORE_SCHEMA["model"], **family.settings})
    if dataset.kind not in family.reads:
        fitting = sorted(n for n, e in registry.datasets.items() if e.spec.kind in family.reads)
        raise PipelineError(
            f"model.family = {family.name} trains on {' or '.join(family.reads)} data but "
            f"data.name = {dataset.name} gives {dataset.kind}; use one of: {', '.join(fitting)}."
        )

    params["tricks"] = validate_tricks(raw.get("tricks"), registry)
    params["optimizer"] = validate_optimizer(raw.get("optimizer"), registry)
    for section in ("checkpoint", "checks", "selection", "export", "tracking"):
        params[section] = validate_section(section, raw.get(section), CORE_SCHEMA[section])
    # Any other argument of Lightning's Trainer may be given too.
    params["trainer"] = validate_section(
        "trainer", raw.get("trainer"), CORE_SCHEMA["trainer"], allow_extra=True
    )
    check_trainer(params["trainer"])
    return params


def validate_tricks(raw: Any, registry: Registry) -> dict[str, dict[str, Any]]:
    """Validate the ``tricks:`` section: known names, valid settings, no conflicting pair."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PipelineError(f"tricks must map trick names to their settings, got {raw!r}.")
    tricks = {}
    for name, settings in raw.items():
        spec = registry.trick(name)
        tricks[name] = validate_section(f"tricks.{name}", settings, spec.settings)
    for name in tricks:
        for other in registry.trick(name).conflicts:
            if other in tricks:
                raise PipelineError(
                    f"tricks.{name} cannot be combined with tricks.{other}; enable only one of "
                    "them."
                )
    return tricks


def validate_optimizer(raw: Any, registry: Registry) -> dict[str, Any]:
    """Validate the ``optimizer:`` section against the chosen optimizer plugin's settings, refusing
    settings of other optimizers, which the chosen one would ignore."""
    core = CORE_SCHEMA["optimizer"]
    name = _name(raw or {}, "optimizer.name", core["name"].default)
    known = tuple(registry.optimizers)
    if name not in known:
        hint = "".join(
            f" It may come from the broken plugin {plugin}; {plugin.remedy}."
            for plugin in registry.broken
        )
        choice = Setting(core["name"].default, choices=known)
        raise PipelineError(
            f"optimizer.name = {name!r} is invalid; expected {choice.describe()}.{hint}"
        )
    spec = registry.optimizer(name)
    for key in raw or {}:
        users = [n for n, e in registry.optimizers.items() if key in e.spec.own_settings]
        if key not in OPTIMIZER_CORE_KEYS and key not in spec.settings and users:
            raise PipelineError(
                f"optimizer.{key} is ignored by optimizer.name = {name!r}; remove it, "
                f"or choose an optimizer that uses it: {', '.join(users)}."
            )
    return validate_section("optimizer", raw, {**core, **spec.settings})


def load_params(path: Path, registry: Registry) -> dict[str, Any]:
    """Read and validate params.yaml at ``path``."""
    return validate(read_yaml(path), registry)


def _name(section: Any, key: str, default: str) -> str:
    if not isinstance(section, Mapping):
        raise PipelineError(f"{key.split('.')[0]} must be a mapping of settings, got {section!r}.")
    value = section.get(key.split(".")[1], default)
    if not isinstance(value, str):
        raise PipelineError(f"{key} = {value!r} is invalid; expected a name (a string).")
    return value
