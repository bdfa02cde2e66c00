"""Prepared data as shards: the storage of a dataset that streams its examples (data bigger than
memory).

Each split is a folder of tar files in the WebDataset layout (``train/shard-000000.tar``…), written
with the standard library (the ``webdataset`` package would import torch into prepare). A member
pair ``<block>.x.npy`` / ``<block>.y.npy`` holds one *block*: up to :data:`BLOCK_BYTES` of
consecutive rows. Rows are blocks rather than single examples because a tar member costs about
0.1 ms to read here, as much as the step of a small model; a block is one seek and one read. The
files stay ordinary WebDataset shards: ``tar tf`` lists them and ``webdataset.WebDataset`` streams
them from a web server or object storage.

Where an example goes depends only on the seed and its id: a hash picks its split (by the data
fractions, unless the source fixes it: :class:`~pipeline.data.types.Stream`) and its shard, so the
same source gives the same bytes (tar times are fixed) and DVC stores nothing new; shards are
uniform random samples of their split, whatever order the source yields its examples in.
``shards.json`` lists every block with its rows and byte offsets, so a reader fetches any block
directly, and a split's size is known without reading it.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from array import array
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from pipeline.data.types import SPLITS, DataInfo, Stream
from pipeline.errors import PipelineError

INDEX = "shards.json"
BLOCK_BYTES = 1 << 20  # the rows of a block, in bytes (at least one row)
MAX_BLOCK_ROWS = 4096  # so even tiny rows are shuffled in many blocks


@dataclass(frozen=True)
class Block:
    """Where one block's arrays lie: the shard file (relative to the prepared folder), the byte
    ranges of its ``x`` and ``y`` ``.npy`` members, and how many rows it holds."""

    file: str
    rows: int
    x_offset: int
    x_size: int
    y_offset: int
    y_size: int


def read_block(folder: Path, block: Block) -> tuple[np.ndarray, np.ndarray]:
    """The ``(x, y)`` arrays of ``block``: one seek and read per array."""
    try:
        with open(folder / block.file, "rb") as shard:
            shard.seek(block.x_offset)
            x = np.load(io.BytesIO(shard.read(block.x_size)))
            shard.seek(block.y_offset)
            y = np.load(io.BytesIO(shard.read(block.y_size)))
    except (OSError, ValueError, EOFError) as error:  # changed since the index was checked
        raise damaged(folder, f"shard {block.file} cannot be read ({error})") from None
    return x, y


def damaged(folder: Path, what: str) -> PipelineError:
    """The one error for prepared data that is missing or damaged: what is wrong, and the fix."""
    return PipelineError(
        f"the prepared data in {folder} is damaged: {what}; rerun `pipeline run prepare` "
        "(or `dvc repro`)."
    )


class ShardSplit:
    """One split stored as blocks. ``x`` and ``y`` read the whole split into memory on first use
    (the evaluate stage of a family that scores arrays); training streams :attr:`blocks`."""

    def __init__(self, folder: Path, blocks: list[Block]):
        self.folder, self.blocks = folder, blocks

    @cached_property
    def rows(self) -> int:
        """Examples in the split."""
        return sum(block.rows for block in self.blocks)

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.blocks:
            raise PipelineError(f"{self.folder} holds no examples of this split.")
        parts = [read_block(self.folder, block) for block in self.blocks]
        return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])

    @property
    def x(self) -> np.ndarray:
        return self._arrays[0]

    @property
    def y(self) -> np.ndarray:
        return self._arrays[1]


def load_index(folder: Path) -> dict[str, list[Block]]:
    """Every split's blocks, as :func:`write_shards` listed them, after checking that every shard
    they name is there and long enough (a truncated copy is named before any training)."""
    try:
        raw = json.loads((folder / INDEX).read_text())
        index = {name: [Block(**block) for block in raw[name]] for name in SPLITS}
    except FileNotFoundError:
        raise damaged(folder, f"its index {INDEX} is missing") from None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise damaged(folder, f"its index {INDEX} is unreadable ({type(error).__name__})") from None
    needed: dict[str, int] = {}
    for block in (block for blocks in index.values() for block in blocks):
        end = max(block.x_offset + block.x_size, block.y_offset + block.y_size)
        needed[block.file] = max(needed.get(block.file, 0), end)
    for file, end in sorted(needed.items()):
        path = folder / file
        if not path.is_file():
            raise damaged(folder, f"shard {file} is missing")
        if (size := path.stat().st_size) < end:
            raise damaged(folder, f"shard {file} is truncated ({size} bytes of at least {end})")
    return index


def _id_hash(example_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(example_id.encode(), digest_size=8).digest(), "big")


def place(seed: int, example_id: str, val_fraction: float, test_fraction: float, shards: int):
    """The split and shard of an example: a hash of the seed and its id, nothing else."""
    digest = hashlib.blake2b(f"{seed}\0{example_id}".encode(), digest_size=16).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64
    if share < test_fraction:
        split = "test"
    else:
        split = "val" if share < test_fraction + val_fraction else "train"
    return split, int.from_bytes(digest[8:], "big") % shards


def write_shards(
    stream: Stream,
    folder: Path,
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    shards: int,
    dataset: str,
) -> DataInfo:
    """Write every example of ``stream`` into ``folder``'s shards and index; return the data's
    description. Memory holds one block per shard, never a split."""
    writer = _Writer(folder, shards)
    # A source that keeps its own test split leaves only train and val to the hash.
    drawn_test_fraction = 0.0 if stream.fixed_split is not None else test_fraction
    ids = array("Q")  # 8 bytes an example: a hash of its id, to catch an id given twice
    first: tuple[np.ndarray, np.ndarray] | None = None
    top_label = -1
    try:
        for example_id, x, y in stream.examples:
            example_id = str(example_id)
            ids.append(_id_hash(example_id))
            x = np.asarray(x, dtype=np.int64 if stream.vocab else np.float32)
            y = np.asarray(y, dtype=np.int64)
            if first is None:
                first = x, y
            elif x.shape != first[0].shape or y.shape != first[1].shape:
                raise PipelineError(
                    f"dataset {dataset} example {example_id!r} has shapes x {x.shape}, y {y.shape} "
                    f"where the first had x {first[0].shape}, y {first[1].shape}; every example "
                    "needs the same shapes."
                )
            if y.ndim == 0:
                top_label = max(top_label, int(y))
            split, shard = place(seed, example_id, val_fraction, drawn_test_fraction, shards)
            if stream.fixed_split is not None:
                split = _fixed(stream.fixed_split(example_id), split, example_id, dataset)
            writer.add(split, shard, x, y)
    finally:
        writer.close()
    if first is None:
        raise PipelineError(f"dataset {dataset} yielded no examples.")
    hashes = np.sort(np.frombuffer(ids, dtype=np.uint64))
    repeats = int((hashes[1:] == hashes[:-1]).sum())
    if repeats:
        raise PipelineError(
            f"dataset {dataset} yielded {repeats} example id(s) more than once; every example "
            "needs its own id (its split is drawn from it)."
        )
    writer.write_index()
    labels = tuple(stream.labels)
    return DataInfo(
        tuple(int(d) for d in first[0].shape),
        max(top_label + 1, len(labels)) if first[1].ndim == 0 else len(labels),
        dataset,
        tuple(stream.vocab),
        labels,
        stream.fingerprint,
    )


def _fixed(split: str | None, drawn: str, example_id: str, dataset: str) -> str:
    """The split a stream's ``fixed_split`` gave an example, or the ``drawn`` one for None."""
    if split is None:
        return drawn
    if split not in SPLITS:
        raise PipelineError(
            f"dataset {dataset} puts example {example_id!r} in the split {split!r}; expected one "
            f"of {', '.join(SPLITS)} (or None to draw it)."
        )
    return split


