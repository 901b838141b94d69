"""Named augmentations for the benchmark job (``--augs``), built for a dataset's image shape."""

from __future__ import annotations

import math

from augbench.registry import Registry
from augbench.transforms import HorizontalFlip, RandomAffine, RandomErasing, RandomResizedCrop, Transform

__all__ = ["AUGMENTATIONS", "build_augmentation"]

AUGMENTATIONS: Registry[Transform | None] = Registry("augmentation")


def build_augmentation(name: str, image_shape: tuple[int, int, int]) -> Transform | None:
    """The transform registered as ``name`` for images of ``(C, H, W)``; ``None`` for the baseline."""
    return AUGMENTATIONS.build(name, image_shape=image_shape)


@AUGMENTATIONS.register("baseline")
def baseline(image_shape: tuple[int, int, int]) -> None:
    """No augmentation."""
    return None


@AUGMENTATIONS.register("affine")
def affine(image_shape: tuple[int, int, int]) -> Transform:
    """The card harness's random affine: rotation +-15 deg, shift +-1 px on 8x8 (1/8 of the side),
    shear factor +-0.2 (= +-11.3 deg), bilinear."""
    shear_degrees = math.degrees(math.atan(0.2))
    return RandomAffine(degrees=15, translate=(0.125, 0.125), shear=shear_degrees, interpolation="bilinear")


@AUGMENTATIONS.register("erasing")
def erasing(image_shape: tuple[int, int, int]) -> Transform:
    """Random Erasing with the card's defaults: p 0.5, area 2-40 %, aspect 0.3-3.3, zero fill."""
    return RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3))


@AUGMENTATIONS.register("rrc")
def random_resized_crop(image_shape: tuple[int, int, int]) -> Transform:
    """Random resized crop back to the input size, area 50-100 % (0.08 destroys 8x8 digits)."""
    return RandomResizedCrop(image_shape[1:], scale=(0.5, 1.0))


@AUGMENTATIONS.register("hflip")
def horizontal_flip(image_shape: tuple[int, int, int]) -> Transform:
    """Horizontal flip with p 0.5: label-breaking on digits, a useful negative control."""
    return HorizontalFlip(p=0.5)
