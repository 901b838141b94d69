"""Geometric kernels on ``(B, C, H, W)`` batches: flips, crops and resizes.

Names and semantics follow ``torchvision.transforms.v2.functional``; every box parameter may be
a Python number (same for all samples) or a ``(B,)`` tensor (one value per sample), and a whole
batch is processed by a few batched gathers, never a Python loop over samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Union

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._resample import (
    gather_cols,
    gather_rows,
    interpolation_matrix,
    linear_taps,
    nearest_taps,
    resample_matmul,
)
from augbench.functional._utils import BatchParam, Scalar, batch_param, compute_dtype, fill_tensor, restore_dtype

__all__ = ["hflip", "vflip", "crop", "resized_crop", "resize", "Interpolation", "PaddingMode"]

Interpolation = Literal["nearest", "bilinear"]
PaddingMode = Literal["constant", "edge", "reflect", "symmetric"]
Size = Union[int, Sequence[int]]


def hflip(images: Tensor) -> Tensor:
    """Mirror left-right. ``(B, C, H, W)`` any dtype -> same shape and dtype."""
    return images.flip(-1)


def vflip(images: Tensor) -> Tensor:
    """Mirror top-bottom. ``(B, C, H, W)`` any dtype -> same shape and dtype."""
    return images.flip(-2)


def _pair(size: Size, name: str) -> tuple[int, int]:
    if isinstance(size, int):
        pair = (size, size)
    else:
        pair = tuple(int(s) for s in size)
        if len(pair) == 1:
            pair = (pair[0], pair[0])
    if len(pair) != 2 or min(pair) < 1:
        raise InputValueError(f"{name}={size!r} must be a positive int or (height, width); e.g. {name}=32")
    return pair  # type: ignore[return-value]


def _map_outside(index: Tensor, size: int, mode: PaddingMode) -> Tensor:
    """Map indices outside ``[0, size)`` back inside, as the padding mode would."""
    if mode in ("constant", "edge"):
        return index.clamp(0, size - 1)
    if mode == "reflect":  # ... 2 1 | 0 1 2 ... (edge pixel not repeated)
        period = max(2 * size - 2, 1)
        folded = index.remainder(period)
        return torch.where(folded >= size, period - folded, folded)
    period = 2 * size  # symmetric: ... 1 0 | 0 1 ... (edge pixel repeated)
    folded = index.remainder(period)
    return torch.where(folded >= size, period - 1 - folded, folded)


def crop(
    images: Tensor,
    top: BatchParam,
    left: BatchParam,
    height: int,
    width: int,
    *,
    padding_mode: PaddingMode = "constant",
    fill: Scalar | Sequence[Scalar] = 0,
) -> Tensor:
    """Cut a ``height x width`` window at a per-sample position.

    Windows may reach outside the image; the outside is filled as ``padding_mode`` says
    (``"constant"`` writes ``fill``, as torchvision's ``crop`` does with zeros).

    Args:
        images: ``(B, C, H, W)`` batch of any dtype.
        top: row of the window's top-left corner, a number or ``(B,)`` integer tensor.
        left: column of the window's top-left corner, a number or ``(B,)`` integer tensor.
        height: window height in pixels, the same for every sample.
        width: window width in pixels.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.
        fill: value(s) outside the image for ``"constant"``, in the images' own scale.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, height, width)``, same dtype.
    """
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise InputValueError(
            f"padding_mode={padding_mode!r} is unknown; use 'constant', 'edge', 'reflect' or 'symmetric'"
        )
    height, width = _pair((height, width), "size")
    in_height, in_width = images.shape[-2:]
    rows = batch_param(top, images, "top", torch.int64)[:, None] + torch.arange(height, device=images.device)
    cols = batch_param(left, images, "left", torch.int64)[:, None] + torch.arange(width, device=images.device)
    result = gather_cols(gather_rows(images, _map_outside(rows, in_height, padding_mode)), _map_outside(cols, in_width, padding_mode))
    if padding_mode != "constant":
        return result
    inside = ((rows >= 0) & (rows < in_height))[:, None, :, None] & ((cols >= 0) & (cols < in_width))[:, None, None, :]
    return torch.where(inside, result, fill_tensor(fill, images, images.dtype))


def resized_crop(
    images: Tensor,
    top: BatchParam,
    left: BatchParam,
    height: BatchParam,
    width: BatchParam,
    size: Size,
    interpolation: Interpolation = "bilinear",
    antialias: bool = True,
) -> Tensor:
    """Crop a per-sample box and resize it to ``size``, all samples in one batched call.

    Equivalent to torchvision's ``resized_crop`` (crop, then resize with edge clamping at the
    box border) for boxes inside the image; every box may differ in position and size. Bilinear
    uses the triangle filter, widened when downsampling with ``antialias=True`` (PIL's and
    torch's antialias convention); ``"nearest"`` takes the pixel containing each output
    pixel's centre and keeps integer dtypes exact (use it for masks).

    Args:
        images: ``(B, C, H, W)``; uint8, floating, or an integer dtype with ``"nearest"``.
        top, left: box corner in pixels, numbers or ``(B,)`` tensors.
        height, width: box size in pixels (> 0), numbers or ``(B,)`` tensors.
        size: output ``(height, width)`` or an int for a square.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        antialias: low-pass when downsampling (bilinear only).

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, size[0], size[1])``, same dtype (uint8 is rounded).
    """
    out_height, out_width = _pair(size, "size")
    in_height, in_width = images.shape[-2:]
    dtype = compute_dtype(images)
    top_t = batch_param(top, images, "top", dtype)
    left_t = batch_param(left, images, "left", dtype)
    height_t = batch_param(height, images, "height", dtype)
    width_t = batch_param(width, images, "width", dtype)
    if interpolation == "nearest":
        rows = nearest_taps(top_t, height_t, out_height, in_height)
        cols = nearest_taps(left_t, width_t, out_width, in_width)
        return gather_cols(gather_rows(images, rows), cols)
    if interpolation != "bilinear":
        raise InputValueError(f"interpolation={interpolation!r} is unknown; use 'bilinear' or 'nearest'")
    if not (images.is_floating_point() or images.dtype == torch.uint8):
        raise InputValueError(f"bilinear resampling needs uint8 or floating images, got {images.dtype}; use 'nearest'")
    if _use_native_loop(images, top_t, left_t, height_t, width_t):
        return _resized_crop_native(images, top_t, left_t, height_t, width_t, (out_height, out_width), antialias)
    row_taps, row_weights = linear_taps(top_t, height_t, out_height, in_height, antialias, dtype)
    col_taps, col_weights = linear_taps(left_t, width_t, out_width, in_width, antialias, dtype)
    rows = interpolation_matrix(row_taps, row_weights, in_height)
    cols = interpolation_matrix(col_taps, col_weights, in_width)
    return restore_dtype(resample_matmul(images, rows, cols), images.dtype)


_NATIVE_LOOP_MIN_SIDE = 48


def _use_native_loop(images: Tensor, *box: Tensor) -> bool:
    """Whether a per-sample call of torch's native resize beats the batched matrix products.

    Measured on a 2-core x86 CPU (torch 2.13, uint8, 3 channels, images/s batched vs
    per-sample): 32 px 88k vs 43k, 64 px 10k vs 29k, 128 px 2.3k vs 12.6k, 224 px 0.56k vs
    5.6k. The matrix products cost O(side^3) per image, the native kernel O(side^2) plus a
    fixed ~20 us call, so on the CPU images wider than 48 px take the loop, which needs
    integer boxes. On a GPU the batched path is always used.
    """
    if images.device.type != "cpu" or max(images.shape[-2:]) < _NATIVE_LOOP_MIN_SIDE:
        return False
    return all(bool((value == value.round()).all()) for value in box)


def _resized_crop_native(
    images: Tensor, top: Tensor, left: Tensor, height: Tensor, width: Tensor, size: tuple[int, int], antialias: bool
) -> Tensor:
    """Per-sample crop views resized by torch's native bilinear kernel (see ``_use_native_loop``)."""
    result = images.new_empty(images.shape[:2] + size)
    boxes = torch.stack([top, left, height, width], 1).long().tolist()
    for index, (box_top, box_left, box_height, box_width) in enumerate(boxes):
        window = images[index : index + 1, :, box_top : box_top + box_height, box_left : box_left + box_width]
        result[index] = nnf.interpolate(window, size=size, mode="bilinear", antialias=antialias, align_corners=False)[0]
    return result


def resize(
    images: Tensor, size: Size, interpolation: Interpolation = "bilinear", antialias: bool = True
) -> Tensor:
    """Resize every image to ``size`` (``(height, width)`` or an int for a square).

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, size[0], size[1])``, same dtype.
    """
    in_height, in_width = images.shape[-2:]
    return resized_crop(images, 0, 0, in_height, in_width, size, interpolation, antialias)
