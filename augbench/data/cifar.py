"""CIFAR-10 from its *binary version* (``cifar-10-batches-bin``); the pickled version is never read.

Each file is a run of 3,073-byte records: 1 label byte, then the 1,024 red, 1,024 green and
1,024 blue bytes of a 32x32 image, each plane row-major, so a record's pixels are already in
``(C, H, W)`` order.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from augbench.data.base import DATASETS, Dataset
from augbench.data.files import read_file, resolve_root, verify_sha256
from augbench.errors import ConfigError, DataError

__all__ = ["load_cifar10", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_SIDE = 32
_RECORD_BYTES = 1 + 3 * _SIDE * _SIDE
_META = "batches.meta.txt"
_TRAIN_FILE = re.compile(r"data_batch_(\d+)\.bin")
_TEST_FILE = re.compile(r"test_batch.*\.bin")

# SHA-256 of the .bin files in shared/data (see its README). batches.meta.txt is checked by
# content instead (ten non-empty lines): copies of this small text file differ in whitespace.
_SHA256: dict[str, tuple[str, ...]] = {
    "data_batch_1.bin": ("cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",),
    "data_batch_2.bin": ("a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",),
    "test_batch_first1000.bin": ("8314c96d7cd65618193bab23acdd5d4c4af15bf6dd00a1781d55beedf3be1ef5",),
}


def _split_files(folder: Path, split: str) -> list[Path]:
    """The batch files of ``split`` in ``folder``: training batches by number, or the one test file."""
    names = [path.name for path in folder.iterdir() if path.is_file()]
    if split == "train":
        numbered = sorted((int(match.group(1)), name) for name in names if (match := _TRAIN_FILE.fullmatch(name)))
        chosen = [name for _, name in numbered]
        pattern = "data_batch_*.bin"
    else:
        chosen = sorted(name for name in names if _TEST_FILE.fullmatch(name))
        pattern = "test_batch*.bin"
        if len(chosen) > 1:
            raise DataError(
                f"cifar10: {folder} holds several test files ({', '.join(chosen)}); keep one so that no "
                "test image is loaded twice"
            )
    if not chosen:
        hint = ""
        if (folder / "data_batch_1").is_file() or (folder / "test_batch").is_file():
            hint = "; the files there are the pickled python version, which augbench never reads"
        raise DataError(
            f"cifar10: no {pattern} files in {folder}; expected the CIFAR-10 binary version "
            f"(cifar-10-batches-bin){hint}"
        )
    return [folder / name for name in chosen]


def _read_batch(path: Path, num_classes: int, verify: bool) -> np.ndarray:
    """Read one batch file as a ``(records, 3073)`` uint8 array after checking size and labels."""
    data = read_file("cifar10", path)
    size = len(data.content)
    if size == 0 or size % _RECORD_BYTES:
        raise DataError(
            f"cifar10: {path}: {size:,} bytes is not a whole, non-zero number of {_RECORD_BYTES}-byte "
            "records (1 label + 3,072 pixel bytes); is the file truncated, or not the binary version?"
        )
    records = np.frombuffer(data.content, np.uint8).reshape(-1, _RECORD_BYTES)
    out_of_range = np.flatnonzero(records[:, 0] >= num_classes)
    if out_of_range.size:
        index = int(out_of_range[0])
        raise DataError(
            f"cifar10: {path}: label {records[index, 0]} of record {index} is out of range 0..{num_classes - 1}"
        )
    if verify:
        verify_sha256("cifar10", data, _SHA256.get(path.name, ()))
    return records


def _class_names(folder: Path) -> tuple[str, ...]:
    """Class names from ``batches.meta.txt`` (one per line) when present, else the standard ten."""
    path = folder / _META
    if not path.is_file():
        return CIFAR10_CLASSES
    try:
        text = read_file("cifar10", path).content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"cifar10: {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != len(CIFAR10_CLASSES):
        raise DataError(
            f"cifar10: {path}: {len(names)} class names, expected {len(CIFAR10_CLASSES)} (one per line)"
        )
    return names


@DATASETS.register("cifar10")
def load_cifar10(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """CIFAR-10 (Krizhevsky 2009) from the binary-version batch files in ``root``.

    ``split="train"`` concatenates every ``data_batch_<n>.bin`` present, in order of ``n``;
    ``split="test"`` reads the one ``test_batch*.bin`` present (the official ``test_batch.bin``,
    or a subset such as ``test_batch_first1000.bin``). Class names come from
    ``batches.meta.txt`` when present. Nothing is downloaded and nothing is unpickled.

    Args:
        root: folder holding the ``.bin`` files; default ``$AUGBENCH_DATA/cifar10``.
        split: ``"train"`` or ``"test"``.
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        images ``(N, 3, 32, 32)`` uint8 RGB in 0-255, labels ``(N,)`` int64 in 0-9.

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: no batch files, or a truncated or corrupt one (one line naming it).
    """
    if split not in ("train", "test"):
        raise ConfigError(f"cifar10: split={split!r} is not one of 'train', 'test'")
    folder = resolve_root("cifar10", root, "cifar10")
    class_names = _class_names(folder)
    batches = [_read_batch(path, len(class_names), verify) for path in _split_files(folder, split)]
    records = np.concatenate(batches)
    images = torch.from_numpy(np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, _SIDE, _SIDE))
    labels = torch.from_numpy(records[:, 0].astype(np.int64))
    return Dataset("cifar10", images, labels, class_names)
