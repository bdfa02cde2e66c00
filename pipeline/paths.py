"""Where each stage reads and writes, relative to one root (the repository, or a sweep trial's
folder)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def repository(root: Path) -> Path:
    """The user's repository that ``root`` stands for, where what outlives a run is kept.

    ``dvc exp run --queue`` and ``--temp`` run the stages in a temporary copy, deleted afterwards,
    and name the user's repository in ``DVC_ROOT``; anywhere else ``root`` is the repository.
    """
    return Path(os.environ["DVC_ROOT"]) if in_temporary_copy(root) else Path(root)


def in_temporary_copy(root: Path) -> bool:
    """True when a DVC stage runs in a temporary copy of the repository rather than in it."""
    dvc_root = os.environ.get("DVC_ROOT")
    stage_root = Path.cwd().resolve()
    return bool(dvc_root) and Path(root).resolve() == stage_root != Path(dvc_root).resolve()


@dataclass(frozen=True)
class Paths:
    """Every file and folder the stages exchange; dvc.yaml names the same paths."""

    root: Path
    prepared_dir: Path | None = None  # a sweep shares one prepared split between trials

    @property
    def prepared(self) -> Path:
        return self.prepared_dir or self.root / "data" / "prepared"

    @property
    def source_record(self) -> Path:
        """The fingerprint of the files the dataset reads (written by check, a dependency of
        prepare)."""
        return self.root / "data" / "source.json"

    @property
    def plugin_record(self) -> Path:
        """The distributions (and editable sources) of the family's and tricks' plugins (written by
        check, a dependency of train, evaluate and export)."""
        return self.root / "data" / "plugins.json"

    @property
    def checkpoints(self) -> Path:
        """Outside a queued or temporary DVC run's copy, so a killed experiment can resume: one
        folder per experiment name (``dvc exp run -n NAME`` again continues it)."""
        if in_temporary_copy(self.root):
            name = os.environ.get("DVC_EXP_NAME") or "unnamed"
            return repository(self.root) / "checkpoints.exps" / name
        return self.root / "checkpoints"

    @property
    def model(self) -> Path:
        return self.root / "models" / "model.pt"

    @property
    def run_record(self) -> Path:
        return self.root / "models" / "run.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def samples(self) -> Path:
        """Text samples a family writes in evaluate (generated text, titles beside references)."""
        return self.root / "samples"

    @property
    def exported(self) -> Path:
        return self.root / "exported"
