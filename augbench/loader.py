"""augbench in your own training loop: a standard ``DataLoader`` hands over uint8 images and
their dataset indices; :class:`BatchAugment` moves them to the device and applies the pipeline
with keyed per-sample draws, an optional mixer, then normalisation.

Why indices: keyed draws make a sample's augmentation a function of ``(seed, epoch, index)``
only, so it is the same whatever the batch size, the shuffling, the number of DataLoader workers
or the device, and a run can be replayed exactly. Workers only collate uint8 tensors (cheap);
the augmentation runs batched where the model runs.

>>> import torch
>>> from augbench.loader import BatchAugment, create_pipeline
>>> augment = BatchAugment(create_pipeline(8, policy="rand-m9-n2", mean=[0.5], std=[0.25]), num_samples=100)
>>> images, labels, indices = torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.arange(4), torch.arange(4)
>>> inputs, targets = augment(images, labels, indices)
>>> inputs.shape, inputs.dtype, targets.tolist()
(torch.Size([4, 1, 8, 8]), torch.float32, [0, 1, 2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from augbench.errors import InputTypeError, InputValueError
from augbench.keyed import sample_keys
from augbench.mix.base import Mixer
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.transforms import (
    CenterCrop,
    Compose,
    HorizontalFlip,
    Normalize,
    RandomErasing,
    RandomResizedCrop,
    Resize,
    Transform,
)

__all__ = ["IndexedDataset", "BatchAugment", "create_pipeline", "to_uint8_chw", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_uint8_chw(image: Any) -> Tensor:
    """One image as a ``(C, H, W)`` uint8 tensor: a PIL image, an ``(H, W)``/``(H, W, C)`` uint8
    array, or a ``(C, H, W)`` uint8 tensor (returned as is)."""
    if isinstance(image, Tensor):
        if image.dtype != torch.uint8 or image.ndim != 3:
            raise InputTypeError(f"expected a (C, H, W) uint8 image tensor, got {image.dtype} {tuple(image.shape)}; "
                                 "keep images uint8 in the dataset and let BatchAugment normalise on the device")
        return image
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise InputTypeError(f"expected a uint8 (H, W) or (H, W, C) image, got {array.dtype} {array.shape}; "
                             "convert PIL images with image.convert('RGB')")
    array = array[:, :, None] if array.ndim == 2 else array
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class IndexedDataset(Dataset):
    """A map-style dataset of ``(image, label)`` as ``(uint8 (C, H, W) tensor, label, index)``.

    The index is what keyed draws need; the default collate stacks the items to a ``(B, C, H, W)``
    uint8 batch, ``(B,)`` labels and ``(B,)`` indices.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, int, int]:
        image, label = self.dataset[index]
        return to_uint8_chw(image), int(label), index


def _split_normalize(transform: Transform | None) -> tuple[Transform | None, Normalize | None]:
    """A pipeline and its trailing ``Normalize`` apart (mixers mix images, then normalisation)."""
    if isinstance(transform, Normalize):
        return None, transform
    if isinstance(transform, Compose) and transform.transforms and isinstance(transform.transforms[-1], Normalize):
        rest = transform.transforms[:-1]
        return (Compose(rest) if rest else None), transform.transforms[-1]
    return transform, None


