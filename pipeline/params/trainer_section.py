"""Checks the ``trainer:`` section against what Lightning's Trainer accepts, without importing
Lightning.

The names below are Lightning 2.6's; ``tests/test_trainer_check.py`` compares them with the
installed
Lightning, so an upgrade that changes them fails a test instead of letting a typo through. Checking
here, in milliseconds, lets ``pipeline run check`` refuse a bad trainer setting before DVC removes
any result of the last run.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Mapping

from pipeline.errors import PipelineError
from pipeline.plugin.schema import did_you_mean

TRAINER_ARGUMENTS = (
    "accelerator",
    "strategy",
    "devices",
    "num_nodes",
    "precision",
    "logger",
    "callbacks",
    "fast_dev_run",
    "max_epochs",
    "min_epochs",
    "max_steps",
    "min_steps",
    "max_time",
    "limit_train_batches",
    "limit_val_batches",
    "limit_test_batches",
    "limit_predict_batches",
    "overfit_batches",
    "val_check_interval",
    "check_val_every_n_epoch",
    "num_sanity_val_steps",
    "log_every_n_steps",
    "enable_checkpointing",
    "enable_progress_bar",
    "enable_model_summary",
    "accumulate_grad_batches",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "deterministic",
    "benchmark",
    "inference_mode",
    "use_distributed_sampler",
    "profiler",
    "detect_anomaly",
    "barebones",
    "plugins",
    "sync_batchnorm",
    "reload_dataloaders_every_n_epochs",
    "default_root_dir",
    "enable_autolog_hparams",
    "model_registry",
)
OWNED_BY_PIPELINE = ("callbacks", "logger", "default_root_dir", "enable_checkpointing")
# Keys the section once held that now live elsewhere: the old name and its new home.
MOVED = {"checkpoint_seconds": "checkpoint.seconds"}
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = (
    64,
    32,
    16,
    "64",
    "32",
    "16",
    "bf16",
    "transformer-engine",
    "transformer-engine-float16",
    "16-true",
    "16-mixed",
    "bf16-true",
    "bf16-mixed",
    "32-true",
    "64-true",
)
STRATEGIES = (
    "auto",
    "ddp",
    "ddp_spawn",
    "ddp_fork",
    "ddp_notebook",
    "ddp_find_unused_parameters_false",
    "ddp_find_unused_parameters_true",
    "ddp_spawn_find_unused_parameters_false",
    "ddp_spawn_find_unused_parameters_true",
    "ddp_fork_find_unused_parameters_false",
    "ddp_fork_find_unused_parameters_true",
    "ddp_notebook_find_unused_parameters_false",
    "ddp_notebook_find_unused_parameters_true",
    "deepspeed",
    "deepspeed_stage_1",
    "deepspeed_stage_2",
    "deepspeed_stage_2_offload",
    "deepspeed_stage_3",
    "deepspeed_stage_3_offload",
    "deepspeed_stage_3_offload_nvme",
    "fsdp",
    "fsdp_cpu_offload",
    "single_device",
    "single_xla",
    "xla_debug",
    "xla",
    "single_tpu",
)


def check_trainer(settings: Mapping[str, Any]) -> None:
    """Refuse trainer keys Lightning does not take (or the pipeline sets) and values it would
    reject."""
    for key in settings:
        if key in MOVED:
            section, name = MOVED[key].split(".")
            raise PipelineError(
                f"trainer.{key} moved to {MOVED[key]}; move it there "
                f"({section}: {{{name}: {settings[key]!r}}})."
            )
        if key in OWNED_BY_PIPELINE:
            raise PipelineError(
                f"trainer.{key} is set by the pipeline and cannot be given in params.yaml."
            )
        if key not in TRAINER_ARGUMENTS:
            raise PipelineError(
                f"trainer.{key} is not an argument of Lightning's "
                f"Trainer{did_you_mean(key, TRAINER_ARGUMENTS)}; "
                "see the Trainer's arguments in the Lightning docs."
            )
    _choice(settings, "accelerator", ACCELERATORS)
    _choice(settings, "strategy", STRATEGIES)
    _choice(settings, "precision", PRECISIONS)
    devices = settings.get("devices", "auto")
    if not _valid_devices(devices):
        raise PipelineError(
            f"trainer.devices = {devices!r} is invalid; expected a device count ≥ 1, -1 for all, "
            "'auto', or a non-empty list of device ids such as [0, 1]."
        )


def _choice(settings: Mapping[str, Any], key: str, valid: tuple) -> None:
    if key not in settings:
        return
    value = settings[key]
    if isinstance(value, bool) or value not in valid:
        names = [str(v) for v in valid if isinstance(v, str)]
        raise PipelineError(
            f"trainer.{key} = {value!r} is invalid{did_you_mean(value, names)}; "
            f"expected one of {', '.join(names)}."
        )


def _valid_devices(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 1 or value == -1
    if isinstance(value, str):
        text = value.strip()
        if text in ("auto", "-1"):
            return True
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return (
            bool(parts)
            and all(p.isdigit() for p in parts)
            and (len(parts) > 1 or text.endswith(",") or int(parts[0]) >= 1)
        )
    if isinstance(value, (list, tuple)):
        return bool(value) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        )
    return False


def check_accelerator_available(accelerator: Any) -> None:
    """Refuse an accelerator this machine lacks; imports torch only when a GPU is asked for."""
    if accelerator == "tpu" and importlib.util.find_spec("torch_xla") is None:
        raise PipelineError(
            "trainer.accelerator = 'tpu' but torch_xla is not installed; install it on a TPU "
            "machine, "
            "or use accelerator: cpu."
        )
    if accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise PipelineError(
                f"trainer.accelerator = {accelerator!r} but no CUDA GPU is visible on this "
                "machine; "
                "use accelerator: cpu (or auto)."
            )
    if accelerator == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise PipelineError(
                "trainer.accelerator = 'mps' but Apple's MPS is not available here; use "
                "accelerator: cpu (or auto)."
            )
