"""ModelNet10 point clouds (Wu et al. 2015) from ``.npy`` arrays: 10 classes, 1,024 points per shape.

Files (``shared/data/modelnet10``, see its README): ``train_points_0.npy`` and
``train_points_1.npy`` (train shapes 0-1999 and 2000-3990, concatenated in that order),
``test_points.npy``, each ``(n, 1024, 3)`` float32 ``(x, y, z)``; ``{train,test}_labels.npy``
uint8 class indices; ``{train,test}_names.txt`` the official model name of each shape, one per
line; ``shape_names.txt`` the 10 class names. The official split: 3,991 train, 908 test.

The points are Poisson-disk samples of the official meshes in raw mesh units (extents from 0.2
to 2.3e5). Each cloud is normalised to the unit sphere as the data README says: centred at the
mean of its points, divided by the largest distance of a point to that centre (in float64,
stored as float32). The clouds are z-up (see :mod:`augbench.transforms.points`). Arrays are
read with ``allow_pickle=False`` and every file's SHA-256 is checked (``verify=True``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from augbench.data.base import DATASETS, Dataset
from augbench.data.files import find_file, read_file, resolve_root, verify_sha256
from augbench.data.splits import stratified_split
from augbench.errors import ConfigError, DataError

__all__ = ["load_modelnet10", "normalize_unit_sphere", "POINTS_PER_SHAPE"]

_SUBDIR = "modelnet10"
_DATASET = "modelnet10"
POINTS_PER_SHAPE = 1024
"""Points per cloud in the files."""
_SPLIT_FILES = {"train": ("train_points_0.npy", "train_points_1.npy"), "test": ("test_points.npy",)}
_SPLIT_SIZES = {"train": 3991, "test": 908}
_SUBSET_SEED = 0  # the fixed point subset (num_points) and shape subset (subset)

# SHA-256 of the files in shared/data/modelnet10 (see its README), by file name.
_SHA256: dict[str, tuple[str, ...]] = {
    "train_points_0.npy": ("ccdb903121d4699f08a5ce96a0a4913f74c7bcb23e7da9415dad090a81dfa3d9",),
    "train_points_1.npy": ("7a2d5eff60f95350d58ae753628850b79f61cf5b47d10c9116f227198c574d64",),
    "test_points.npy": ("841fe92f500be1d3277ef9edcf2a8e73a75ad62769a4c8aa17edd53862ff3904",),
    "train_labels.npy": ("ac75acd03c331c17fe8eada4f9bb2dac85f56a9b47f0654d91d5f3b4cc2fa351",),
    "test_labels.npy": ("98a7f66138616f9ed1165436130c156b9e3cf939869a1870dda149cc90256da1",),
    "train_names.txt": ("7867db209d2bd7c4ba9898120942484638ba231e6a5413504c276010eb458d27",),
    "test_names.txt": ("30dd1dfeab9562b19c46ac70da7ea28064f05e5da21dde0d29b6177ac8545992",),
    "shape_names.txt": ("13deb0202e4519e5340402b428f4318f49a46a0947b7e4cb4766e6e81f055c40",),
}


def _read(folder: Path, name: str, what: str, verify: bool) -> tuple[bytes, Path]:
    """The bytes of ``folder/name`` after the SHA-256 check (if ``verify``)."""
    path = find_file(_DATASET, folder, (name,), what, subdir=_SUBDIR)
    data = read_file(_DATASET, path)
    if verify:
        verify_sha256(_DATASET, data, _SHA256.get(name, ()))
    return data.content, path


def _array(folder: Path, name: str, what: str, verify: bool) -> tuple[np.ndarray, Path]:
    """A ``.npy`` array, read without pickles; one line on a file that is not one."""
    content, path = _read(folder, name, what, verify)
    try:
        return np.load(io.BytesIO(content), allow_pickle=False), path
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{_DATASET}: {path}: not a readable .npy array ({error}); copy the file again") from None


def _lines(folder: Path, name: str, what: str, verify: bool) -> tuple[list[str], Path]:
    content, path = _read(folder, name, what, verify)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{_DATASET}: {path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    return [line.strip() for line in text.splitlines() if line.strip()], path


def _points(folder: Path, split: str, verify: bool) -> np.ndarray:
    """The split's ``(n, 1024, 3)`` float32 clouds, checked part by part."""
    parts = []
    for name in _SPLIT_FILES[split]:
        array, path = _array(folder, name, f"{split} points (.npy)", verify)
        if array.ndim != 3 or array.shape[1:] != (POINTS_PER_SHAPE, 3) or array.dtype != np.float32:
            raise DataError(
                f"{_DATASET}: {path}: expected (n, {POINTS_PER_SHAPE}, 3) float32 points, got {array.dtype} "
                f"{array.shape}; copy the file again"
            )
        if not np.isfinite(array).all():
            raise DataError(f"{_DATASET}: {path}: holds NaN or infinite coordinates; copy the file again")
        parts.append(array)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def normalize_unit_sphere(points: np.ndarray) -> np.ndarray:
    """Centre each ``(N, 3)`` cloud at its mean and divide by its largest point norm (float64 -> float32)."""
    centred = points.astype(np.float64) - points.mean(axis=1, keepdims=True, dtype=np.float64)
    radius = np.linalg.norm(centred, axis=2).max(axis=1)
    return (centred / np.maximum(radius, 1e-12)[:, None, None]).astype(np.float32)


