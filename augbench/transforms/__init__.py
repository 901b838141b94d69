"""Random transforms with the sample/apply split: one parameter set per sample."""

from augbench.transforms.base import Compose, ImageShape, Transform
from augbench.transforms.color import ColorJitter, GaussianBlur, Grayscale, RandomGrayscale
from augbench.transforms.erasing import RandomErasing
from augbench.transforms.geometry import HorizontalFlip, RandomAffine, RandomCrop, RandomResizedCrop, VerticalFlip
from augbench.transforms.normalize import Normalize, ToDtype
from augbench.transforms.resize import CenterCrop, Pad, Resize

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "GaussianBlur",
    "Grayscale",
    "HorizontalFlip",
    "ImageShape",
    "Normalize",
    "Pad",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
    "RandomGrayscale",
    "RandomResizedCrop",
    "Resize",
    "ToDtype",
    "Transform",
    "VerticalFlip",
]
