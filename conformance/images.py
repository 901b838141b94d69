"""Real test images for the conformance suite: CIFAR-10 records, resized and cropped to odd shapes.

The images are read from the CIFAR-10 *binary version* in place (never copied into the
repository): each 3,073-byte record is one label byte and a 32x32 RGB image stored as three
row-major planes, i.e. already ``(C, H, W)``. Larger and non-square inputs are made from them
with Pillow's bicubic resampling, so every input is real photographic content.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["default_data_folder", "load_cifar10", "input_shapes", "to_pil", "from_pil", "pil_map", "as_dtype"]

_SIDE = 32
_RECORD_BYTES = 1 + 3 * _SIDE * _SIDE
_BATCH_FILE = "data_batch_1.bin"


def default_data_folder() -> Path:
    """``$AUGBENCH_DATA/cifar10`` if set, else ``shared/data/cifar10`` beside the repository."""
    root = os.environ.get("AUGBENCH_DATA")
    if root:
        return Path(root) / "cifar10"
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"


def load_cifar10(folder: Path, count: int) -> Tensor:
    """The first ``count`` training images of ``data_batch_1.bin`` as a uint8 ``(count, 3, 32, 32)`` tensor.

    Raises:
        FileNotFoundError: the batch file is missing (the message names the folder to pass).
        ValueError: the file holds fewer than ``count`` records.
    """
    path = folder / _BATCH_FILE
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch {path} not found; pass --data FOLDER holding {_BATCH_FILE}")
    with open(path, "rb") as handle:
        raw = handle.read(count * _RECORD_BYTES)
    if len(raw) < count * _RECORD_BYTES:
        raise ValueError(f"{path} holds fewer than {count} CIFAR-10 records")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(count, _RECORD_BYTES)
    return torch.from_numpy(records[:, 1:].reshape(count, 3, _SIDE, _SIDE).copy())


def to_pil(image: Tensor) -> Image.Image:
    """A uint8 ``(C, H, W)`` tensor (C = 1 or 3) as a Pillow ``L`` or ``RGB`` image."""
    array = image.permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def from_pil(image: Image.Image) -> Tensor:
    """A Pillow ``L`` or ``RGB`` image as a uint8 ``(C, H, W)`` tensor."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def pil_map(images: Tensor, function: Callable[[Image.Image], Image.Image]) -> Tensor:
    """Apply a Pillow function to every image of a uint8 ``(B, C, H, W)`` batch and restack."""
    return torch.stack([from_pil(function(to_pil(image))) for image in images])


def _resized(images: Tensor, height: int, width: int) -> Tensor:
    return pil_map(images, lambda image: image.resize((width, height), Image.Resampling.BICUBIC))


def input_shapes(images: Tensor) -> dict[str, Tensor]:
    """The uint8 test batches by name: the CIFAR-10 originals and two non-square derivatives.

    ``32x32`` is the original batch; ``37x53`` is a 37-row, 53-column window (rows 5-41,
    columns 3-55) of the images upsampled to 64x64; ``64x48`` is the images upsampled to
    64 rows and 48 columns. Names are height x width.
    """
    return {
        "32x32": images,
        "37x53": _resized(images, 64, 64)[:, :, 5:42, 3:56].contiguous(),
        "64x48": _resized(images, 64, 48),
    }


def as_dtype(images: Tensor, dtype: torch.dtype) -> Tensor:
    """uint8 images as ``dtype``: unchanged for uint8, divided by 255 for floating dtypes."""
    return images if dtype == torch.uint8 else images.to(dtype) / 255.0