def _point_subset(num_points: int | None) -> np.ndarray | None:
    """The fixed, sorted indices of ``num_points`` of the 1,024 points (the same for every cloud)."""
    if num_points is None or num_points == POINTS_PER_SHAPE:
        return None
    order = torch.randperm(POINTS_PER_SHAPE, generator=torch.Generator().manual_seed(_SUBSET_SEED))
    return order[:num_points].sort().values.numpy()


def _check_options(split: str, num_points: int | None, subset: int | None) -> None:
    if split not in _SPLIT_FILES:
        raise ConfigError(f"{_DATASET}: split={split!r} is not one of 'train', 'test'")
    if num_points is not None and (
        isinstance(num_points, bool) or not isinstance(num_points, int) or not 1 <= num_points <= POINTS_PER_SHAPE
    ):
        raise ConfigError(f"{_DATASET}: num_points={num_points!r} must be a whole number in [1, {POINTS_PER_SHAPE}] or null")
    size = _SPLIT_SIZES[split]
    if subset is not None and (isinstance(subset, bool) or not isinstance(subset, int) or not 10 <= subset <= size):
        raise ConfigError(f"{_DATASET}: subset={subset!r} must be a whole number in [10, {size}] (the {split} split) or null")


@DATASETS.register("modelnet10")
def load_modelnet10(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
    num_points: int | None = None,
    subset: int | None = None,
) -> Dataset:
    """ModelNet10: 4,899 CAD shapes of 10 indoor-object classes as 1,024-point clouds.

    Args:
        root: the folder holding the ``.npy`` and ``.txt`` files; default ``$AUGBENCH_DATA/modelnet10``.
        split: ``"train"`` (3,991 shapes) or ``"test"`` (908), the official split.
        verify: check every file's SHA-256 against the data README's.
        num_points: keep this many of the 1,024 points of every cloud (a fixed subset, the
            same positions for every cloud and both splits, drawn once with seed 0), for speed;
            ``None`` keeps all. The clouds are normalised after the subset is taken.
        subset: keep a fixed class-stratified subset of this many shapes of the split (seed 0,
            the same for every run), for quick runs; ``None`` keeps all. An experiment's
            ``train_size`` draws a per-seed subset of the training split instead.

    Returns:
        ``(n, num_points, 3)`` float32 clouds on the unit sphere (modality ``"points"``),
        ``(n,)`` int64 labels, the class names bathtub, bed, chair, desk, dresser, monitor,
        night_stand, sofa, table, toilet.

    Raises:
        ConfigError: a bad option, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing, corrupt or inconsistent file (one line naming it).
    """
    _check_options(split, num_points, subset)
    folder = resolve_root(_DATASET, root, _SUBDIR)
    class_names, names_path = _lines(folder, "shape_names.txt", "class names", verify)
    points = _points(folder, split, verify)
    labels, labels_path = _array(folder, f"{split}_labels.npy", f"{split} labels (.npy)", verify)
    shape_names, shapes_path = _lines(folder, f"{split}_names.txt", f"{split} model names", verify)
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(f"{_DATASET}: {labels_path}: expected (n,) uint8 labels, got {labels.dtype} {labels.shape}")
    if not len(points) == len(labels) == len(shape_names):
        raise DataError(
            f"{_DATASET}: the {split} split has {len(points)} clouds, {len(labels)} labels ({labels_path.name}) and "
            f"{len(shape_names)} model names ({shapes_path.name}); the files come from different copies"
        )
    if labels.size and int(labels.max()) >= len(class_names):
        raise DataError(
            f"{_DATASET}: {labels_path}: label {int(labels.max())} but {names_path} lists {len(class_names)} classes"
        )
    subset_points = _point_subset(num_points)
    if subset_points is not None:
        points = points[:, subset_points]
    inputs = torch.from_numpy(normalize_unit_sphere(points))
    targets = torch.from_numpy(labels.astype(np.int64))
    if subset is not None and subset < len(targets):
        chosen, _ = stratified_split(targets, subset, _SUBSET_SEED)
        inputs, targets = inputs[chosen], targets[chosen]
    return Dataset(_DATASET, inputs.contiguous(), targets, tuple(class_names), modality="points")
