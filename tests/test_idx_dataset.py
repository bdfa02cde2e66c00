"""The idx dataset reads MNIST-format files from a user's folder (MNIST itself cannot be downloaded
here)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.prepared import PreparedData
from pipeline.errors import PipelineError
from plugins.idx import read_idx, stream_idx
from tests.project_kit import edit_params, run
from tests.stream_kit import prepare_in, sizes_in


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def make_mnist_like(
    folder: Path, n_train: int = 60, n_test: int = 20, gz: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28), dtype=np.uint8)
    labels = np.arange(n_train + n_test, dtype=np.uint8) % 10
    ext = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{ext}", images[:n_train])
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", labels[:n_train])
    write_idx(folder / f"t10k-images-idx3-ubyte{ext}", images[n_train:])
    write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", labels[n_train:])
    return images, labels


def read_all(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every example the dataset streams from ``folder``, stacked in the order it yields them."""
    examples = list(stream_idx({"path": str(folder)}).examples)
    return np.stack([x for _, x, _ in examples]), np.array([y for _, _, y in examples])


@pytest.mark.parametrize("gz", [False, True])
def test_streams_what_was_written_image_by_image(tmp_path, gz):
    images, labels = make_mnist_like(tmp_path, gz=gz)
    examples = list(stream_idx({"path": str(tmp_path)}).examples)
    assert [example_id for example_id, _, _ in examples[58:62]] == [
        "train-images-idx3-ubyte:58",
        "train-images-idx3-ubyte:59",
        "t10k-images-idx3-ubyte:0",
        "t10k-images-idx3-ubyte:1",
    ]  # the same ids for plain and gzipped files, so compressing them keeps the split
    x, y = read_all(tmp_path)
    assert x.shape == (80, 784) and x.dtype == np.float32
    np.testing.assert_array_equal(x, images.reshape(80, -1).astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)


def test_prepare_writes_every_image_into_shards(tmp_path):
    images, labels = make_mnist_like(tmp_path / "mnist", n_train=100, n_test=50, gz=True)
    data = prepare_in(tmp_path / "project", "idx", path=str(tmp_path / "mnist"))
    sizes = sizes_in(tmp_path / "project")
    assert sum(sizes.values()) == 150 and min(sizes.values()) > 0
    shards = tmp_path / "project" / "data" / "prepared" / "train"
    assert sorted(shards.glob("shard-*.tar"))
    assert data.info.input_shape == (784,) and data.info.num_classes == 10
    x = np.concatenate([data.train.x, data.val.x, data.test.x])
    y = np.concatenate([data.train.y, data.val.y, data.test.y])
    expected = np.column_stack([images.reshape(150, -1).astype(np.float32) / 255, labels])
    # The same rows as the IDX bytes / 255 with their labels, in whatever order the splits hold.
    np.testing.assert_array_equal(
        np.unique(np.column_stack([x, y]), axis=0), np.unique(expected, axis=0)
    )


