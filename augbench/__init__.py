"""augbench: batched data augmentation with per-sample randomness, and a benchmark of methods.

Images are ``(B, C, H, W)`` tensors, uint8 in 0-255 or floating in 0-1, on any device.
"""

from augbench import functional
from augbench.errors import AugbenchError, ConfigError, DataError, InputTypeError, InputValueError
from augbench.random import Params, seed
from augbench.transforms import (
    Compose,
    HorizontalFlip,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Transform,
    VerticalFlip,
)

__version__ = "0.1.0"

__all__ = [
    "AugbenchError",
    "Compose",
    "ConfigError",
    "DataError",
    "HorizontalFlip",
    "InputTypeError",
    "InputValueError",
    "Params",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
    "RandomResizedCrop",
    "Transform",
    "VerticalFlip",
    "functional",
    "seed",
    "__version__",
]
