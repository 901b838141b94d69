"""Cutout: erase a square of a given side centred on a per-sample pixel (DeVries & Taylor, 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor

from augbench.functional._leading_dims import leading_dims
from augbench.functional._pixel import checked_param
from augbench.functional._resample import check_geometry_batch
from augbench.functional._utils import BatchParam, Scalar
from augbench.functional.erasing import erase

__all__ = ["cutout"]


@leading_dims("center_y", "center_x", "size")
def cutout(
    images: Tensor,
    center_y: BatchParam,
    center_x: BatchParam,
    size: BatchParam,
    fill: Union[Scalar, Sequence[Scalar], Tensor] = 0,
) -> Tensor:
    """Fill a ``size x size`` square centred on ``(center_y, center_x)``, clipped at the image border.

    The square covers rows ``[center_y - size // 2, center_y - size // 2 + size)`` and the same
    for columns, so parts outside the image are simply dropped (the Cutout paper's convention;
    its reference code loses one row and column for odd sizes, this kernel does not). The TF
    AutoAugment ``cutout(pad_size)`` op is ``size = 2 * pad_size``. Built on :func:`erase`.

    Args:
        images: ``(B, C, H, W)`` of any dtype; ``B`` may be 0.
        center_y, center_x: per-sample centre pixel (whole numbers, may lie outside the image).
        size: per-sample side length in pixels, a whole number >= 0 (0 leaves the image unchanged).
        fill: value(s) written into the square, in the images' own scale (the paper: 0 after
            normalisation; TF AutoAugment: 128 grey).

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype; a new tensor.
    """
    check_geometry_batch(images, "cutout")
    side = checked_param(size, images, "size", "cutout", low=0.0, integral=True).round().to(torch.int64)
    top = checked_param(center_y, images, "center_y", "cutout", integral=True).round().to(torch.int64) - side // 2
    left = checked_param(center_x, images, "center_x", "cutout", integral=True).round().to(torch.int64) - side // 2
    return erase(images, top, left, side, side, fill)
