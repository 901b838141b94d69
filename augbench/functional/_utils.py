"""Helpers shared by the kernels: per-sample parameter broadcasting and dtype round trips."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor

from augbench.errors import InputValueError

Scalar = Union[int, float]
BatchParam = Union[Scalar, Tensor]
"""A scalar applied to every sample, or a ``(B,)`` tensor with one value per sample."""


def batch_param(value: BatchParam, images: Tensor, name: str, dtype: torch.dtype = torch.float32) -> Tensor:
    """Turn a scalar or ``(B,)`` parameter into a ``(B,)`` tensor on the images' device.

    Raises:
        InputValueError: a tensor that is neither 0-d nor of shape ``(B,)``.
    """
    batch = images.shape[0]
    if isinstance(value, Tensor):
        if value.ndim == 0:
            return value.to(images.device, dtype).expand(batch)
        if value.shape != (batch,):
            raise InputValueError(
                f"parameter {name!r} has shape {tuple(value.shape)}, expected () or ({batch},) "
                "for this batch; pass one value per sample"
            )
        return value.to(images.device, dtype)
    return torch.full((batch,), float(value), dtype=dtype, device=images.device)


def compute_dtype(images: Tensor) -> torch.dtype:
    """The floating dtype that interpolation runs in: float64 stays, everything else is float32."""
    return torch.float64 if images.dtype == torch.float64 else torch.float32


def restore_dtype(result: Tensor, dtype: torch.dtype) -> Tensor:
    """Cast a floating result back to ``dtype``; integer dtypes are rounded and clamped."""
    if dtype == result.dtype:
        return result
    if dtype.is_floating_point:
        return result.to(dtype)
    if dtype == torch.uint8:
        return result.round_().clamp_(0, 255).to(dtype)
    return result.round_().to(dtype)


def fill_tensor(fill: Scalar | Sequence[Scalar] | Tensor, images: Tensor, dtype: torch.dtype) -> Tensor:
    """A fill value as a tensor broadcastable to ``(B, C, H, W)`` in ``dtype``.

    ``fill`` is in the images' own scale (0-255 for uint8), as in torchvision: a number,
    one number per channel, or a tensor broadcastable to the batch.
    """
    if isinstance(fill, Tensor):
        return fill.to(images.device, dtype)
    if isinstance(fill, (int, float)):
        return torch.tensor(fill, dtype=dtype, device=images.device)
    values = list(fill)
    if len(values) not in (1, images.shape[1]):
        raise InputValueError(
            f"fill has {len(values)} values for {images.shape[1]} channels; pass one value or one per channel"
        )
    return torch.tensor(values, dtype=dtype, device=images.device).view(1, -1, 1, 1)
