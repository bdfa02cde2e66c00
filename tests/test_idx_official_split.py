"""MNIST's own test split: the t10k files are the test split unless ``data.test_split: pool``."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.data.shards import write_shards
from pipeline.data.types import Stream
from pipeline.errors import PipelineError
from tests.stream_kit import prepare_in, sizes_in
from tests.test_idx_dataset import make_mnist_like


def rows_of(x: np.ndarray, y: np.ndarray) -> set[bytes]:
    """Each example (pixels and label) as bytes, to compare splits as sets."""
    return {row.tobytes() for row in np.column_stack([x, y]).astype(np.float32)}


def source_rows(images: np.ndarray, labels: np.ndarray) -> set[bytes]:
    return rows_of(images.reshape(len(images), -1).astype(np.float32) / 255, labels)


@pytest.fixture
def mnist(tmp_path):
    images, labels = make_mnist_like(tmp_path / "mnist", n_train=100, n_test=40)
    train = source_rows(images[:100], labels[:100])
    t10k = source_rows(images[100:], labels[100:])
    assert len(train) == 100 and len(t10k) == 40 and not train & t10k
    return tmp_path, train, t10k


def test_the_t10k_files_are_the_test_split_and_val_comes_from_the_train_files(mnist):
    tmp_path, train, t10k = mnist
    data = prepare_in(tmp_path / "project", "idx", path=str(tmp_path / "mnist"), val_fraction=0.2)
    assert rows_of(data.test.x, data.test.y) == t10k  # exactly the official test images
    assert rows_of(data.val.x, data.val.y) | rows_of(data.train.x, data.train.y) == train
    sizes = sizes_in(tmp_path / "project")
    assert sizes["test_examples"] == 40 and sizes["train_examples"] + sizes["val_examples"] == 100
    assert 10 <= sizes["val_examples"] <= 30  # about data.val_fraction of the train files


def test_pool_splits_the_t10k_files_with_the_train_files(mnist):
    tmp_path, train, t10k = mnist
    data = prepare_in(
        tmp_path / "project",
        "idx",
        path=str(tmp_path / "mnist"),
        test_split="pool",
        val_fraction=0.2,
        test_fraction=0.3,
    )
    test = rows_of(data.test.x, data.test.y)
    assert test & train and test & t10k  # both files feed the test split
    rest = rows_of(data.train.x, data.train.y) | rows_of(data.val.x, data.val.y)
    assert rest & t10k and test | rest == train | t10k


def test_without_t10k_files_the_test_split_is_drawn(mnist):
    tmp_path, train, _ = mnist
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / "mnist" / name).unlink()
    data = prepare_in(tmp_path / "project", "idx", path=str(tmp_path / "mnist"))
    assert 0 < len(data.test.y) < 100
    assert rows_of(data.test.x, data.test.y) < train


def test_a_fixed_split_that_names_no_split_is_refused(tmp_path):
    stream = Stream(
        iter([("a", [0.0], 0), ("b", [1.0], 1)]), fixed_split=lambda example_id: "holdout"
    )
    with pytest.raises(PipelineError) as raised:
        write_shards(
            stream, tmp_path, seed=0, val_fraction=0.1, test_fraction=0.2, shards=1, dataset="d"
        )
    assert str(raised.value) == (
        "dataset d puts example 'a' in the split 'holdout'; expected one of train, val, test "
        "(or None to draw it)."
    )