class BatchAugment:
    """uint8 batch and dataset indices -> device -> keyed per-sample augmentation -> mixing ->
    normalised float input.

    Args:
        transform: a pipeline (a transform, a policy string or a spec), e.g. from
            :func:`create_pipeline`; a trailing ``Normalize`` is applied after mixing.
        num_samples: the dataset's size (keys are ``(epoch * num_samples + index) * 16``).
        seed: the seed of the draws.
        mixer: optional batch mixer (``augbench.mix``); the targets are then its soft targets.
        device: where to augment (``None``: where the batch already is).
        channels_last: convert the batch to channels-last memory format before augmenting (the
            layout the fast uint8 resize paths and most GPU convolutions prefer).

    Call ``set_epoch(epoch)`` at the start of every epoch (as a ``DistributedSampler``), so each
    epoch draws new augmentations.
    """

    def __init__(
        self,
        transform: Transform | Spec | None,
        *,
        num_samples: int,
        seed: int = 0,
        mixer: Mixer | None = None,
        device: torch.device | str | None = None,
        channels_last: bool = False,
    ) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise InputValueError(f"BatchAugment: num_samples={num_samples!r} must be the dataset size (an int >= 1)")
        built = transform if isinstance(transform, Transform) or transform is None else build_transform(transform)
        self.augment, self.normalize = _split_normalize(built)
        self.num_samples, self.seed, self.mixer = num_samples, int(seed), mixer
        self.device = None if device is None else torch.device(device)
        self.channels_last = bool(channels_last)
        self.epoch, self._step = 0, 0

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: new keys for every sample, mixing partners from a new stream."""
        self.epoch, self._step = int(epoch), 0

    def __call__(self, images: Tensor, labels: Tensor, indices: Tensor) -> tuple[Tensor, Tensor]:
        """Augment one batch.

        Args:
            images: ``(B, C, H, W)`` uint8 from the loader (any device).
            labels: ``(B,)`` int64 class labels.
            indices: ``(B,)`` int64 dataset indices of the samples.

        Returns:
            ``(inputs, targets)``: the model input (float after a ``Normalize``, else the
            augmented images) and the labels, or ``(B, num_classes)`` soft targets with a mixer.
        """
        if self.device is not None:
            images = images.to(self.device, non_blocking=True)
            labels, indices = labels.to(self.device, non_blocking=True), indices.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if indices.shape != labels.shape or indices.shape[:1] != images.shape[:1]:
            raise InputValueError(f"BatchAugment: {images.shape[0]} images, {labels.shape[0]} labels and "
                                  f"{indices.shape[0]} indices; wrap the dataset in IndexedDataset")
        if len(indices) and int(indices.max()) >= self.num_samples:
            raise InputValueError(f"BatchAugment: index {int(indices.max())} >= num_samples={self.num_samples}; "
                                  "pass num_samples=len(dataset)")
        if self.augment is not None:
            images = self.augment(images, keys=sample_keys(indices, self.epoch, self.num_samples), seed=self.seed)
        targets = labels
        if self.mixer is not None:
            generator = torch.Generator(device=images.device).manual_seed(
                hash((self.seed, self.epoch, self._step)) % 2**63)
            mixed = self.mixer(images, labels, generator=generator)
            images, targets = mixed.inputs, mixed.targets
        self._step += 1
        if self.normalize is not None:
            images = self.normalize(images)
        return images, targets


def create_pipeline(
    input_size: int | Sequence[int],
    *,
    train: bool = True,
    policy: Spec | None = None,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
    hflip: float = 0.5,
    erasing: float = 0.0,
    interpolation: str = "bilinear",
    crop_pct: float = 0.875,
    mean: Sequence[float] | None = IMAGENET_MEAN,
    std: Sequence[float] | None = IMAGENET_STD,
) -> Compose:
    """Train or evaluation pipeline from a few arguments, as timm's ``create_transform``.

    Train: ``RandomResizedCrop(input_size, scale, ratio)`` -> ``HorizontalFlip(hflip)`` ->
    ``policy`` (a policy string such as ``rand-m9-mstd0.5-inc1`` or a spec) ->
    ``RandomErasing(erasing)`` -> ``Normalize(mean, std)``. Evaluation: ``Resize`` of the
    smaller edge to ``input_size / crop_pct`` -> ``CenterCrop(input_size)`` -> ``Normalize``.
    Every random step draws per sample (keyed with :class:`BatchAugment`).

    Differences from timm: Random Erasing runs before normalisation and fills with 0 (timm erases
    the normalised tensor with Gaussian noise by default); ``mean=None`` leaves out ``Normalize``.

    Args:
        input_size: output side (or ``(height, width)``).
        train: the training pipeline (``True``) or the evaluation one.
        policy, scale, ratio, hflip, erasing, interpolation: training options (0 turns a
            probability off).
        crop_pct: evaluation centre-crop fraction.
        mean, std: per-channel normalisation in the [0, 1] scale (ImageNet's by default).
    """
    size = [input_size, input_size] if isinstance(input_size, int) else list(input_size)
    steps: list[Transform] = []
    if train:
        steps.append(RandomResizedCrop(size, scale=tuple(scale), ratio=tuple(ratio), interpolation=interpolation))
        if hflip > 0:
            steps.append(HorizontalFlip(p=hflip))
        if policy is not None:
            steps.append(build_transform(policy))
        if erasing > 0:
            steps.append(RandomErasing(p=erasing))
    else:
        if not 0 < crop_pct <= 1:
            raise InputValueError(f"create_pipeline: crop_pct={crop_pct!r} must be in (0, 1]")
        steps += [Resize(int(min(size) / crop_pct), interpolation=interpolation), CenterCrop(size)]
    if mean is not None:
        steps.append(Normalize(mean, IMAGENET_STD if std is None else std))
    return Compose(steps)
