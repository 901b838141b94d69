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

With ``"nearest"``, the output equals Pillow's NEAREST transform wherever the source
position is not exactly halfway between two pixels (Pillow floors there, ``warp_affine``
rounds half to even), which never happens for whole-pixel translations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._pixel import checked_param
from augbench.functional._utils import BatchParam, Scalar
from augbench.functional.affine import fill_outside, warp_affine
from augbench.functional.geometry import Interpolation

__all__ = ["shear_x", "shear_y", "translate_x", "translate_y"]

Fill = Union[Scalar, Sequence[Scalar]]


def shear_x(
    images: Tensor,
    factor: BatchParam,
    interpolation: Interpolation = "nearest",
    fill: Fill = 0,
    center: Sequence[float] | None = None,
) -> Tensor:
    """Shear each image horizontally: output ``(x, y)`` reads input ``(x + factor * (y - cy), y)``.

    Pillow's AutoAugment convention (see the module docstring); positive factors slide lower
    rows to the left.

    Args:
        images: ``(B, C, H, W)``; any dtype with ``"nearest"``, uint8 or floating with ``"bilinear"``.
        factor: per-sample shear factor, ``tan(shear angle)``; 0 is the identity (the reference
            range is [-0.3, 0.3], TrivialAugment Wide's [-0.99, 0.99]).
        interpolation: ``"nearest"`` (the reference) or ``"bilinear"``.
        fill: value(s) for pixels sheared in from outside, in the images' scale (the TF
            reference fills 128 grey).
        center: ``(cx, cy)`` in pixels (pixel edges, so ``(W/2, H/2)`` is the image centre) of the
            point the shear keeps fixed; default ``(0, 0)``, the top-left corner.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    return _shear(images, factor, interpolation, fill, center, axis=0, who="shear_x")


def shear_y(
    images: Tensor,
    factor: BatchParam,
    interpolation: Interpolation = "nearest",
    fill: Fill = 0,
    center: Sequence[float] | None = None,
) -> Tensor:
    """Shear each image vertically: output ``(x, y)`` reads input ``(x, y + factor * (x - cx))``.

    Pillow's convention, ``Image.transform(size, AFFINE, (1, 0, 0, factor, 1, 0))`` with the
    default ``center``. Arguments as in :func:`shear_x`.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    return _shear(images, factor, interpolation, fill, center, axis=1, who="shear_y")


