"""Axis-aligned shears and translations of AutoAugment / RandAugment, on ``warp_affine``.

Conventions:

* ``shear_x``/``shear_y`` take the shear *factor* (the tangent of the shear angle) and, by
  default, fix the top-left corner, as the Pillow reference does:
  ``Image.transform(size, AFFINE, (1, factor, 0, 0, 1, 0))`` for ``shear_x``, i.e. the output
  pixel at ``(x, y)`` reads the input at ``(x + factor * y, y)``. torchvision's AutoAugment
  gets the same result with ``affine(shear=degrees(atan(factor)), center=[0, 0])``.
* ``translate_x``/``translate_y`` take pixels and follow torchvision's ``affine``: positive
  values move the content right/down. Pillow's AFFINE data has the opposite sign
  (``(1, 0, -pixels, 0, 1, 0)`` is ``translate_x(pixels)``); the reference policies draw a random sign.

With ``"nearest"``, the output equals Pillow's NEAREST transform pixel for pixel: shears find
their source pixels in Pillow's 16.16 fixed point (``affine_fixed``), translations with its
float64 coordinates accumulated one pixel at a time (``ImagingScaleAffine``), both from the
float64 factor or shift.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._leading_dims import leading_dims
from augbench.functional._pixel import checked_param
from augbench.functional._resample import check_geometry_batch, pillow_fix, pillow_positions
from augbench.functional._utils import BatchParam, Scalar, batch_param, fill_tensor
from augbench.functional.affine import fill_outside, warp_affine
from augbench.functional.geometry import Interpolation
from augbench.functional.interpolation import interpolation_name
from augbench.native import library, thread_count

__all__ = ["shear_x", "shear_y", "translate_x", "translate_y"]

Fill = Union[Scalar, Sequence[Scalar], None]


@leading_dims("factor")
def shear_x(
    images: Tensor,
    factor: BatchParam,
    interpolation: Interpolation = "nearest",
    fill: Fill = None,
    center: Sequence[float] | None = None,
) -> Tensor:
    """Shear each image horizontally: output ``(x, y)`` reads input ``(x + factor * (y - cy), y)``.

    Pillow's AutoAugment convention (see the module docstring); positive factors slide lower
    rows to the left.

    Args:
        images: ``(B, C, H, W)``; any dtype with ``"nearest"``, uint8 or floating otherwise; ``B`` may be 0.
        factor: per-sample shear factor, ``tan(shear angle)``; 0 is the identity (the reference
            range is [-0.3, 0.3], TrivialAugment Wide's [-0.99, 0.99]).
        interpolation: ``"nearest"`` (the reference), ``"bilinear"`` or ``"bicubic"`` (``grid_sample``),
            as a name or :class:`~augbench.functional.InterpolationMode`.
        fill: value(s) for pixels sheared in from outside, in the images' scale (the TF
            reference fills 128 grey).
        center: ``(cx, cy)`` in pixels (pixel edges, so ``(W/2, H/2)`` is the image centre) of the
            point the shear keeps fixed; default ``(0, 0)``, the top-left corner.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    return _shear(images, factor, interpolation, fill, center, axis=0, who="shear_x")


@leading_dims("factor")
def shear_y(
    images: Tensor,
    factor: BatchParam,
    interpolation: Interpolation = "nearest",
    fill: Fill = None,
    center: Sequence[float] | None = None,
) -> Tensor:
    """Shear each image vertically: output ``(x, y)`` reads input ``(x, y + factor * (x - cx))``.

    Pillow's convention, ``Image.transform(size, AFFINE, (1, 0, 0, factor, 1, 0))`` with the
    default ``center``. Arguments as in :func:`shear_x`.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    return _shear(images, factor, interpolation, fill, center, axis=1, who="shear_y")


@leading_dims("pixels")
def translate_x(images: Tensor, pixels: BatchParam, interpolation: Interpolation = "nearest", fill: Fill = None) -> Tensor:
    """Move each image's content ``pixels`` to the right (negative: left), torchvision's sign.

    Args:
        images: ``(B, C, H, W)``; any dtype with ``"nearest"``, uint8 or floating otherwise; ``B`` may be 0.
        pixels: per-sample shift in pixels; 0 is the identity. Fractional shifts need
            ``"bilinear"`` to move by less than a pixel.
        interpolation: ``"nearest"`` (the reference), ``"bilinear"`` or ``"bicubic"`` (``grid_sample``),
            as a name or :class:`~augbench.functional.InterpolationMode`.
        fill: value(s) for the uncovered pixels, in the images' scale; ``None`` is 0.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    return _translate(images, pixels, interpolation, fill, axis=0, who="translate_x")


