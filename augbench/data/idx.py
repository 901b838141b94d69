"""MNIST and Fashion-MNIST from their standard IDX files (gzip-compressed or not).

IDX layout (big-endian): a 4-byte magic ``0x0000`` + type code (``0x08`` = uint8) + number of
dimensions, then one uint32 per dimension, then the data in row-major order. Image files have
magic ``0x00000803`` and dims ``(N, 28, 28)``; label files ``0x00000801`` and ``(N,)``.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from augbench.data.base import DATASETS, Dataset
from augbench.data.files import find_file, read_file, resolve_root, verify_sha256
from augbench.errors import ConfigError, DataError

__all__ = ["load_mnist", "load_fashion_mnist", "parse_idx"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_SIDE = 28
_NUM_CLASSES = 10
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}

# SHA-256 of the files in shared/data (see its README): the .gz as stored, then the decompressed IDX.
_SHA256: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        "train-labels-idx1-ubyte": (
            "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        "t10k-images-idx3-ubyte": (
            "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "t10k-labels-idx1-ubyte": (
            "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": (
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        "train-labels-idx1-ubyte": (
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        "t10k-images-idx3-ubyte": (
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        "t10k-labels-idx1-ubyte": (
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
}

_TITLES = {"mnist": "an MNIST", "fashion_mnist": "a Fashion-MNIST"}
_CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(_NUM_CLASSES)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}


def parse_idx(dataset: str, path: os.PathLike[str] | str, content: bytes, magic: int) -> np.ndarray:
    """Parse an uncompressed uint8 IDX file and check its header against ``magic``.

    Args:
        dataset: dataset name, for messages.
        path: the file, for messages.
        content: the whole (decompressed) file.
        magic: the expected magic number; its low byte is the number of dimensions.

    Returns:
        A read-only uint8 array of the shape the header gives (a view of ``content``).

    Raises:
        DataError: short header, wrong magic, or a data size that differs from the header's dims.
    """
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    what = "images" if magic == IMAGES_MAGIC else "labels"
    found = int.from_bytes(content[:4], "big")
    if len(content) >= 4 and found != magic:
        raise DataError(
            f"{dataset}: {path}: bad magic 0x{found:08x}, expected 0x{magic:08x} (IDX {what}); "
            f"is this {_TITLES.get(dataset, 'an')} IDX file?"
        )
    if len(content) < header:
        raise DataError(
            f"{dataset}: {path}: truncated: {len(content)} bytes, shorter than the {header}-byte IDX {what} header"
        )
    dims = struct.unpack(f">{ndim}I", content[4:header])
    expected = math.prod(dims)
    actual = len(content) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "too long"
        raise DataError(
            f"{dataset}: {path}: {problem}: header dims {dims} need {expected:,} data bytes after the "
            f"{header}-byte header, found {actual:,}"
        )
    return np.frombuffer(content, np.uint8, count=expected, offset=header).reshape(dims)


def _read_idx(dataset: str, folder: Path, stem: str, magic: int, verify: bool) -> tuple[np.ndarray, Path]:
    """Find, read, parse and (if ``verify``) hash-check ``stem(.gz)``; returns (array, path)."""
    what = "IDX images" if magic == IMAGES_MAGIC else "IDX labels"
    path = find_file(dataset, folder, (f"{stem}.gz", stem), what, subdir=dataset)
    data = read_file(dataset, path)
    array = parse_idx(dataset, path, data.content, magic)
    if verify:
        verify_sha256(dataset, data, _SHA256[dataset].get(stem, ()))
    return array, path


def _load_idx_dataset(
    dataset: str, root: str | os.PathLike[str] | None, split: str, verify: bool
) -> Dataset:
    if split not in _SPLIT_PREFIX:
        raise ConfigError(f"{dataset}: split={split!r} is not one of 'train', 'test'")
    folder = resolve_root(dataset, root, dataset)
    prefix = _SPLIT_PREFIX[split]
    images, images_path = _read_idx(dataset, folder, f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC, verify)
    labels, labels_path = _read_idx(dataset, folder, f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC, verify)
    if images.shape[1:] != (_SIDE, _SIDE):
        raise DataError(
            f"{dataset}: {images_path}: images are {images.shape[1]}x{images.shape[2]}, expected {_SIDE}x{_SIDE}"
        )
    if len(labels) != len(images):
        raise DataError(
            f"{dataset}: {labels_path} holds {len(labels):,} labels but {images_path} holds {len(images):,} "
            "images; the two files must come from the same split"
        )
    out_of_range = np.flatnonzero(labels >= _NUM_CLASSES)
    if out_of_range.size:
        index = int(out_of_range[0])
        raise DataError(
            f"{dataset}: {labels_path}: label {labels[index]} at index {index} is out of range "
            f"0..{_NUM_CLASSES - 1}"
        )
    return Dataset(
        dataset,
        torch.from_numpy(images.reshape(-1, 1, _SIDE, _SIDE).copy()),
        torch.from_numpy(labels.astype(np.int64)),
        _CLASS_NAMES[dataset],
    )


@DATASETS.register("mnist")
def load_mnist(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """MNIST handwritten digits (LeCun et al. 1998) from the four standard IDX files.

    Reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` from ``root``, gzip-compressed
    (``.gz``, preferred when both exist) or not. Nothing is downloaded.

    Args:
        root: folder holding the IDX files; default ``$AUGBENCH_DATA/mnist``.
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        images ``(N, 1, 28, 28)`` uint8 in 0-255, labels ``(N,)`` int64 in 0-9, class names "0".."9".

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing, truncated, corrupt or inconsistent file (one line naming it).
    """
    return _load_idx_dataset("mnist", root, split, verify)


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """Fashion-MNIST clothing images (Xiao et al. 2017) from the four standard IDX files.

    Same file names and layout as :func:`load_mnist`. Classes: T-shirt/top, Trouser, Pullover,
    Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.

    Args:
        root: folder holding the IDX files; default ``$AUGBENCH_DATA/fashion_mnist``.
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        images ``(N, 1, 28, 28)`` uint8 in 0-255, labels ``(N,)`` int64 in 0-9.

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing, truncated, corrupt or inconsistent file (one line naming it).
    """
    return _load_idx_dataset("fashion_mnist", root, split, verify)
