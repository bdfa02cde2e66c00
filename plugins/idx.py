"""Dataset ``idx``: MNIST-format IDX files from a user-supplied folder (MNIST, Fashion-MNIST…),
streamed one image at a time.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian 4-byte size per dimension, then the values row by row. The images files are read a row
(one image) at a time, plain or gzipped, so memory holds one image whatever the files' size; the
labels files (one byte per image in MNIST) are read whole. Everything the headers can tell (a bad
magic number, counts or shapes that do not match) is refused before the first image is read; a
body shorter or longer than its header says is refused when the stream reaches it.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from pipeline import PipelineError
from plugins.user_files import user_folder

IMAGES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
LABELS = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CHUNK = 1 << 20  # bytes read at once: a header may promise more than memory holds
_FORMAT = "expected MNIST-format IDX data."


def stream_idx(settings):
    """Every image of the folder's train and t10k files, flattened and scaled to [0, 1], with its
    label; an image's id is its file's standard name and its index, e.g.
    ``train-images-idx3-ubyte:17`` (the same for a plain and a gzipped file).

    With ``data.test_split: official`` (the default) and a t10k pair present, the t10k images are
    the test split, as published; ``pool`` splits them with the train images by the fractions."""
    from pipeline import Stream

    pairs = [_checked_pair(images, labels) for images, labels in idx_pairs(settings)]
    shapes = [images.shape[1:] for images, _ in pairs]
    for (images, _), shape in zip(pairs[1:], shapes[1:], strict=True):
        if shape != shapes[0]:
            raise PipelineError(
                f"{images.path} holds images of shape {shape} but the train images have shape "
                f"{shapes[0]}."
            )
    if sum(images.shape[0] for images, _ in pairs) == 0:
        raise PipelineError(
            f"data.path = {str(Path(settings['path']).expanduser())!r} holds IDX files with no "
            "images in them."
        )
    official = len(pairs) == len(IMAGES) and settings.get("test_split", "official") == "official"
    return Stream(_examples(pairs), fixed_split=official_test if official else None)


def official_test(example_id: str) -> str | None:
    """``"test"`` for an image of the t10k files; None (split by the seed) for the others."""
    return "test" if example_id.startswith(f"{IMAGES[1]}:") else None


def _examples(pairs) -> Iterator[tuple[str, Any, int]]:
    import numpy as np

    for (images, labels), name in zip(pairs, IMAGES, strict=False):
        scale = float(max(np.iinfo(images.dtype).max if images.dtype.kind in "ui" else 1, 1))
        for index, image in enumerate(idx_rows(images)):
            yield (
                f"{name}:{index}",
                image.reshape(-1).astype(np.float32) / scale,
                int(labels[index]),
            )


@dataclass(frozen=True)
class Header:
    """What an IDX file's header declares: its file, value type and shape."""

    path: Path
    dtype: Any  # numpy dtype
    shape: tuple[int, ...]

    @property
    def body_bytes(self) -> int:
        """Bytes of values the shape needs (exact: numpy's product overflows on absurd headers)."""
        return math.prod(self.shape) * self.dtype.itemsize


def read_header(path: Path) -> Header:
    """The header of one IDX file (optionally gzipped), read without its body."""
    with _opened(path) as handle:
        return _header(path, handle)


def read_idx(path: Path):
    """Read one IDX file (optionally gzipped) into a numpy array of its declared shape."""
    import numpy as np

    with _opened(path) as handle:
        header = _header(path, handle)
        body = _read(path, handle, header.body_bytes)
        body_bytes = len(body) + _skip_rest(path, handle)
    if body_bytes != header.body_bytes:
        raise _bad_body(header, body_bytes)
    return np.frombuffer(body, dtype=header.dtype).reshape(header.shape)


