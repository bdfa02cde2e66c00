"""Dataset ``idx``: MNIST-format IDX files from a user-supplied folder (MNIST, Fashion-MNIST…)."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

from pipeline import PipelineError

IMAGES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
LABELS = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path):
    """Read one IDX file (optionally gzipped) into a numpy array of its declared shape."""
    import numpy as np

    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise PipelineError(
            f"{path} is not an IDX file (bad magic number); expected MNIST-format IDX data."
        )
    ndim = raw[3]
    if ndim == 0:
        raise PipelineError(
            f"{path} declares no dimensions in its header; expected MNIST-format IDX data."
        )
    if len(raw) < 4 + 4 * ndim:
        raise PipelineError(
            f"{path} is truncated: its header declares {ndim} dimensions but the file holds only "
            f"{len(raw)} bytes; expected MNIST-format IDX data."
        )
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[raw[2]])
    body = raw[4 + 4 * ndim :]
    expected = (
        math.prod(shape) * dtype.itemsize
    )  # exact: numpy's product overflows on absurd headers
    if len(body) != expected:
        raise PipelineError(
            f"{path} is truncated or padded: {len(body)} data bytes where its header's shape "
            f"{shape} "
            f"needs {expected}; expected MNIST-format IDX data."
        )
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in .gz; a damaged file is a clear error."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PipelineError(
            f"{path} cannot be read ({type(error).__name__}: {error.strerror or error}); "
            "check that it is a readable file of MNIST-format IDX data."
        ) from error
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:  # bad header, cut short, damaged stream
        raise PipelineError(
            f"{path} is not a valid gzip file ({type(error).__name__}: {error}); "
            "expected MNIST-format IDX data, gzipped or plain."
        ) from error


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_pairs(settings) -> list[tuple[Path, Path]]:
    """The (images, labels) files the dataset reads from ``data.path``: the train pair, and the t10k
    pair if present."""
    if settings["path"] is None:
        raise PipelineError(
            "data.path is not set; the idx dataset needs the folder holding the MNIST-format IDX "
            "files."
        )
    folder = Path(settings["path"]).expanduser()
    if not folder.is_dir():
        raise PipelineError(
            f"data.path = {str(folder)!r} is not a folder; expected one holding {IMAGES[0]} and "
            f"{LABELS[0]}."
        )
    pairs = []
    for images_stem, labels_stem in zip(IMAGES, LABELS, strict=True):
        images, labels = _find(folder, images_stem), _find(folder, labels_stem)
        if images is None and labels is None and images_stem != IMAGES[0]:
            continue  # the t10k pair is optional
        if images is None or labels is None:
            missing = images_stem if images is None else labels_stem
            raise PipelineError(
                f"data.path = {str(folder)!r} has no {missing} file (plain or .gz)."
            )
        pairs.append((images, labels))
    return pairs


def idx_sources(settings) -> list[Path]:
    """Every file the dataset reads, so a change to any of them reruns prepare."""
    return [path for pair in idx_pairs(settings) for path in pair]


def load_idx_arrays(settings) -> tuple:
    """Every image in the folder's train and t10k files, flattened and scaled to [0, 1], with
    labels."""
    import numpy as np

    xs, ys, first_shape = [], [], ()
    for images, labels in idx_pairs(settings):
        x, y = read_idx(images), read_idx(labels)
        _check_pair(images, x, labels, y)
        if xs and x.shape[1:] != first_shape:
            raise PipelineError(
                f"{images} holds images of shape {x.shape[1:]} but the train images have shape "
                f"{first_shape}."
            )
        first_shape = x.shape[1:]
        xs.append(
            x.reshape(len(x), math.prod(x.shape[1:])).astype(np.float32)
            / float(max(np.iinfo(x.dtype).max if x.dtype.kind in "ui" else 1, 1))
        )
        ys.append(y.astype(np.int64))
    if sum(len(y) for y in ys) == 0:
        raise PipelineError(
            f"data.path = {str(Path(settings['path']).expanduser())!r} holds IDX files with no "
            "images in them."
        )
    return np.concatenate(xs), np.concatenate(ys)


def _check_pair(images: Path, x, labels: Path, y) -> None:
    """Refuse well-formed IDX files that do not hold images and one class label per image."""
    if x.ndim < 2:
        raise PipelineError(
            f"{images} holds a {x.ndim}-D array; expected images (an IDX file with 2 or more "
            "dimensions)."
        )
    if y.ndim != 1 or y.dtype.kind not in "ui" or (len(y) and y.min() < 0):
        raise PipelineError(
            f"{labels} holds {y.ndim}-D {y.dtype} values; expected one non-negative integer label "
            "per image."
        )
    if len(x) != len(y):
        raise PipelineError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels.")
