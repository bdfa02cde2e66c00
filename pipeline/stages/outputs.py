"""Reading and writing the files stages hand each other, each written atomically (temp file, then
rename)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from pipeline._runtime.atomic_file import write_atomically
from pipeline.errors import PipelineError


def write_json(path: Path, values: Mapping[str, Any]) -> None:
    """Write ``values`` as sorted, indented JSON."""
    text = json.dumps(values, indent=2, sort_keys=True) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))


def read_run_id(path: Path) -> str:
    """The MLflow run the train stage opened, as recorded in ``models/run.json``."""
    if not path.is_file():
        raise PipelineError(f"{path} not found; run `pipeline run train` (or `dvc repro`) first.")
    return json.loads(path.read_text())["run_id"]


def save_weights(path: Path, module: Any, family: str) -> None:
    """Write the trained weights as plain tensors, loadable with ``weights_only=True``."""
    import torch

    weights = {"state_dict": module.state_dict(), "family": family}

    def write(tmp: Path) -> None:
        with tmp.open("wb") as file:  # through Python, so a full disk is an OSError (ENOSPC)
            torch.save(weights, file)

    write_atomically(path, write)


def load_trained(ctx) -> tuple[Any, Any, Any]:
    """Rebuild the trained module from ``models/model.pt``; return ``(family, module, data)``."""
    import torch

    from pipeline.data.prepared import PreparedData

    data = PreparedData.load(ctx.paths.prepared)
    path = ctx.paths.model
    if not path.is_file():
        raise PipelineError(
            f"trained model {path} not found; run `pipeline run train` (or `dvc repro`) first."
        )
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        state = saved["state_dict"]
    except Exception as error:  # damaged files raise many types
        raise PipelineError(
            f"trained model {path} is corrupt or unreadable ({type(error).__name__}); rerun the "
            "train stage."
        ) from error
    family_name = ctx.params["model"]["family"]
    if saved.get("family") != family_name:
        raise PipelineError(
            f"trained model {path} is a {saved.get('family')!r} model but model.family is "
            f"{family_name!r}; rerun the train stage."
        )
    broken = [
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not torch.isfinite(value).all()
    ]
    if broken:
        named = ", ".join(broken[:3]) + (f" and {len(broken) - 3} more" if len(broken) > 3 else "")
        raise PipelineError(
            f"trained model {path} holds non-finite weights (nan or inf in {named}); "
            "the training diverged — retrain with a lower optimizer.lr."
        )
    family = ctx.registry.family(family_name).load()
    module = family.build(ctx.params["model"], data.info)
    module.load_state_dict(state)
    module.eval()
    return family, module, data


def move_text_samples(plots: Path, samples: Path) -> list[Path]:
    """Move the ``.txt`` files a family's ``evaluate`` wrote among its pictures into ``samples``
    (``dvc plots`` reads only pictures and tables) and return their new paths. ``samples`` is
    emptied first, so it holds this run's samples only, with a README.md listing them (or saying
    there are none, so the DVC output is never an empty folder)."""
    import shutil

    shutil.rmtree(samples, ignore_errors=True)
    samples.mkdir(parents=True)
    moved = []
    for text in sorted(plots.glob("*.txt")):
        moved.append(Path(shutil.move(str(text), str(samples / text.name))))
    listed = "\n".join(f"- {path.name}" for path in moved)
    (samples / "README.md").write_text(
        f"Text samples of the last evaluate run:\n\n{listed}\n"
        if moved
        else f"The last evaluate run wrote no text samples; its pictures are in {plots.name}/ "
        "under plots/.\n",
        encoding="utf-8",
    )
    return moved
