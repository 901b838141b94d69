"""Erasing kernel: overwrite a per-sample rectangle with a value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._leading_dims import leading_dims
from augbench.functional._resample import check_geometry_batch
from augbench.functional._utils import BatchParam, Scalar, batch_param, fill_tensor

__all__ = ["erase", "box_mask"]

EraseValue = Union[Scalar, Sequence[Scalar], Tensor]


@leading_dims("top", "left", "height", "width")
def box_mask(images: Tensor, top: BatchParam, left: BatchParam, height: BatchParam, width: BatchParam) -> Tensor:
    """Boolean ``(B, 1, H, W)`` mask, True inside each sample's box ``[top, top+height) x [left, left+width)``."""
    rows = torch.arange(images.shape[-2], device=images.device)
    cols = torch.arange(images.shape[-1], device=images.device)
    top_t = batch_param(top, images, "top", torch.int64)[:, None]
    left_t = batch_param(left, images, "left", torch.int64)[:, None]
    in_rows = (rows >= top_t) & (rows < top_t + batch_param(height, images, "height", torch.int64)[:, None])
    in_cols = (cols >= left_t) & (cols < left_t + batch_param(width, images, "width", torch.int64)[:, None])
    return in_rows[:, None, :, None] & in_cols[:, None, None, :]


@leading_dims("i", "j", "h", "w")
def erase(
    images: Tensor,
    i: BatchParam,
    j: BatchParam,
    h: BatchParam,
    w: BatchParam,
    v: EraseValue,
    inplace: bool = False,
) -> Tensor:
    """Write ``v`` into the box ``[i, i+h) x [j, j+w)`` of each image (torchvision's ``erase``).

    Args:
        images: ``(B, C, H, W)`` of any dtype; ``B`` may be 0.
        i, j: top row and left column, numbers or ``(B,)`` integer tensors.
        h, w: box height and width in pixels (0 leaves the sample unchanged); parts of a box
            outside the image are dropped.
        v: the value, in the images' own scale: a number or one per channel; a tensor shaped
            like the box, ``(C, h, w)``, ``(B, C, h, w)`` or broadcastable to them (``(C, 1, 1)``),
            as torchvision's ``RandomErasing`` passes it (needs one ``h`` and ``w`` for all
            samples); or a tensor broadcastable to the whole batch ``(B, C, H, W)``, read at each
            pixel's own position (e.g. per-pixel noise).
        inplace: write into ``images`` and return it, as torchvision does.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype; a new tensor unless ``inplace``.
    """
    check_geometry_batch(images, "erase")
    mask = box_mask(images, i, j, h, w)
    value = _box_value(v, images, i, j, h, w) if _is_box_shaped(v, images, h, w) else fill_tensor(v, images, images.dtype)
    if inplace:
        return torch.where(mask, value, images, out=images)
    return torch.where(mask, value, images)


def _is_box_shaped(v: EraseValue, images: Tensor, h: BatchParam, w: BatchParam) -> bool:
    """Whether ``v`` is a tensor laid out like the box (its last two dims ``(h, w)``, not ``(H, W)``)."""
    if not isinstance(v, Tensor) or v.ndim < 2 or v.shape[-2:] == images.shape[-2:]:
        return False
    return not (isinstance(h, Tensor) or isinstance(w, Tensor)) and tuple(v.shape[-2:]) == (int(h), int(w))


def _box_value(v: Tensor, images: Tensor, i: BatchParam, j: BatchParam, h: BatchParam, w: BatchParam) -> Tensor:
    """A box-shaped value ``(..., C, h, w)`` placed at each sample's box: ``(B, C, H, W)``."""
    batch, channels, height, width = images.shape
    value_channels = v.shape[-3] if v.ndim >= 3 else 1
    if v.ndim > 4 or value_channels not in (1, channels) or (v.ndim == 4 and v.shape[0] not in (1, batch)):
        raise InputValueError(
            f"erase: v has shape {tuple(v.shape)} for {channels}-channel images and boxes of {int(h)}x{int(w)}; "
            f"pass ({channels}, {int(h)}, {int(w)}), ({batch}, {channels}, {int(h)}, {int(w)}) or a per-channel value"
        )
    box = v.to(images.device, images.dtype).expand(batch, channels, int(h), int(w))
    rows = (torch.arange(height, device=images.device) - batch_param(i, images, "i", torch.int64)[:, None]).clamp_(0, int(h) - 1)
    cols = (torch.arange(width, device=images.device) - batch_param(j, images, "j", torch.int64)[:, None]).clamp_(0, int(w) - 1)
    gathered = box.gather(2, rows[:, None, :, None].expand(batch, channels, height, int(w)))
    return gathered.gather(3, cols[:, None, None, :].expand(batch, channels, height, width))