@leading_dims("pixels")
def translate_y(images: Tensor, pixels: BatchParam, interpolation: Interpolation = "nearest", fill: Fill = None) -> Tensor:
    """Move each image's content ``pixels`` down (negative: up), torchvision's sign. See :func:`translate_x`.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    return _translate(images, pixels, interpolation, fill, axis=1, who="translate_y")


def _shear(
    images: Tensor,
    factor: BatchParam,
    interpolation: Interpolation,
    fill: Fill,
    center: Sequence[float] | None,
    axis: int,
    who: str,
) -> Tensor:
    mode = _check_images(images, interpolation, who)
    factor_t = checked_param(factor, images, "factor", who)
    fill = 0 if fill is None else fill
    height, width = images.shape[-2:]
    if center is None:
        center = (0.0, 0.0)
    elif len(center) != 2:
        raise InputValueError(f"{who}: center={center!r} must be a pair (x, y) of pixel coordinates")
    if mode == "nearest":
        return _shift_nearest(images, *_shear_sources(images, factor, center, axis), axis, fill)
    # warp_affine works in coordinates relative to the image centre: with u = X + W/2 (and
    # likewise for y), the input x is X + f * (Y + H/2 - cy), and symmetrically for shear_y.
    half_other = height * 0.5 - center[1] if axis == 0 else width * 0.5 - center[0]
    matrix = _identity_matrices(factor_t)
    matrix[:, axis, 1 - axis] = factor_t
    matrix[:, axis, 2] = factor_t * half_other
    return warp_affine(images, matrix, mode, fill)


def _shear_sources(images: Tensor, factor: BatchParam, center: Sequence[float], axis: int) -> Tensor:
    """Source column (``shear_x``) or row (``shear_y``) of every output pixel, as Pillow finds it.

    Pillow's AFFINE data ``(1, f, -f cy, 0, 1, 0)`` (``shear_x``) goes through ``affine_fixed``:
    output ``(x, y)`` reads column ``x + (FIX(-f cy + 0.5 + f / 2) + y FIX(f)) >> 16``, with
    ``FIX(v) = floor(65536 v + 0.5)``; ``shear_y``'s ``(1, 0, 0, f, 1, -f cx)`` reads row
    ``y + (FIX(-f cx + f / 2 + 0.5) + x FIX(f)) >> 16`` (Pillow adds the halves in this order).

    Returns:
        ``(line, position)``, int64: the source of output ``(x, y)`` is ``line[b, y] +
        position[b, x]`` for ``shear_x`` (columns), ``line[b, x] + position[b, y]`` for ``shear_y``
        (rows); ``line`` is the offset above, ``position`` the output's own column (row).
    """
    factor_d = batch_param(factor, images, "factor", torch.float64)
    shift = -(factor_d * center[1 - axis])
    start = (shift + 0.5) + factor_d * 0.5 if axis == 0 else (shift + factor_d * 0.5) + 0.5
    along = torch.arange(images.shape[-2] if axis == 0 else images.shape[-1], device=images.device)
    offset = (pillow_fix(start)[:, None] + along * pillow_fix(factor_d)[:, None]).bitwise_right_shift_(16)
    size = images.shape[-1] if axis == 0 else images.shape[-2]
    return offset, torch.arange(size, device=images.device).expand(offset.shape[0], size)


def _translate(images: Tensor, pixels: BatchParam, interpolation: Interpolation, fill: Fill, axis: int, who: str) -> Tensor:
    mode = _check_images(images, interpolation, who)
    shift = checked_param(pixels, images, "pixels", who)
    fill = 0 if fill is None else fill
    if mode == "nearest":
        # Pillow's data (1, 0, -t, 0, 1, 0) has no rotation or shear: ImagingScaleAffine reads
        # column floor(-t + 0.5 + x), the sum accumulated one column at a time in float64.
        shift_d = batch_param(pixels, images, "pixels", torch.float64)
        size = images.shape[-1] if axis == 0 else images.shape[-2]
        sources = pillow_positions(0.5 - shift_d, torch.ones_like(shift_d), size).clamp_(-1, size).long()
        lines = images.shape[-2] if axis == 0 else images.shape[-1]
        return _shift_nearest(images, sources.new_zeros(sources.shape[0], lines), sources, axis, fill)
    matrix = _identity_matrices(shift)
    matrix[:, axis, 2] = -shift
    return warp_affine(images, matrix, mode, fill)


def _shift_nearest(images: Tensor, line: Tensor, position: Tensor, axis: int, fill: Fill) -> Tensor:
    """Gather each output pixel from its source along one axis, filling what comes from outside.

    ``axis`` 0: output ``(b, c, y, x)`` reads input ``(b, c, y, line[b, y] + position[b, x])``;
    ``axis`` 1: input ``(b, c, line[b, x] + position[b, y], x)``. ``line`` and ``position`` are
    int64 ``(B, lines)`` and ``(B, size)``. On the CPU, ``augbench/native/warp.c`` does it from
    the same sources (the same values, any dtype); elsewhere torch gathers.
    """
    batch, channels, height, width = images.shape
    compiled = library("warp") if images.device.type == "cpu" and images.element_size() in (1, 2, 4, 8) else None
    if compiled is not None and not isinstance(fill, Tensor) and height * width < 2**31:
        return _shift_nearest_compiled(compiled, images, line, position, axis, fill)
    size = width if axis == 0 else height
    source = line[:, :, None] + position[:, None, :] if axis == 0 else line[:, None, :] + position[:, :, None]
    inside = (source >= 0) & (source < size)
    source = source.clamp_(0, size - 1).expand(batch, height, width)
    if axis == 0:
        index = source[:, None].expand(batch, channels, height, width)
        return fill_outside(images.gather(3, index), inside[:, None], fill, images)
    # A gather along H is strided; gathering from the flattened plane keeps the reads and
    # writes contiguous along W.
    flat = (source * width + torch.arange(width, device=images.device)).view(batch, 1, height * width)
    gathered = images.reshape(batch, channels, height * width).gather(2, flat.expand(batch, channels, -1))
    return fill_outside(gathered.view(batch, channels, height, width), inside[:, None], fill, images)


def _shift_nearest_compiled(
    compiled: ctypes.CDLL, images: Tensor, line: Tensor, position: Tensor, axis: int, fill: Fill
) -> Tensor:
    """:func:`_shift_nearest` as the warp tables of ``warp.c``: 16.16 fixed-point sums whose
    whole parts are the sources (``line + position``), the other axis the identity."""
    batch, channels, height, width = images.shape
    fixed_line, fixed_position = line << 16, position << 16
    identity = (torch.arange(height if axis == 0 else width) << 16).expand(batch, -1)
    zeros = line.new_zeros(batch, height if axis == 1 else width).expand(batch, -1)
    if axis == 0:  # columns move: column = line[y] + position[x], row = y
        tables = [fixed_line, fixed_position, identity, zeros]
    else:  # rows move: row = position[y] + line[x], column = x
        tables = [zeros, identity, fixed_position, fixed_line]
    column_by_row, column_by_column, row_by_row, row_by_column = (table.contiguous() for table in tables)
    images = images.contiguous()
    fill_values = fill_tensor(fill, images, images.dtype).reshape(-1).expand(channels).contiguous()
    out = torch.empty_like(images)
    status = compiled.warp_nearest(
        images.data_ptr(), images.element_size(), batch, channels, height, width,
        column_by_row.data_ptr(), column_by_column.data_ptr(), row_by_row.data_ptr(), row_by_column.data_ptr(),
        height, width, fill_values.data_ptr(), out.data_ptr(), thread_count(out.numel() * out.element_size()),
    )
    if status != 0:
        raise MemoryError("warp.c: out of memory for one sample's offsets")
    return out


def _identity_matrices(param: Tensor) -> Tensor:
    """``(B, 2, 3)`` identity affine matrices in the dtype and device of ``param`` ``(B,)``."""
    return torch.eye(2, 3, dtype=param.dtype, device=param.device).repeat(param.shape[0], 1, 1)


def _check_images(images: Tensor, interpolation: Interpolation, who: str) -> str:
    """The interpolation's name, after checking the batch (``B`` may be 0) and the dtype."""
    check_geometry_batch(images, who)
    mode = interpolation_name(interpolation, who, ("nearest", "bilinear", "bicubic"))
    if mode != "nearest" and not (images.is_floating_point() or images.dtype == torch.uint8):
        raise InputValueError(f"{who}: {mode} needs uint8 or floating images, got {images.dtype}; use 'nearest'")
    return mode
