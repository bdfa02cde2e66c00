"""What every worker of one sweep shares: the space, the study's address, its folder and its MLflow parent run."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pipeline.sweep.space import Space

FOLDER_ATTR = "sweep.folder"  # user attr: the trial folder's number, inherited by retries of the trial


@dataclass(frozen=True)
class Sweep:
    """One sweep as a worker process receives it (plain data, so it pickles)."""

    root: Path  # the project
    space: Space
    storage_url: str
    study: str
    base: Mapping[str, Any]  # raw params.yaml the trials start from
    parent_run_id: str
    tracking_uri: str  # the project's MLflow store, which every trial's runs go to
    n_trials: int
    workers: int = 1  # local worker processes (they split the CPU cores)
    trials_before: int = 0  # trials the study held when this command started (seeds each run's samplers apart)
    deadline: float | None = None  # time.time() after which no trial starts

    @property
    def folder(self) -> Path:
        """``optuna/<study>/``: the shared prepared data, the trials' folders and the study's plots."""
        return study_folder(self.root, self.study)

    @property
    def prepared(self) -> Path:
        """The prepare stage's split, written once per study and read by every trial."""
        return self.folder / "prepared"

    def trial_root(self, number: int) -> Path:
        """A trial's own root; a retried trial gets the folder of the trial it retries, so it resumes there."""
        return self.folder / "trials" / f"{number:04d}"


def study_folder(root: Path, study: str) -> Path:
    """The folder of ``study`` under the project's git-ignored ``optuna/``."""
    return Path(root) / "optuna" / re.sub(r"[^A-Za-z0-9_.-]+", "_", study)