def test_bad_files_are_named(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(PipelineError, match="is not an IDX file"):
        read_idx(tmp_path / "bad")
    make_mnist_like(tmp_path / "m")
    (tmp_path / "m" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(PipelineError, match="has no train-labels-idx1-ubyte file"):
        read_all(tmp_path / "m")
    with pytest.raises(PipelineError, match="is not a folder"):
        read_all(tmp_path / "missing")
    truncated = tmp_path / "short"
    write_idx(truncated, np.zeros((3, 2, 2)))
    truncated.write_bytes(truncated.read_bytes()[:-1])
    with pytest.raises(PipelineError, match="truncated"):
        read_idx(truncated)


@pytest.mark.parametrize(
    "change, body_bytes", [(lambda raw: raw[:-1], 47039), (lambda raw: raw + b"\0\0", 47042)]
)
def test_an_images_body_of_the_wrong_length_is_refused_when_the_stream_reaches_it(
    tmp_path, change, body_bytes
):
    make_mnist_like(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(change(path.read_bytes()))
    stream = stream_idx({"path": str(tmp_path)}).examples
    with pytest.raises(PipelineError) as raised:
        list(stream)
    assert str(raised.value) == (
        f"{path} is truncated or padded: {body_bytes} data bytes where its header's shape "
        "(60, 28, 28) needs 47040; expected MNIST-format IDX data."
    )


def test_prepare_stage_on_a_user_folder(project, tmp_path):
    make_mnist_like(tmp_path / "mnist", n_train=100, n_test=50)
    edit_params(project, data={"name": "idx", "path": str(tmp_path / "mnist")})
    run(["pipeline", "run", "prepare"], project)
    assert sum(sizes_in(project).values()) == 150
    assert '"storage": "shards"' in (project / "data" / "prepared" / "info.json").read_text()


def test_changed_user_files_rerun_prepare(project, tmp_path):
    make_mnist_like(tmp_path / "mnist", n_train=100, n_test=50)
    edit_params(project, data={"name": "idx", "path": str(tmp_path / "mnist")})
    first = run(["dvc", "repro", "prepare"], project)
    assert "Running stage 'prepare'" in first.stdout
    unchanged = run(["dvc", "repro", "prepare"], project)
    assert "Stage 'prepare' didn't change, skipping" in unchanged.stdout

    labels = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    write_idx(labels, np.zeros(50))  # the same file, relabelled: every t10k image is now a 0
    changed = run(["dvc", "repro", "prepare"], project)
    assert "Running stage 'prepare'" in changed.stdout
    data = PreparedData.load(project / "data" / "prepared")
    zeros = sum(int((getattr(data, split).y == 0).sum()) for split in ("train", "val", "test"))
    assert zeros == 10 + 50  # 10 zeros among the train files, 50 among the relabelled ones


def test_missing_folder_fails_cleanly(project, tmp_path):
    edit_params(project, data={"name": "idx", "path": str(tmp_path / "nowhere")})
    done = run(["pipeline", "run", "prepare"], project, check=False)
    assert done.returncode == 2 and "data.path" in done.stderr and "is not a folder" in done.stderr
    assert not (project / "data" / "prepared").exists()  # nothing half-written
    assert not list((project / "data").glob(".prepared-staging-*"))


def damage_random_gzip(folder: Path) -> Path:
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(bytes(range(256)) * 16)
    return path


def damage_truncated_gzip(folder: Path) -> Path:
    path = folder / "train-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((60, 28, 28)))
    path.write_bytes(path.read_bytes()[:-20])
    return path


def damage_header_longer_than_file(folder: Path) -> Path:
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, 255) + bytes(8))
    return path


@pytest.mark.parametrize(
    "damage, problem",
    [
        (
            damage_random_gzip,
            "is not a valid gzip file (BadGzipFile: Not a gzipped file (b'\\x00\\x01')); expected "
            "MNIST-format IDX data, gzipped or plain.",
        ),
        (
            damage_truncated_gzip,
            "is not a valid gzip file (EOFError: Compressed file ended before the end-of-stream "
            "marker was reached); "
            "expected MNIST-format IDX data, gzipped or plain.",
        ),
        (
            damage_header_longer_than_file,
            "is truncated: its header declares 255 dimensions but the file holds only 12 bytes; "
            "expected MNIST-format IDX data.",
        ),
    ],
)
def test_damaged_file_is_one_line_naming_it(project, tmp_path, damage, problem):
    folder = tmp_path / "mnist"
    make_mnist_like(folder)
    (folder / "train-images-idx3-ubyte").unlink()
    bad = damage(folder)
    edit_params(project, data={"name": "idx", "path": str(folder)})
    done = run(["pipeline", "run", "prepare"], project, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {bad} {problem}"]
    assert not (project / "data" / "prepared").exists()  # nothing half-written
    assert not list((project / "data").glob(".prepared-staging-*"))


def idx_bytes(code: int, shape: tuple[int, ...], body: bytes = b"") -> bytes:
    return (
        struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + body
    )


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "is not an IDX file (bad magic number)"),
        (idx_bytes(0x08, ()), "declares no dimensions in its header"),
        (
            idx_bytes(0x08, (2,))[:6],
            "is truncated: its header declares 1 dimensions but the file holds only 6 bytes",
        ),
        (
            idx_bytes(0x08, (2**32 - 1,) * 4, bytes(10)),
            "is truncated or padded: 10 data bytes where its header's shape "
            f"{(2**32 - 1,) * 4} needs {(2**32 - 1) ** 4}",
        ),
        (
            idx_bytes(0x08, (2**32 - 1, 0)),
            f"declares rows of no values (shape {(2**32 - 1, 0)})",
        ),
    ],
)
def test_every_malformed_file_is_a_pipeline_error(tmp_path, content, problem):
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(PipelineError) as raised:
        read_idx(path)
    assert str(raised.value).startswith(f"{path} {problem}")
    assert str(raised.value).endswith("expected MNIST-format IDX data.")


@pytest.mark.parametrize(
    "images, labels, problem",
    [
        (np.zeros(4), np.zeros(4), "train-images-idx3-ubyte holds a 1-D array; expected images"),
        (
            np.zeros((4, 2, 2)),
            np.zeros((4, 1)),
            "train-labels-idx1-ubyte holds 2-D uint8 values; expected one non-negative integer "
            "label",
        ),
        (np.zeros((0, 2, 2)), np.zeros(0), "holds IDX files with no images in them"),
    ],
)
def test_files_that_are_not_images_and_labels_are_refused(tmp_path, images, labels, problem):
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(PipelineError, match=problem):
        read_all(tmp_path)


def test_test_images_of_another_shape_are_refused(tmp_path):
    make_mnist_like(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((20, 32, 32)))
    with pytest.raises(
        PipelineError,
        match=r"t10k-images-idx3-ubyte holds images of shape \(32, 32\) but the train images have "
        r"shape \(28, 28\)",
    ):
        read_all(tmp_path)


def test_a_source_failing_mid_stream_leaves_the_last_prepared_split(tmp_path):
    folder = tmp_path / "mnist"
    make_mnist_like(folder, gz=True)
    prepare_in(tmp_path, "idx", path=str(folder))
    prepared = tmp_path / "data" / "prepared"
    before = {p: p.read_bytes() for p in sorted(prepared.rglob("*")) if p.is_file()}
    damage_truncated_gzip(folder)  # the header reads; the stream breaks near its end
    with pytest.raises(PipelineError, match="is not a valid gzip file"):
        prepare_in(tmp_path, "idx", path=str(folder))
    after = {p: p.read_bytes() for p in sorted(prepared.rglob("*")) if p.is_file()}
    assert after == before
    assert not list((tmp_path / "data").glob(".prepared-staging-*"))
