"""The last steps of a pipeline: ``ToDtype`` and ``Normalize`` (torchvision's names and semantics).

Both are deterministic (no draw). They end a pipeline: their output is the model's float input,
not an image in [0, 1], so random transforms do not follow them. ``ToDtype(float32, scale=True)``
followed by ``Normalize`` fuses into one multiply-add on the uint8 batch inside ``Compose``
(``x * (1 / (255 std)) - mean / std``), the cost of a single pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from augbench.distributions import AnyGenerator
from augbench.errors import InputValueError
from augbench.random import Params
from augbench.transforms.base import ImageShape, Transform

__all__ = ["ToDtype", "Normalize"]

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64,
           "uint8": torch.uint8}


def _dtype_name(dtype: torch.dtype | str, who: str) -> str:
    name = dtype if isinstance(dtype, str) else str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise InputValueError(f"{who}: dtype={dtype!r} is not one of {', '.join(_DTYPES)}")
    return name


class ToDtype(Transform):
    """Convert images to ``dtype``; with ``scale`` uint8 0–255 maps to float 0–1 and back
    (rounded, clamped), as ``torchvision.transforms.v2.ToDtype(dtype, scale=True)``.

    Args:
        dtype: a float dtype or ``uint8``, as a ``torch.dtype`` or its name (``"float32"``).
        scale: rescale the value range between integer and float dtypes.

    Shape:
        ``(B, C, H, W)`` -> same shape in ``dtype``.
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    def __init__(self, dtype: torch.dtype | str = torch.float32, scale: bool = True) -> None:
        super().__init__()
        self.dtype = _dtype_name(dtype, type(self).__name__)
        self.scale = bool(scale)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        dtype = _DTYPES[self.dtype]
        if images.dtype == dtype:
            return images
        if not self.scale:
            return images.to(dtype)
        if images.dtype == torch.uint8:
            return images.to(dtype).div_(255.0)
        if dtype == torch.uint8:
            return images.mul(255.0).round_().clamp_(0.0, 255.0).to(dtype)
        return images.to(dtype)

    def _apply_fused(
        self, images: Tensor, params: Params, following: Transform, following_params: Params, target: str
    ) -> Tensor | None:
        if not (isinstance(following, Normalize) and self.scale and images.dtype == torch.uint8
                and _DTYPES[self.dtype].is_floating_point):
            return None
        return following.normalize(images, _DTYPES[self.dtype])

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, scale={self.scale}"


class Normalize(Transform):
    """``(x - mean) / std`` per channel, as ``torchvision.transforms.v2.Normalize``.

    uint8 input is first scaled to [0, 1] (``ToDtype(float32, scale=True)`` folded in, one
    multiply-add), so ``Normalize(mean, std)`` also ends a uint8 pipeline on its own.

    Args:
        mean, std: one value per channel (or one for all), in the [0, 1] scale; ``std > 0``.

    Shape:
        ``(B, C, H, W)`` uint8 or float -> ``(B, C, H, W)`` float32 (or the input's float dtype).
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        who = type(self).__name__
        self.mean = [float(v) for v in ([mean] if isinstance(mean, (int, float)) else mean)]
        self.std = [float(v) for v in ([std] if isinstance(std, (int, float)) else std)]
        if not self.mean or len(self.mean) != len(self.std):
            raise InputValueError(f"{who}: mean and std need one value per channel each, got {mean!r} and {std!r}")
        if not all(math.isfinite(v) for v in self.mean) or not all(math.isfinite(v) and v > 0 for v in self.std):
            raise InputValueError(f"{who}: mean must be finite and std > 0, got mean={mean!r}, std={std!r}")

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        if len(self.mean) not in (1, shape[0]):
            raise InputValueError(f"{type(self).__name__}: {len(self.mean)} mean/std values for {shape[0]}-channel "
                                  "images; give one per channel")
        return {}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        return self.normalize(images, images.dtype if images.is_floating_point() else torch.float32)

    def normalize(self, images: Tensor, dtype: torch.dtype) -> Tensor:
        """``(images / white - mean) / std`` in ``dtype`` in one multiply-add (``white`` 255 for uint8, else 1)."""
        if len(self.mean) not in (1, images.shape[1]):
            raise InputValueError(f"{type(self).__name__}: {len(self.mean)} mean/std values for "
                                  f"{images.shape[1]}-channel images; give one per channel")
        white = 255.0 if images.dtype == torch.uint8 else 1.0
        mean = torch.tensor(self.mean, dtype=torch.float64)
        std = torch.tensor(self.std, dtype=torch.float64)
        scale = (1.0 / (white * std)).to(dtype=dtype, device=images.device).view(1, -1, 1, 1)
        shift = (-mean / std).to(dtype=dtype, device=images.device).view(1, -1, 1, 1)
        return torch.addcmul(shift, images.to(dtype), scale)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"
