"""Shards of a streamed dataset: where examples go, what is written, and what each epoch, rank and
worker reads."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.data.batches import EpochOrder, TensorBatches
from pipeline.data.datamodule import PreparedDataModule
from pipeline.data.prepared import PreparedData
from pipeline.data.shard_batches import ShardBatches
from pipeline.data.shards import ShardSplit, load_index, write_shards
from pipeline.data.types import Split, Stream
from pipeline.errors import PipelineError

ROWS, FEATURES = 3000, 300  # 1,204 bytes a row: 870 rows a block


def numbered(rows: int = ROWS, order=None) -> Stream:
    """Examples whose first feature is their number, so batches tell which examples they hold."""

    def examples():
        for index in range(rows) if order is None else order:
            x = np.full(FEATURES, index, dtype=np.float32)
            yield f"ex{index}", x, index % 7

    return Stream(examples(), labels=tuple(f"c{k}" for k in range(7)))


def write(folder: Path, stream: Stream | None = None, seed: int = 0, shards: int = 4):
    folder.mkdir(parents=True, exist_ok=True)
    info = write_shards(
        stream or numbered(),
        folder,
        seed=seed,
        val_fraction=0.1,
        test_fraction=0.2,
        shards=shards,
        dataset="numbered",
    )
    return info


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> PreparedData:
    folder = tmp_path_factory.mktemp("shards")
    info = write(folder)
    (folder / "info.json").write_text(
        json.dumps({**info.__dict__, "storage": "shards"}, default=list) + "\n"
    )
    return PreparedData.load(folder)


def numbers(batch: torch.Tensor) -> list[int]:
    return batch[:, 0].to(torch.int64).tolist()


def epoch_of(batches: ShardBatches, epoch: int) -> list[list[int]]:
    batches.sampler.set_epoch(epoch)
    return [numbers(x) for x, _ in batches]


def test_every_example_lands_in_one_split_decided_by_seed_and_id(tmp_path: Path, prepared):
    splits = {
        name: sorted(np.asarray(getattr(prepared, name).x[:, 0], int))
        for name in ("train", "val", "test")
    }
    assert sorted(sum(splits.values(), [])) == list(range(ROWS))
    assert abs(len(splits["test"]) / ROWS - 0.2) < 0.03
    assert abs(len(splits["val"]) / ROWS - 0.1) < 0.03
    assert prepared.info.input_shape == (FEATURES,) and prepared.info.num_classes == 7
    assert prepared.train.y.dtype == np.int64 and prepared.train.x.dtype == np.float32

    # The source's order does not matter: reversed, the same examples land in the same splits.
    assert (
        split_numbers(tmp_path / "reversed", numbered(order=range(ROWS - 1, -1, -1)))
        == splits["test"]
    )
    # Another seed draws other splits.
    assert split_numbers(tmp_path / "other", seed=1) != splits["test"]


def split_numbers(folder: Path, stream: Stream | None = None, seed: int = 0) -> list[int]:
    write(folder, stream, seed)
    return sorted(np.asarray(ShardSplit(folder, load_index(folder)["test"]).x[:, 0], int))


def test_the_same_examples_give_the_same_bytes(tmp_path: Path):
    def digest(folder: Path) -> str:
        sha = hashlib.sha256()
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                sha.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
        return sha.hexdigest()

    write(tmp_path / "a")
    write(tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    write(tmp_path / "c", seed=1)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_shards_are_webdataset_tar_files(tmp_path: Path):
    import webdataset

    write(tmp_path)
    shard = tmp_path / "train" / "shard-000000.tar"
    with tarfile.open(shard) as tar:
        names = tar.getnames()
    assert names[:2] == ["000000.x.npy", "000000.y.npy"]
    samples = list(webdataset.WebDataset(str(shard), shardshuffle=False).decode())
    blocks = [b for b in load_index(tmp_path)["train"] if b.file == "train/shard-000000.tar"]
    assert [len(sample["y.npy"]) for sample in samples] == [b.rows for b in blocks]
    assert samples[0]["x.npy"].shape == (blocks[0].rows, FEATURES)


def test_a_stream_with_repeated_ids_or_shapes_is_refused(tmp_path: Path):
    twice = Stream(iter([("a", np.zeros(3), 0), ("a", np.ones(3), 1)]))
    with pytest.raises(PipelineError, match=r"yielded 1 example id\(s\) more than once"):
        write(tmp_path / "twice", twice)
    shapes = Stream(iter([("a", np.zeros(3), 0), ("b", np.ones(4), 1)]))
    with pytest.raises(PipelineError, match=r"example 'b' has shapes x \(4,\)"):
        write(tmp_path / "shapes", shapes)
    with pytest.raises(PipelineError, match="yielded no examples"):
        write(tmp_path / "empty", Stream(iter(())))


def test_an_epoch_serves_every_training_example_once_in_a_seeded_order(prepared):
    batches = ShardBatches(prepared.train, 64, seed=3)
    first = epoch_of(batches, 0)
    served = sum(first, [])
    assert sorted(served) == sorted(np.asarray(prepared.train.x[:, 0], int))
    assert len(first) == len(batches) == -(-len(served) // 64)
    assert all(len(b) == 64 for b in first[:-1])
    assert epoch_of(batches, 0) == first  # (seed, epoch) alone decide the order
    second = epoch_of(batches, 1)
    assert sorted(sum(second, [])) == sorted(served) and second != first
    assert epoch_of(ShardBatches(prepared.train, 64, seed=4), 0) != first
    # Rows of a block are mixed, not served in storage order.
    assert first[0] != sorted(first[0])


def test_workers_change_nothing(prepared):
    alone = epoch_of(ShardBatches(prepared.train, 50, seed=0), 2)
    workers = epoch_of(ShardBatches(prepared.train, 50, seed=0, num_workers=2), 2)
    assert workers == alone


def test_ranks_read_disjoint_parts_and_step_together(prepared):
    parts = [ShardBatches(prepared.train, 32, seed=0, rank=r, world=2) for r in range(2)]
    served = [sum(epoch_of(part, 1), []) for part in parts]
    assert not set(served[0]) & set(served[1])
    assert len(parts[0]) == len(parts[1])
    assert [len(epoch_of(part, 1)) for part in parts] == [len(parts[0])] * 2
    everything = set(np.asarray(prepared.train.x[:, 0], int))
    left_out = everything - set(served[0]) - set(served[1])
    assert len(left_out) <= 1  # shares differ by one row at most
    assert parts[0].examples == len(served[0])


def test_evaluation_batches_come_in_storage_order(prepared):
    batches = ShardBatches(prepared.val, 256)
    assert batches.sampler is None
    served = sum((numbers(x) for x, _ in batches), [])
    assert served == np.asarray(prepared.val.x[:, 0], int).tolist()


def test_array_workers_serve_the_batches_of_the_in_memory_path():
    rng = np.random.default_rng(0)
    split = Split(rng.random((300, 5), dtype=np.float32), rng.integers(0, 3, 300))
    data = PreparedData(None, split, split, split)
    module = PreparedDataModule(data, 32, seed=5, num_workers=2)
    loader = module.train_dataloader()
    loader.sampler.set_epoch(4)
    order = EpochOrder(300, 5)
    order.set_epoch(4)
    memory = TensorBatches(torch.from_numpy(split.x), torch.from_numpy(split.y), 32, order)
    for (x, y), (mx, my) in zip(loader, memory, strict=True):
        assert torch.equal(x, mx) and torch.equal(y, my)
