"""Random transforms with the sample/apply split: one parameter set per sample."""

from augbench.transforms.base import Compose, ImageShape, Transform
from augbench.transforms.color import ColorJitter, RandomGrayscale
from augbench.transforms.erasing import RandomErasing
from augbench.transforms.geometry import HorizontalFlip, RandomAffine, RandomCrop, RandomResizedCrop, VerticalFlip

__all__ = [
    "ColorJitter",
    "Compose",
    "HorizontalFlip",
    "ImageShape",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
    "RandomGrayscale",
    "RandomResizedCrop",
    "Transform",
    "VerticalFlip",
]