def idx_rows(header: Header) -> Iterator[Any]:
    """The file's rows (its arrays along the first dimension) one at a time; a body shorter or
    longer than the header says is an error once the stream reaches its end."""
    import numpy as np

    row_bytes = math.prod(header.shape[1:]) * header.dtype.itemsize
    with _opened(header.path) as handle:
        _header(header.path, handle)
        for index in range(header.shape[0]):
            row = _read(header.path, handle, row_bytes)
            if len(row) < row_bytes:
                raise _bad_body(header, index * row_bytes + len(row))
            yield np.frombuffer(row, dtype=header.dtype).reshape(header.shape[1:])
        extra = _skip_rest(header.path, handle)
    if extra:
        raise _bad_body(header, header.body_bytes + extra)


def _skip_rest(path: Path, handle: BinaryIO) -> int:
    """Read past the rest of the file; return how many bytes it held."""
    skipped = 0
    while chunk := _read(path, handle, _CHUNK):
        skipped += len(chunk)
    return skipped


def _bad_body(header: Header, body_bytes: int) -> PipelineError:
    return PipelineError(
        f"{header.path} is truncated or padded: {body_bytes} data bytes where its header's shape "
        f"{header.shape} needs {header.body_bytes}; {_FORMAT}"
    )


def _header(path: Path, handle: BinaryIO) -> Header:
    import numpy as np

    magic = _read(path, handle, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _DTYPES:
        raise PipelineError(f"{path} is not an IDX file (bad magic number); {_FORMAT}")
    ndim = magic[3]
    if ndim == 0:
        raise PipelineError(f"{path} declares no dimensions in its header; {_FORMAT}")
    sizes = _read(path, handle, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise PipelineError(
            f"{path} is truncated: its header declares {ndim} dimensions but the file holds only "
            f"{4 + len(sizes)} bytes; {_FORMAT}"
        )
    shape = struct.unpack(f">{ndim}I", sizes)
    if 0 in shape[1:]:  # rows of no values: a stream would read empty rows for ever
        raise PipelineError(f"{path} declares rows of no values (shape {shape}); {_FORMAT}")
    return Header(path, np.dtype(_DTYPES[magic[2]]), shape)


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """The file open for reading, decompressed when its name ends in .gz."""
    try:
        handle = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as error:
        raise _unreadable(path, error) from error
    with handle:
        yield handle


def _read(path: Path, handle: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes (fewer at the end of the file), read in chunks so that a header
    promising more than the file holds costs no more memory than the file; a damaged file is a
    clear error."""
    chunks, left = [], size
    try:
        while left > 0 and (chunk := handle.read(min(left, _CHUNK))):
            chunks.append(chunk)
            left -= len(chunk)
    except (OSError, EOFError, zlib.error) as error:  # bad gzip header, cut short, damaged stream
        if path.suffix != ".gz":
            raise _unreadable(path, error) from error
        raise PipelineError(
            f"{path} is not a valid gzip file ({type(error).__name__}: {error}); "
            "expected MNIST-format IDX data, gzipped or plain."
        ) from error
    return b"".join(chunks)


def _unreadable(path: Path, error: OSError) -> PipelineError:
    return PipelineError(
        f"{path} cannot be read ({type(error).__name__}: {error.strerror or error}); "
        "check that it is a readable file of MNIST-format IDX data."
    )


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_pairs(settings) -> list[tuple[Path, Path]]:
    """The (images, labels) files the dataset reads from ``data.path``: the train pair, and the t10k
    pair if present."""
    folder = user_folder(settings, "idx", f"the MNIST-format IDX files {IMAGES[0]} and {LABELS[0]}")
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


def _checked_pair(images_path: Path, labels_path: Path):
    """The images file's header and the labels, refusing well-formed IDX files that do not hold
    images and one class label per image."""
    images, labels = read_header(images_path), read_idx(labels_path)
    if len(images.shape) < 2:
        raise PipelineError(
            f"{images_path} holds a {len(images.shape)}-D array; expected images (an IDX file "
            "with 2 or more dimensions)."
        )
    if labels.ndim != 1 or labels.dtype.kind not in "ui" or (len(labels) and labels.min() < 0):
        raise PipelineError(
            f"{labels_path} holds {labels.ndim}-D {labels.dtype} values; expected one "
            "non-negative integer label per image."
        )
    if images.shape[0] != len(labels):
        raise PipelineError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds {len(labels)} "
            "labels."
        )
    return images, labels