class _Writer:
    """Open tar files, one per (split, shard), each filled block by block; every block is listed
    with the byte offsets its members got."""

    def __init__(self, folder: Path, shards: int):
        self.folder, self.shards = folder, shards
        self.pending: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        self.tars: dict[tuple[str, int], tarfile.TarFile] = {}
        self.blocks: dict[tuple[str, int], list[Block]] = {}
        self.block_rows = 0

    def add(self, split: str, shard: int, x: np.ndarray, y: np.ndarray) -> None:
        if not self.block_rows:
            row_bytes = x.nbytes + y.nbytes
            self.block_rows = max(1, min(MAX_BLOCK_ROWS, BLOCK_BYTES // max(row_bytes, 1)))
        rows = self.pending.setdefault((split, shard), [])
        rows.append((x, y))
        if len(rows) == self.block_rows:
            self._flush((split, shard))

    def _flush(self, key: tuple[str, int]) -> None:
        rows = self.pending.pop(key, [])
        if not rows:
            return
        name = f"{key[0]}/shard-{key[1]:06d}.tar"
        if key not in self.tars:
            (self.folder / key[0]).mkdir(parents=True, exist_ok=True)
            self.tars[key] = tarfile.open(self.folder / name, "w", format=tarfile.USTAR_FORMAT)
        blocks = self.blocks.setdefault(key, [])
        stem = f"{len(blocks):06d}"
        x = _member(self.tars[key], f"{stem}.x.npy", np.stack([x for x, _ in rows]))
        y = _member(self.tars[key], f"{stem}.y.npy", np.stack([y for _, y in rows]))
        blocks.append(Block(name, len(rows), *x, *y))

    def close(self) -> None:
        for key in list(self.pending):
            self._flush(key)
        for tar in self.tars.values():
            tar.close()

    def write_index(self) -> None:
        index = {
            split: [
                asdict(b)
                for shard in range(self.shards)
                for b in self.blocks.get((split, shard), [])
            ]
            for split in SPLITS
        }
        (self.folder / INDEX).write_text(json.dumps(index) + "\n")


def _member(tar: tarfile.TarFile, name: str, array: np.ndarray) -> tuple[int, int]:
    """Append ``array`` as the ``.npy`` file ``name`` with fixed owner, mode and time (so the same
    examples give the same bytes); return where its bytes start and how many there are."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = buffer.tell(), 0o644, 0
    header_at = tar.offset
    buffer.seek(0)
    tar.addfile(info, buffer)
    return header_at + len(info.tobuf(tar.format, tar.encoding, tar.errors)), info.size
