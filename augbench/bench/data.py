"""The data of one run: training subset, fixed validation split and test set, as uint8 tensors."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import Tensor

from augbench.bench.config import RunConfig
from augbench.data import DATASETS, ImageDataset, load_dataset, stratified_split
from augbench.errors import ConfigError

__all__ = ["RunData", "prepare_data"]

_FIXED_SEED = 0  # validation and test subsets do not depend on the run's seed


@dataclass(frozen=True)
class RunData:
    """Tensors of one run (all uint8 images ``(N, C, H, W)`` and int64 labels ``(N,)``).

    Attributes:
        train_ids: ``(N_train,)`` int64 indices of the training samples in the training pool
            (the keys of keyed augmentation).
    """

    train_images: Tensor
    train_labels: Tensor
    train_ids: Tensor
    val_images: Tensor
    val_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    image_shape: tuple[int, int, int]


def _load(config: RunConfig, split: str | None) -> ImageDataset:
    options: dict[str, object] = {}
    parameters = inspect.signature(DATASETS.get(config.dataset)).parameters
    if split is not None:
        options["split"] = split
    if config.data_root is not None and "root" in parameters:
        options["root"] = config.data_root
    return load_dataset(config.dataset, **options)


def _subset(labels: Tensor, size: int | None, seed: int) -> tuple[Tensor, Tensor]:
    """A stratified subset of ``size`` and the rest (everything when ``size`` is None or too big)."""
    everything = torch.arange(labels.shape[0])
    if size is None or size >= labels.shape[0]:
        return everything, everything[:0]
    return stratified_split(labels, size, seed)


def prepare_data(config: RunConfig) -> RunData:
    """Load the run's dataset and split it as ``config`` says.

    Datasets with a ``split`` option (MNIST, Fashion-MNIST, CIFAR-10) train on a stratified
    subset of their training split (by the run's seed) and test on their test split (or a fixed
    stratified subset of it). Others (digits) train on the subset and test on the remainder,
    as the cards' harness does. The validation split, when asked for, is fixed across seeds.
    """
    has_splits = "split" in inspect.signature(DATASETS.get(config.dataset)).parameters
    pool = _load(config, "train" if has_splits else None)
    rest = torch.arange(len(pool))
    val_index = rest[:0]
    if config.val_size:
        val_local, rest_local = stratified_split(pool.labels, config.val_size, _FIXED_SEED)
        val_index, rest = rest[val_local], rest[rest_local]
    if config.train_size > rest.shape[0]:
        raise ConfigError(
            f"train_size={config.train_size} exceeds the {rest.shape[0]} training images of {config.dataset!r}"
        )
    train_local, remainder_local = stratified_split(pool.labels[rest], config.train_size, config.seed)
    train_index = rest[train_local]
    if has_splits:
        test = _load(config, "test")
        test_local, _ = _subset(test.labels, config.test_size, _FIXED_SEED)
        test_images, test_labels = test.images[test_local], test.labels[test_local]
    else:
        remainder = rest[remainder_local]
        test_local, _ = _subset(pool.labels[remainder], config.test_size, _FIXED_SEED)
        test_images, test_labels = pool.images[remainder[test_local]], pool.labels[remainder[test_local]]
    return RunData(
        train_images=pool.images[train_index],
        train_labels=pool.labels[train_index],
        train_ids=train_index,
        val_images=pool.images[val_index],
        val_labels=pool.labels[val_index],
        test_images=test_images,
        test_labels=test_labels,
        num_classes=pool.num_classes,
        image_shape=pool.image_shape,
    )
