"""Dataset ``image_folder``: the user's PNG and JPEG images, one subfolder per class, streamed one
image at a time.

``data.path`` holds a subfolder per class (``cats/``, ``dogs/``…); the sorted subfolder names are
the labels, and every ``.png``, ``.jpg`` or ``.jpeg`` file below a subfolder (at any depth) is an
example of that class, its id its path relative to ``data.path``. Each image is read with Pillow,
converted to grayscale (``channels: 1``) or RGB (``channels: 3``), resized to ``size`` x ``size``
pixels (bilinear; an image already of that size is left as it is) and flattened to float32 values
in [0, 1], row by row and, for RGB, channel last: ``(row, column, channel)``. Folders and files
whose names start with a dot are skipped, and so are files of other types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from pipeline import PipelineError
from plugins.user_files import user_folder

SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = {1: "L", 3: "RGB"}  # Pillow's mode for each number of channels
HOLDING = "one subfolder of PNG or JPEG images per class"


def image_folder_sources(settings) -> list[Path]:
    """The folder, so that a changed, added or removed image reruns prepare."""
    return [user_folder(settings, "image_folder", HOLDING)]


def stream_image_folder(settings):
    """Every image of every class folder, as float32 pixels in [0, 1] with its class index."""
    from pipeline import Stream

    folder = user_folder(settings, "image_folder", HOLDING)
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise PipelineError(
            f"data.path = {str(folder)!r} has no class subfolders; expected {HOLDING}."
        )
    images = [_images_of(class_folder) for class_folder in classes]
    for class_folder, files in zip(classes, images, strict=True):
        if not files:
            raise PipelineError(
                f"class folder {class_folder} holds no images; expected PNG or JPEG files "
                f"({', '.join(SUFFIXES)})."
            )
    return Stream(
        _examples(folder, images, settings["size"], MODES[settings["channels"]]),
        labels=tuple(class_folder.name for class_folder in classes),
    )


def read_image(path: Path, size: int, mode: str) -> Any:
    """One image as a flat float32 array in [0, 1]: converted to ``mode``, resized to ``size`` x
    ``size``."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise PipelineError(
            f"image file {path} cannot be read ({type(error).__name__}: {error}); expected a PNG "
            "or JPEG image."
        ) from error
    return pixels.reshape(-1) / np.float32(255)


def _examples(folder: Path, images: list[list[Path]], size: int, mode: str) -> Iterator:
    for label, files in enumerate(images):
        for path in files:
            yield path.relative_to(folder).as_posix(), read_image(path, size, mode), label


def _images_of(class_folder: Path) -> list[Path]:
    """The image files below one class folder, in a fixed order; hidden names are skipped."""
    return sorted(
        path
        for path in class_folder.rglob("*")
        if path.suffix.lower() in SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(class_folder).parts)
    )
