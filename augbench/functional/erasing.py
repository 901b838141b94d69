"""Erasing kernel: overwrite a per-sample rectangle with a value."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from augbench.checks import check_kernel_batch
from augbench.functional._utils import BatchParam, Scalar, batch_param, fill_tensor

__all__ = ["erase", "box_mask"]


def box_mask(images: Tensor, top: BatchParam, left: BatchParam, height: BatchParam, width: BatchParam) -> Tensor:
    """Boolean ``(B, 1, H, W)`` mask, True inside each sample's box ``[top, top+height) x [left, left+width)``."""
    rows = torch.arange(images.shape[-2], device=images.device)
    cols = torch.arange(images.shape[-1], device=images.device)
    top_t = batch_param(top, images, "top", torch.int64)[:, None]
    left_t = batch_param(left, images, "left", torch.int64)[:, None]
    in_rows = (rows >= top_t) & (rows < top_t + batch_param(height, images, "height", torch.int64)[:, None])
    in_cols = (cols >= left_t) & (cols < left_t + batch_param(width, images, "width", torch.int64)[:, None])
    return in_rows[:, None, :, None] & in_cols[:, None, None, :]


def erase(
    images: Tensor,
    i: BatchParam,
    j: BatchParam,
    h: BatchParam,
    w: BatchParam,
    v: Scalar | Sequence[Scalar] | Tensor,
) -> Tensor:
    """Write ``v`` into the box ``[i, i+h) x [j, j+w)`` of each image (torchvision's ``erase``).

    Args:
        images: ``(B, C, H, W)`` of any dtype.
        i, j: top row and left column, numbers or ``(B,)`` integer tensors.
        h, w: box height and width in pixels (0 leaves the sample unchanged).
        v: the value, in the images' own scale: a number, one per channel, or a tensor
            broadcastable to ``(B, C, H, W)`` (e.g. per-pixel noise).

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype; a new tensor (the input is not modified).
    """
    check_kernel_batch(images, "erase")
    mask = box_mask(images, i, j, h, w)
    return torch.where(mask, fill_tensor(v, images, images.dtype), images)
