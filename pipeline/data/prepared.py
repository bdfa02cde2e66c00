"""The prepared train/val/test split that the prepare stage writes and the later stages read."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.data.shards import ShardSplit, damaged, load_index
from pipeline.data.types import SPLITS, DataInfo, Examples, Split
from pipeline.errors import PipelineError


@dataclass(frozen=True)
class PreparedData:
    """The three splits and their description."""

    info: DataInfo
    train: Split
    val: Split
    test: Split

    @property
    def sharded(self) -> bool:
        """Whether the splits are shards streamed from disk (:mod:`pipeline.data.shards`)."""
        return not isinstance(self.train, Split)

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
        try:
            raw = json.loads(info_path.read_text())
        except ValueError:
            raise damaged(folder, "info.json is not valid JSON") from None
        info = DataInfo(
            tuple(raw["input_shape"]),
            int(raw["num_classes"]),
            raw["dataset"],
            tuple(raw.get("vocab", ())),
            tuple(raw.get("labels", ())),
            raw.get("fingerprint", ""),
            int(raw.get("train_examples", 0)),
        )
        if raw.get("storage") == "shards":
            index = load_index(folder)
            return cls(info, *(ShardSplit(folder, index[name]) for name in SPLITS))
        splits = {}
        for name in SPLITS:
            try:
                with np.load(folder / f"{name}.npz") as arrays:
                    splits[name] = Split(arrays["x"], arrays["y"])
            except FileNotFoundError:
                raise damaged(folder, f"{name}.npz is missing") from None
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                why = f"{type(error).__name__}: {error}"
                raise damaged(folder, f"{name}.npz cannot be read ({why})") from None
        return cls(info, **splits)


def split_examples(
    loaded: "Examples | tuple[np.ndarray, np.ndarray]",
    val_fraction: float,
    test_fraction: float,
    seed: int,
    dataset: str,
) -> PreparedData:
    """Shuffle what a dataset's ``load`` returned (``(x, y)`` or :class:`Examples`) with ``seed``
    and cut it into train/val/test, stratified by label when labels vary.

    Features stay int64 token ids when the examples have a vocabulary and become float32
    otherwise; ``y`` may be one label per row or a target sequence per row (never stratified).
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(loaded, Examples):
        loaded = Examples(*loaded)
    x = np.ascontiguousarray(loaded.x, dtype=np.int64 if loaded.vocab else np.float32)
    y = np.ascontiguousarray(loaded.y, dtype=np.int64)
    stratify = _stratifiable(y)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=stratify
    )
    stratify = _stratifiable(y_rest) if stratify is not None else None
    val_share = val_fraction / (1 - test_fraction)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_share, random_state=seed, stratify=stratify
    )
    labels = tuple(loaded.labels)
    num_classes = max(int(y.max()) + 1, len(labels)) if y.ndim == 1 else len(labels)
    info = DataInfo(
        tuple(int(d) for d in x.shape[1:]),
        num_classes,
        dataset,
        tuple(loaded.vocab),
        labels,
        loaded.fingerprint,
        len(x_train),
    )
    return PreparedData(info, Split(x_train, y_train), Split(x_val, y_val), Split(x_test, y_test))


def _stratifiable(y: np.ndarray) -> np.ndarray | None:
    """``y`` when a stratified split can use it: one label per row, several labels, and every
    label on at least three rows (so each of the three splits can hold one)."""
    if y.ndim != 1:
        return None
    _, counts = np.unique(y, return_counts=True)
    return y if len(counts) > 1 and counts.min() >= 3 else None
