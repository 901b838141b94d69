"""A labelled image dataset from a folder tree: ``root/<class name>/<image>.png|.jpg|.jpeg``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from augbench.data.base import DATASETS, Dataset
from augbench.errors import ConfigError, DataError
from augbench.extras import missing_extra

__all__ = ["load_image_folder", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_MODES = ("RGB", "L")
_WIDE_MODES = ("I", "F")  # 32-bit integer / float; "I;16*" (16-bit) is matched by prefix


def _is_visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _read_image(path: Path, mode: str) -> np.ndarray:
    """Decode one image and convert it to ``mode``: ``(H, W, 3)`` for RGB, ``(H, W)`` for L, uint8."""
    try:
        from PIL import Image
    except ModuleNotFoundError as error:
        raise missing_extra(error, "the image_folder dataset") from None

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in _WIDE_MODES and not image.mode.startswith("I;16"):
                return np.asarray(image.convert(mode))
            wide_mode = image.mode
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"image_folder: {path}: cannot decode the image ({exc})") from None
    raise DataError(f"image_folder: {path}: mode {wide_mode} has more than 8 bits per channel; save it as 8-bit")


@DATASETS.register("image_folder")
def load_image_folder(root: str | os.PathLike[str], mode: Literal["RGB", "L"] = "RGB") -> Dataset:
    """Images from one sub-folder per class, decoded with Pillow.

    Classes are the visible sub-folders of ``root``, sorted by name (index = position).
    Each class folder's visible ``.png``/``.jpg``/``.jpeg`` files (any case, not recursive) are
    read in name order; other files are ignored. Every image is converted to ``mode`` (alpha is
    dropped; EXIF orientation is not applied) and all must share one size.

    Args:
        root: the folder that holds the class folders (required: a user dataset has no default).
        mode: ``"RGB"`` (3 channels) or ``"L"`` (1 channel, greyscale).

    Returns:
        images ``(N, C, H, W)`` uint8 in 0-255 with ``C`` = 3 or 1, labels ``(N,)`` int64,
        class names = the folder names.

    Raises:
        ConfigError: ``mode`` is not "RGB" or "L".
        DataError: no class folders, an empty class folder, an undecodable or 16-bit image, or
            an image whose size differs from the first one (one line naming the file).
    """
    if mode not in _MODES:
        raise ConfigError(f"image_folder: mode={mode!r} is not one of 'RGB', 'L'")
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise DataError(f"image_folder: data folder {folder} does not exist or is not a folder")
    class_dirs = sorted(path for path in folder.iterdir() if path.is_dir() and _is_visible(path))
    if not class_dirs:
        raise DataError(f"image_folder: {folder} has no class sub-folders; expected {folder}/<class name>/<image>.png")
    pixels: list[np.ndarray] = []
    labels: list[int] = []
    first: Path | None = None
    for index, class_dir in enumerate(class_dirs):
        files = sorted(
            path
            for path in class_dir.iterdir()
            if path.is_file() and _is_visible(path) and path.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise DataError(f"image_folder: class folder {class_dir} holds no {'/'.join(IMAGE_EXTENSIONS)} files")
        for path in files:
            array = _read_image(path, mode)
            if first is None:
                first = path
            elif array.shape[:2] != pixels[0].shape[:2]:
                height, width = array.shape[:2]
                first_height, first_width = pixels[0].shape[:2]
                raise DataError(
                    f"image_folder: {path} is {width}x{height} (width x height) but {first} is "
                    f"{first_width}x{first_height}; all images must share one size, so resize them first"
                )
            pixels.append(array)
            labels.append(index)
    stacked = np.stack(pixels)
    images = stacked[:, None] if mode == "L" else stacked.transpose(0, 3, 1, 2)
    return Dataset(
        "image_folder",
        torch.from_numpy(np.ascontiguousarray(images)),
        torch.tensor(labels, dtype=torch.int64),
        tuple(path.name for path in class_dirs),
    )
