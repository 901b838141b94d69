"""Input validation at the public boundary: one-line errors that name the fix.

Checks run before any torch kernel, so a user mistake never surfaces as a shape error deep
inside torch. The only check that reads the data is the value-range check of floating
images (one fused min/max pass); uint8 batches are checked from metadata alone.
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = ["IMAGE", "MASK", "TARGETS", "check_batch", "check_kernel_batch", "check_target", "check_batch_param"]

IMAGE = "image"
MASK = "mask"
TARGETS = (IMAGE, MASK)
_MAX_CHANNELS = 4


def check_target(target: str, who: str) -> None:
    """Raise unless ``target`` is one of ``"image"`` or ``"mask"``."""
    if target not in TARGETS:
        raise InputValueError(f"{who}: unknown target {target!r}; use one of {TARGETS}")


def check_batch(images: object, who: str, target: str = IMAGE, *, allow_empty: bool = False) -> Tensor:
    """Validate a batch and return it.

    Images must be ``(B, C, H, W)`` with ``B >= 1`` (``B >= 0`` with ``allow_empty``),
    ``1 <= C <= 4``, dtype ``uint8`` (0-255) or floating (finite, in [0, 1]). Masks must be
    ``(B, C, H, W)`` of an integer or bool dtype.

    Args:
        images: the tensor to check.
        who: the name of the calling op, used in the message.
        target: ``"image"`` or ``"mask"``.
        allow_empty: accept a batch of zero images (transforms and mixers return it empty).

    Raises:
        InputTypeError: not a tensor, or a dtype the target does not accept.
        InputValueError: wrong number of dimensions, empty batch (unless ``allow_empty``),
            implausible channel count, NaN/inf or floating values outside [0, 1].
    """
    check_target(target, who)
    if not isinstance(images, Tensor):
        raise InputTypeError(
            f"{who}: expected a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}; "
            "convert with torch.as_tensor(...)"
        )
    if images.ndim != 4:
        fix = "add the batch axis with x.unsqueeze(0)" if images.ndim == 3 else "reshape it to (B, C, H, W)"
        raise InputValueError(
            f"{who}: expected a 4-D {target} batch (B, C, H, W), got shape {tuple(images.shape)}; {fix}"
        )
    batch, channels, height, width = images.shape
    if batch == 0 and not allow_empty:
        raise InputValueError(f"{who}: empty batch (B=0); pass at least one {target}")
    if height == 0 or width == 0:
        raise InputValueError(f"{who}: {target}s have zero size {height}x{width}; pass non-empty images")
    if target == MASK:
        if images.is_floating_point() or images.is_complex():
            raise InputTypeError(
                f"{who}: masks must have an integer or bool dtype, got {images.dtype}; "
                "convert with mask.long()"
            )
        return images
    if channels == 0 or channels > _MAX_CHANNELS:
        fix = (
            "it looks channels-last; use x.permute(0, 3, 1, 2)"
            if width <= _MAX_CHANNELS
            else f"pass 1 to {_MAX_CHANNELS} channels"
        )
        raise InputValueError(f"{who}: expected 1 to {_MAX_CHANNELS} channels, got shape {tuple(images.shape)}; {fix}")
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise InputTypeError(
            f"{who}: images must be uint8 (0-255) or floating (0-1), got {images.dtype}; "
            "convert with x.to(torch.uint8) or x.float() / 255"
        )
    if batch == 0:
        return images  # no values to check
    low, high = torch.aminmax(images)
    low_value, high_value = float(low), float(high)
    if low_value != low_value or high_value != high_value:
        raise InputValueError(f"{who}: images contain NaN; clean the batch, e.g. x.nan_to_num(0.0)")
    if abs(low_value) == float("inf") or abs(high_value) == float("inf"):
        raise InputValueError(f"{who}: images contain inf; clamp them to [0, 1] with x.clamp(0, 1)")
    if low_value < 0.0 or high_value > 1.0:
        raise InputValueError(
            f"{who}: floating images must lie in [0, 1], got values in [{low_value:.4g}, {high_value:.4g}]; "
            "augment before normalising, or divide uint8 data by 255"
        )
    return images


def check_kernel_batch(images: object, who: str) -> Tensor:
    """The cheap structural checks of kernel inputs: a 4-D tensor with a non-empty batch.

    Kernels in :mod:`augbench.functional` run inside policies many times per batch, so they
    check only metadata (no pass over the pixels); :func:`check_batch` at the transform
    boundary also checks values.
    """
    if not isinstance(images, Tensor):
        raise InputTypeError(f"{who}: expected a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.ndim != 4:
        fix = "add the batch axis with x.unsqueeze(0)" if images.ndim == 3 else "reshape it to (B, C, H, W)"
        raise InputValueError(f"{who}: expected a 4-D batch (B, C, H, W), got shape {tuple(images.shape)}; {fix}")
    if 0 in images.shape:
        raise InputValueError(f"{who}: empty batch or image, shape {tuple(images.shape)}; pass at least one non-empty image")
    return images


def check_batch_param(value: Tensor, batch_size: int, name: str, who: str) -> Tensor:
    """Check that a per-sample parameter tensor has leading size ``batch_size``."""
    if value.ndim == 0:
        return value
    if value.shape[0] != batch_size:
        raise InputValueError(
            f"{who}: param {name!r} has {value.shape[0]} entries for a batch of {batch_size}; "
            "replay params only on a batch of the size they were sampled for"
        )
    return value
