"""The prepared train/val/test split that the prepare stage writes and the later stages read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataInfo:
    """What a family needs to know about its input to build a model."""

    input_shape: tuple[int, ...]
    num_classes: int
    dataset: str


@dataclass(frozen=True)
class Split:
    """Features and labels of one split."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class PreparedData:
    """The three splits and their description."""

    info: DataInfo
    train: Split
    val: Split
    test: Split

    def save(self, folder: Path) -> None:
        """Write one ``.npz`` per split and ``info.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in SPLITS:
            split = getattr(self, name)
            np.savez(folder / f"{name}.npz", x=split.x, y=split.y)
        (folder / "info.json").write_text(json.dumps(asdict(self.info), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "PreparedData":
        """Read what :meth:`save` wrote, or explain that the prepare stage has not run."""
        info_path = folder / "info.json"
        if not info_path.is_file():
            raise PipelineError(
                f"prepared data not found at {folder}; run `pipeline run prepare` (or `dvc repro`) "
                "first."
            )
        raw = json.loads(info_path.read_text())
        info = DataInfo(tuple(raw["input_shape"]), int(raw["num_classes"]), raw["dataset"])
        splits = {}
        for name in SPLITS:
            with np.load(folder / f"{name}.npz") as arrays:
                splits[name] = Split(arrays["x"], arrays["y"])
        return cls(info, **splits)


def split_arrays(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, dataset: str
) -> PreparedData:
    """Shuffle with ``seed`` and cut into train/val/test, stratified by label when labels vary."""
    from sklearn.model_selection import train_test_split

    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.int64)
    stratify = y if len(np.unique(y)) > 1 else None
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=stratify
    )
    stratify = y_rest if stratify is not None else None
    val_share = val_fraction / (1 - test_fraction)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_share, random_state=seed, stratify=stratify
    )
    info = DataInfo(tuple(int(d) for d in x.shape[1:]), int(y.max()) + 1, dataset)
    return PreparedData(info, Split(x_train, y_train), Split(x_val, y_val), Split(x_test, y_test))
