"""Where each stage reads and writes, relative to one root (the repository, or a sweep trial's
folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    def checkpoints(self) -> Path:
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
    def exported(self) -> Path:
        return self.root / "exported"
