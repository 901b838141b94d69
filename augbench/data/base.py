"""The in-memory labelled dataset container and the dataset registry."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from augbench.errors import AugbenchError, DataError
from augbench.modalities import Modality, get_modality
from augbench.registry import Registry

__all__ = ["Dataset", "DATASETS", "load_dataset"]


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset held in memory, in one modality's layout.

    Attributes:
        name: registry name of the dataset.
        inputs: ``(N, ...)`` samples in the modality's layout (see :mod:`augbench.modalities`):
            images ``(N, C, H, W)`` uint8 0-255, time series ``(N, C, L)`` float32, ...
        labels: ``(N,)`` int64 class indices in ``[0, num_classes)``.
        class_names: one name per class.
        modality: registered modality name (``"image"``, ``"timeseries"``, ...).
        vocab_size: for token modalities (text, item sequences): the number of ids, padding
            (id 0) included; models size their embedding with it. ``None`` otherwise.
        tokens: for token modalities, the string of each id (``vocab_size`` entries: words,
            item titles), used to show samples; ``None`` when unknown.
        bones: for skeletons, the joint index pairs of the bones (stick figures); ``None`` when
            unknown.
    """

    name: str
    inputs: Tensor
    labels: Tensor
    class_names: tuple[str, ...]
    modality: str = "image"
    vocab_size: int | None = None
    tokens: tuple[str, ...] | None = None
    bones: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        try:
            self.modality_spec.check_batch(self.inputs, f"dataset {self.name!r}")
        except AugbenchError as error:
            raise DataError(str(error)) from None
        if self.modality == "image" and self.inputs.dtype != torch.uint8:
            raise DataError(f"dataset {self.name!r}: images are stored as uint8 0-255, got {self.inputs.dtype}")
        if self.labels.shape != (self.inputs.shape[0],) or self.labels.dtype != torch.int64:
            raise DataError(
                f"dataset {self.name!r}: need ({self.inputs.shape[0]},) int64 labels, got "
                f"{tuple(self.labels.shape)} {self.labels.dtype}"
            )

    @property
    def modality_spec(self) -> Modality:
        """The :class:`~augbench.modalities.Modality` of the samples."""
        return get_modality(self.modality)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. ``(C, H, W)`` for images or ``(C, L)`` for time series."""
        return tuple(self.inputs.shape[1:])

    def __len__(self) -> int:
        return self.inputs.shape[0]


DATASETS: Registry[Dataset] = Registry("dataset")


def load_dataset(name: str, **options: object) -> Dataset:
    """Load a registered dataset by name (see ``DATASETS.names()``)."""
    return DATASETS.build(name, **options)
