"""augbench: batched data augmentation with per-sample randomness, and a benchmark of methods.

Images are ``(B, C, H, W)`` tensors, uint8 in 0-255 or floating in 0-1, on any device.
"""

from augbench import functional, mix
from augbench.errors import AugbenchError, ConfigError, DataError, InputTypeError, InputValueError
from augbench.keyed import KeyedGenerator
from augbench.policies import AugMix, AutoAugment, RandAugment, TrivialAugmentWide, jsd_loss, policy
from augbench.random import Params, seed
from augbench.serialization import from_dict, load, save
from augbench.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    GaussianBlur,
    GaussianNoise,
    Grayscale,
    HorizontalFlip,
    Normalize,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomGrayscale,
    RandomResizedCrop,
    Resize,
    ToDtype,
    Transform,
    VerticalFlip,
)

__version__ = "0.1.0"

__all__ = [
    "AugMix",
    "AugbenchError",
    "AutoAugment",
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "ConfigError",
    "DataError",
    "GaussianBlur",
    "GaussianNoise",
    "Grayscale",
    "HorizontalFlip",
    "InputTypeError",
    "InputValueError",
    "KeyedGenerator",
    "Normalize",
    "Pad",
    "Params",
    "RandAugment",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
    "RandomGrayscale",
    "RandomResizedCrop",
    "Resize",
    "ToDtype",
    "Transform",
    "TrivialAugmentWide",
    "VerticalFlip",
    "from_dict",
    "functional",
    "jsd_loss",
    "load",
    "mix",
    "policy",
    "save",
    "seed",
    "__version__",
]
