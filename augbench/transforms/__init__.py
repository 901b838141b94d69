"""Random transforms with the sample/apply split: one parameter set per sample."""

from augbench.transforms.base import Compose, ImageShape, Transform
from augbench.transforms.erasing import RandomErasing
from augbench.transforms.geometry import HorizontalFlip, RandomAffine, RandomCrop, RandomResizedCrop, VerticalFlip

__all__ = [
    "Compose",
    "HorizontalFlip",
    "ImageShape",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
    "RandomResizedCrop",
    "Transform",
    "VerticalFlip",
]
