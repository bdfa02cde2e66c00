"""The image_folder dataset reads the user's PNG and JPEG images, one subfolder per class, and the
prepare stage streams them into shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import PipelineError
from pipeline.stages.fingerprints import source_fingerprint
from plugins.image_folder import image_folder_sources, stream_image_folder
from tests.family_kit import REGISTRY
from tests.stream_kit import prepare_in, sizes_in

CLASSES = ("circle", "cross", "square")  # sorted: their indices are the labels


def pixels(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def make_folder(root: Path, per_class: int = 8) -> dict[str, np.ndarray]:
    """Grayscale PNGs 4x4 and RGB JPEGs 6x6 in one subfolder per class; returns each PNG's pixels
    by id."""
    pngs = {}
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            if i % 2:
                Image.fromarray(pixels(label * 100 + i, (6, 6, 3))).save(root / name / f"{i}.jpg")
            else:
                pngs[f"{name}/{i}.png"] = pixels(label * 100 + i, (4, 4))
                Image.fromarray(pngs[f"{name}/{i}.png"]).save(root / name / f"{i}.png")
    return pngs


def settings(folder: Path, **more) -> dict:
    return {"path": str(folder), "size": 4, "channels": 1, **more}


def test_pngs_stream_their_exact_pixels_and_class_labels(tmp_path):
    pngs = make_folder(tmp_path)
    stream = stream_image_folder(settings(tmp_path))
    assert stream.labels == CLASSES
    examples = {example_id: (x, y) for example_id, x, y in stream.examples}
    assert len(examples) == 24 and examples["cross/3.jpg"][1] == 1
    for example_id, values in pngs.items():
        x, y = examples[example_id]
        assert x.dtype == np.float32 and y == CLASSES.index(example_id.split("/")[0])
        np.testing.assert_array_equal(x, values.reshape(-1).astype(np.float32) / 255)
    jpeg = examples["square/7.jpg"][0]  # 6x6 RGB, resized and made grey
    assert jpeg.shape == (16,) and 0 <= jpeg.min() and jpeg.max() <= 1


def test_rgb_pixels_are_flattened_channel_last(tmp_path):
    values = pixels(7, (4, 4, 3))
    (tmp_path / "only").mkdir()
    Image.fromarray(values).save(tmp_path / "only" / "a.png")
    (_, x, _), *_ = stream_image_folder(settings(tmp_path, channels=3)).examples
    np.testing.assert_array_equal(x, values.reshape(-1).astype(np.float32) / 255)
    assert x[:3].tolist() == (values[0, 0] / np.float32(255)).tolist()  # pixel (0, 0): R, G, B


def test_prepare_streams_every_image_into_shards(tmp_path):
    pngs = make_folder(tmp_path / "images", per_class=12)
    data = prepare_in(tmp_path / "project", "image_folder", **settings(tmp_path / "images"))
    assert sum(sizes_in(tmp_path / "project").values()) == 36
    assert data.info.labels == CLASSES and data.info.num_classes == 3
    assert data.info.input_shape == (16,)
    x = np.concatenate([data.train.x, data.val.x, data.test.x])
    y = np.concatenate([data.train.y, data.val.y, data.test.y])
    assert sorted(np.bincount(y).tolist()) == [12, 12, 12]
    circle = pngs["circle/0.png"].reshape(-1).astype(np.float32) / 255
    assert [int(label) for row, label in zip(x, y, strict=True) if np.array_equal(row, circle)] == [
        0
    ]


def test_images_are_resized_to_size(tmp_path):
    make_folder(tmp_path, per_class=2)
    examples = list(stream_image_folder(settings(tmp_path, size=3, channels=3)).examples)
    assert {x.shape for _, x, _ in examples} == {(27,)}


def test_the_folder_is_the_source_so_a_changed_image_reruns_prepare(tmp_path):
    make_folder(tmp_path, per_class=2)
    assert image_folder_sources(settings(tmp_path)) == [tmp_path]
    entry = REGISTRY.datasets["image_folder"]
    before = source_fingerprint(entry, settings(tmp_path))
    Image.fromarray(pixels(99, (4, 4))).save(tmp_path / "cross" / "0.png")
    assert source_fingerprint(entry, settings(tmp_path)) != before


def test_a_file_that_is_no_image_is_named(tmp_path):
    make_folder(tmp_path, per_class=2)
    bad = tmp_path / "cross" / "broken.png"
    bad.write_bytes(b"not a png at all")
    stream = stream_image_folder(settings(tmp_path))
    with pytest.raises(PipelineError) as raised:
        list(stream.examples)
    message = str(raised.value)
    assert message.startswith(f"image file {bad} cannot be read (UnidentifiedImageError: ")
    assert message.endswith("expected a PNG or JPEG image.") and "\n" not in message


def unset(root: Path) -> None:
    return None


def missing(root: Path) -> Path:
    return root


def without_subfolders(root: Path) -> Path:
    root.mkdir()
    (root / "notes.txt").write_text("no folders here\n")
    return root


def with_an_empty_class(root: Path) -> Path:
    make_folder(root, per_class=2)
    (root / "empty" / ".hidden").mkdir(parents=True)
    (root / "empty" / ".hidden" / "a.png").write_bytes(b"")  # hidden: skipped
    (root / "empty" / "readme.txt").write_text("text, not an image\n")
    return root


@pytest.mark.parametrize(
    "make, problem",
    [
        (
            unset,
            "data.path is not set; the image_folder dataset needs the folder holding one "
            "subfolder of PNG or JPEG images per class.",
        ),
        (
            missing,
            "data.path = '{root}' is not a folder; expected one holding one subfolder of PNG or "
            "JPEG images per class.",
        ),
        (
            without_subfolders,
            "data.path = '{root}' has no class subfolders; expected one subfolder of PNG or JPEG "
            "images per class.",
        ),
        (
            with_an_empty_class,
            "class folder {root}/empty holds no images; expected PNG or JPEG files (.png, .jpg, "
            ".jpeg).",
        ),
    ],
)
def test_a_folder_without_classes_of_images_is_refused_in_one_sentence(tmp_path, make, problem):
    root = tmp_path / "images"
    folder = make(root)
    with pytest.raises(PipelineError) as raised:
        stream_image_folder({**settings(root), "path": folder and str(folder)})
    assert str(raised.value) == problem.format(root=root)
