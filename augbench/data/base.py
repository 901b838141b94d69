"""The in-memory image dataset container and the dataset registry."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from augbench.errors import DataError
from augbench.registry import Registry

__all__ = ["ImageDataset", "DATASETS", "load_dataset"]


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image dataset held in memory.

    Attributes:
        name: registry name of the dataset.
        images: ``(N, C, H, W)`` uint8 in 0-255.
        labels: ``(N,)`` int64 class indices in ``[0, num_classes)``.
        class_names: one name per class.
    """

    name: str
    images: Tensor
    labels: Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise DataError(f"dataset {self.name!r}: images must be (N, C, H, W) uint8, got {tuple(self.images.shape)} {self.images.dtype}")
        if self.labels.shape != (self.images.shape[0],):
            raise DataError(f"dataset {self.name!r}: {self.labels.shape[0]} labels for {self.images.shape[0]} images")

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.images.shape[0]


DATASETS: Registry[ImageDataset] = Registry("dataset")


def load_dataset(name: str, **options: object) -> ImageDataset:
    """Load a registered dataset by name (see ``DATASETS.names()``)."""
    return DATASETS.build(name, **options)