def translate_x(images: Tensor, pixels: BatchParam, interpolation: Interpolation = "nearest", fill: Fill = 0) -> Tensor:
    """Move each image's content ``pixels`` to the right (negative: left), torchvision's sign.

    Args:
        images: ``(B, C, H, W)``; any dtype with ``"nearest"``, uint8 or floating with ``"bilinear"``.
        pixels: per-sample shift in pixels; 0 is the identity. Fractional shifts need
            ``"bilinear"`` to move by less than a pixel.
        interpolation: ``"nearest"`` (the reference) or ``"bilinear"``.
        fill: value(s) for the uncovered pixels, in the images' scale.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    return _translate(images, pixels, interpolation, fill, axis=0, who="translate_x")


def translate_y(images: Tensor, pixels: BatchParam, interpolation: Interpolation = "nearest", fill: Fill = 0) -> Tensor:
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
    _check_images(images, interpolation, who)
    factor_t = checked_param(factor, images, "factor", who)
    height, width = images.shape[-2:]
    if center is None:
        center = (0.0, 0.0)
    elif len(center) != 2:
        raise InputValueError(f"{who}: center={center!r} must be a pair (x, y) of pixel coordinates")
    # warp_affine works in coordinates relative to the image centre: with u = X + W/2 (and
    # likewise for y), the input x is X + f * (Y + H/2 - cy), and symmetrically for shear_y.
    half_other = height * 0.5 - center[1] if axis == 0 else width * 0.5 - center[0]
    if interpolation == "nearest":
        # Output (x, y) reads column x + floor(0.5 + f * (y + 0.5 - cy)) of row y (shear_x), the
        # pixel warp_affine's nearest rule picks, as a whole-pixel shift per row (column for
        # shear_y): one small offset table and one gather along a single axis. The offsets are
        # exact (float64) for the given factor, so a source within float32 rounding of a pixel
        # edge goes where Pillow's double-precision transform sends it.
        along = torch.arange(height if axis == 0 else width, device=images.device, dtype=torch.float64)
        offset = torch.floor(0.5 + factor_t.double()[:, None] * (along + (0.5 - (center[1] if axis == 0 else center[0]))))
        return _shift_nearest(images, offset, axis, fill)
    matrix = _identity_matrices(factor_t)
    matrix[:, axis, 1 - axis] = factor_t
    matrix[:, axis, 2] = factor_t * half_other
    return warp_affine(images, matrix, interpolation, fill)


def _translate(images: Tensor, pixels: BatchParam, interpolation: Interpolation, fill: Fill, axis: int, who: str) -> Tensor:
    _check_images(images, interpolation, who)
    shift = checked_param(pixels, images, "pixels", who)
    if interpolation == "nearest":
        # Output x reads column x + floor(0.5 - shift): a whole-pixel shift (warp_affine's rule).
        return _shift_nearest(images, torch.floor(0.5 - shift.double())[:, None], axis, fill)
    matrix = _identity_matrices(shift)
    matrix[:, axis, 2] = -shift
    return warp_affine(images, matrix, interpolation, fill)


def _shift_nearest(images: Tensor, offset: Tensor, axis: int, fill: Fill) -> Tensor:
    """Move pixels along one axis by whole-pixel offsets, filling what comes from outside.

    ``axis`` 0: output ``(b, c, y, x)`` reads input ``(b, c, y, x + offset[b, y])``; ``axis`` 1:
    input ``(b, c, y + offset[b, x], x)``. ``offset`` is ``(B, L)`` whole numbers (floating),
    with ``L`` = H resp. W, or 1 for one offset per sample.
    """
    batch, channels, height, width = images.shape
    size = width if axis == 0 else height
    # |offset| > size reads only fill; clamping keeps the int64 sums small.
    offset = offset.clamp(-size, size).long()
    positions = torch.arange(size, device=images.device)
    if axis == 0:
        source = offset[:, :, None] + positions  # (B, H or 1, W)
    else:
        source = offset[:, None, :] + positions[:, None]  # (B, H, W or 1)
    inside = (source >= 0) & (source < size)
    source = source.clamp_(0, size - 1)
    if axis == 0:
        index = source[:, None].expand(batch, channels, height, width)
        return fill_outside(images.gather(3, index), inside[:, None], fill, images)
    # A gather along H is strided; gathering from the flattened plane keeps the reads and
    # writes contiguous along W.
    flat = (source * width + torch.arange(width, device=images.device)).view(batch, 1, -1)
    gathered = images.reshape(batch, channels, height * width).gather(2, flat.expand(batch, channels, -1))
    return fill_outside(gathered.view(batch, channels, height, width), inside[:, None], fill, images)


def _identity_matrices(param: Tensor) -> Tensor:
    """``(B, 2, 3)`` identity affine matrices in the dtype and device of ``param`` ``(B,)``."""
    return torch.eye(2, 3, dtype=param.dtype, device=param.device).repeat(param.shape[0], 1, 1)


def _check_images(images: Tensor, interpolation: str, who: str) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise InputValueError(f"{who}: expected a (B, C, H, W) tensor, got {shape}; add the batch axis with x[None]")
    if interpolation not in ("nearest", "bilinear"):
        raise InputValueError(f"{who}: interpolation={interpolation!r} is unknown; use 'nearest' or 'bilinear'")
    if interpolation == "bilinear" and not (images.is_floating_point() or images.dtype == torch.uint8):
        raise InputValueError(f"{who}: bilinear needs uint8 or floating images, got {images.dtype}; use 'nearest'")
