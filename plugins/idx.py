"""Dataset plugin ``idx``: MNIST-format IDX files from a user-supplied folder (MNIST, Fashion-MNIST…)."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

from pipeline import DatasetSpec, PipelineError, Setting, hookimpl

IMAGES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
LABELS = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path):
    """Read one IDX file (optionally gzipped) into a numpy array of its declared shape."""
    import numpy as np

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise PipelineError(f"{path} is not an IDX file (bad magic number); expected MNIST-format IDX data.")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[raw[2]])
    body = raw[4 + 4 * ndim:]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(body) != expected:
        raise PipelineError(f"{path} is truncated or padded: {len(body)} data bytes for shape {shape}, expected {expected}.")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_arrays(settings) -> tuple:
    """Every image in the folder's train and t10k files, flattened and scaled to [0, 1], with labels."""
    import numpy as np

    if settings["path"] is None:
        raise PipelineError("data.path is not set; the idx dataset needs the folder holding the MNIST-format IDX files.")
    folder = Path(settings["path"]).expanduser()
    if not folder.is_dir():
        raise PipelineError(f"data.path = {str(folder)!r} is not a folder; expected one holding {IMAGES[0]} and {LABELS[0]}.")
    xs, ys = [], []
    for images_stem, labels_stem in zip(IMAGES, LABELS):
        images, labels = _find(folder, images_stem), _find(folder, labels_stem)
        if images is None and labels is None and images_stem != IMAGES[0]:
            continue  # the t10k pair is optional
        if images is None or labels is None:
            missing = images_stem if images is None else labels_stem
            raise PipelineError(f"data.path = {str(folder)!r} has no {missing} file (plain or .gz).")
        x, y = read_idx(images), read_idx(labels)
        if len(x) != len(y):
            raise PipelineError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels.")
        xs.append(x.reshape(len(x), -1).astype(np.float32) / float(max(np.iinfo(x.dtype).max if x.dtype.kind in "ui" else 1, 1)))
        ys.append(y.astype(np.int64))
    return np.concatenate(xs), np.concatenate(ys)


SETTINGS = {"path": Setting(None, "folder with the IDX files", kinds=(str,), nullable=True, expect="a folder path (string)")}


@hookimpl
def pipeline_datasets() -> list[DatasetSpec]:
    return [DatasetSpec("idx", "MNIST-format IDX files from data.path", load_idx_arrays, SETTINGS)]
