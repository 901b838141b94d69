"""Affine warps with per-sample parameters: ``affine`` and ``rotate``.

Parameter conventions are torchvision's: ``affine`` takes the angle in degrees clockwise,
translation in pixels, a scale factor and shear angles in degrees about the image centre;
``rotate`` takes the angle counter-clockwise. Each may be a number or a ``(B,)`` tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.checks import check_kernel_batch
from augbench.errors import InputValueError
from augbench.functional._pixel import checked_param
from augbench.functional._utils import BatchParam, Scalar, fill_tensor, restore_dtype
from augbench.functional.geometry import Interpolation

__all__ = ["affine", "rotate", "inverse_affine_matrix"]

PairParam = Sequence[BatchParam]


def inverse_affine_matrix(
    angle: Tensor, translate_x: Tensor, translate_y: Tensor, scale: Tensor, shear_x: Tensor, shear_y: Tensor,
    center_x: Tensor, center_y: Tensor,
) -> Tensor:
    """Per-sample ``(B, 2, 3)`` matrix mapping output pixel coordinates to input coordinates.

    The forward map is ``T(translate) C R(angle) S(scale) Sh_y Sh_x C^-1`` about the centre
    ``C`` (torchvision's convention; coordinates relative to the image centre, y down). All
    arguments are ``(B,)`` tensors; angles in degrees.
    """
    rot = torch.deg2rad(angle)
    sx = torch.deg2rad(shear_x)
    sy = torch.deg2rad(shear_y)
    cos_sy = torch.cos(sy)
    a = torch.cos(rot - sy) / cos_sy
    b = -torch.cos(rot - sy) * torch.tan(sx) / cos_sy - torch.sin(rot)
    c = torch.sin(rot - sy) / cos_sy
    d = -torch.sin(rot - sy) * torch.tan(sx) / cos_sy + torch.cos(rot)
    # The linear part has determinant 1 before scaling, so its inverse is the adjugate / scale.
    linear = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / scale[:, None, None]
    shift = torch.stack([center_x + translate_x, center_y + translate_y], -1)  # (B, 2)
    offset = torch.stack([center_x, center_y], -1) - (linear @ shift[..., None])[..., 0]
    return torch.cat([linear, offset[..., None]], -1)


def affine(
    images: Tensor,
    angle: BatchParam,
    translate: PairParam,
    scale: BatchParam,
    shear: PairParam,
    interpolation: Interpolation = "nearest",
    fill: Scalar | Sequence[Scalar] = 0,
    center: Sequence[float] | None = None,
) -> Tensor:
    """Warp each image by its own affine transform, keeping the canvas size.

    Args:
        images: ``(B, C, H, W)``; uint8 or floating (any integer dtype with ``"nearest"``).
        angle: rotation in degrees, clockwise (torchvision's ``affine`` convention).
        translate: ``(tx, ty)`` in pixels, each a number or ``(B,)`` tensor.
        scale: zoom factor (> 0).
        shear: ``(sx, sy)`` shear angles in degrees.
        interpolation: ``"nearest"`` (default, as torchvision) or ``"bilinear"``.
        fill: value(s) for pixels mapped from outside the image, in the images' own scale.
        center: ``(x, y)`` pixel coordinates of the centre of the warp; default the image centre.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    if len(translate) != 2 or len(shear) != 2:
        raise InputValueError(
            f"translate and shear take two values (x, y), got translate={translate!r}, shear={shear!r}"
        )
    check_kernel_batch(images, "affine")
    _check_interpolation(images, interpolation, "affine")
    _, _, height, width = images.shape
    scale_t = checked_param(scale, images, "scale", "affine", low=0.0, open_low=True)
    centre = (0.0, 0.0) if center is None else (center[0] - width * 0.5, center[1] - height * 0.5)
    matrix = inverse_affine_matrix(
        checked_param(angle, images, "angle", "affine"),
        checked_param(translate[0], images, "translate", "affine"),
        checked_param(translate[1], images, "translate", "affine"),
        scale_t,
        checked_param(shear[0], images, "shear", "affine", low=-89.0, high=89.0),
        checked_param(shear[1], images, "shear", "affine", low=-89.0, high=89.0),
        torch.full_like(scale_t, centre[0]),
        torch.full_like(scale_t, centre[1]),
    )
    return warp_affine(images, matrix, interpolation, fill)


def rotate(
    images: Tensor,
    angle: BatchParam,
    interpolation: Interpolation = "nearest",
    fill: Scalar | Sequence[Scalar] = 0,
    center: Sequence[float] | None = None,
) -> Tensor:
    """Rotate each image by its own angle (degrees, counter-clockwise) about ``center``.

    The canvas size is kept (torchvision's ``expand=False``). Shape: ``(B, C, H, W)`` -> same.
    """
    check_kernel_batch(images, "rotate")
    angle_t = checked_param(angle, images, "angle", "rotate")
    if center is not None:
        return affine(images, -angle_t, (0.0, 0.0), 1.0, (0.0, 0.0), interpolation, fill, center)
    _check_interpolation(images, interpolation, "rotate")
    # inverse_affine_matrix(-angle, 0, 0, 1, 0, 0, 0, 0) without the shear, scale and offset
    # terms, which are exact no-ops there: [[cos r, sin r, 0], [-sin r, cos r, 0]], r = -angle.
    rot = torch.deg2rad(-angle_t)
    cos, sin = torch.cos(rot), torch.sin(rot)
    zero = torch.zeros_like(rot)
    matrix = torch.stack([torch.stack([cos, sin, zero], -1), torch.stack([-sin, cos, zero], -1)], -2)
    return warp_affine(images, matrix, interpolation, fill)


def _check_interpolation(images: Tensor, interpolation: str, who: str) -> None:
    if interpolation not in ("nearest", "bilinear"):
        raise InputValueError(f"{who}: interpolation={interpolation!r} is unknown; use 'bilinear' or 'nearest'")
    if interpolation == "bilinear" and not (images.is_floating_point() or images.dtype == torch.uint8):
        raise InputValueError(
            f"{who}: bilinear interpolation needs uint8 or floating images, got {images.dtype}; use 'nearest'"
        )


def warp_affine(
    images: Tensor, matrix: Tensor, interpolation: Interpolation, fill: Scalar | Sequence[Scalar] = 0
) -> Tensor:
    """Resample ``images`` at ``matrix @ (x, y, 1)`` for every output pixel.

    Args:
        images: ``(B, C, H, W)``.
        matrix: ``(B, 2, 3)`` map from output to input coordinates, both relative to the
            image centre in pixels.
        interpolation: ``"nearest"`` (exact for any dtype) or ``"bilinear"``.
        fill: value(s) outside the input, in the images' own scale; bilinear blends the border.
    """
    batch, channels, height, width = images.shape
    dtype = matrix.dtype
    ys = torch.arange(height, device=images.device, dtype=dtype) + 0.5 - height * 0.5
    xs = torch.arange(width, device=images.device, dtype=dtype) + 0.5 - width * 0.5
    if interpolation == "nearest":
        # The pixel whose area contains the source point (Pillow's convention: halfway points
        # go to the pixel on the right/below, where torch.round would round half to even).
        # Source coordinates x * m0 + y * m1 + m2 by broadcasting (B, 1, W) and (B, H, 1) terms.
        # Sources outside the image are clamped onto a one-pixel border of fill around it, so
        # one gather gives image and fill values alike (no inside mask to build and apply).
        col = _source_axis(matrix[:, 0], xs, ys).add_(width * 0.5).floor_().clamp_(-1, width).add_(1)
        row = _source_axis(matrix[:, 1], xs, ys).add_(height * 0.5).floor_().clamp_(-1, height).add_(1)
        flat = row.mul_(width + 2).add_(col).long().view(batch, 1, height * width)
        framed = _framed(images, fill).view(batch, channels, -1)
        return framed.gather(2, flat.expand(batch, channels, -1)).view(batch, channels, height, width)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1), torch.ones(height * width, device=images.device, dtype=dtype)], -1)
    source = points @ matrix.transpose(1, 2)  # (B, H*W, 2), centred pixel coordinates
    # grid_sample works in [-1, 1] with align_corners=False: x_norm = 2 * x_centred / width.
    grid = (source / torch.tensor([width * 0.5, height * 0.5], device=images.device, dtype=dtype)).reshape(batch, height, width, 2)
    fill_value = fill_tensor(fill, images, dtype)
    # Sampling (x - fill) with zero padding, then adding fill back, blends the border with fill.
    shifted = images.to(dtype) - fill_value
    result = nnf.grid_sample(shifted, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill_value
    return restore_dtype(result, images.dtype)


def _framed(images: Tensor, fill: Scalar | Sequence[Scalar] | Tensor) -> Tensor:
    """``(B, C, H + 2, W + 2)``: the images inside a one-pixel border of ``fill`` (images' scale)."""
    batch, channels, height, width = images.shape
    framed = images.new_empty((batch, channels, height + 2, width + 2))
    framed[:, :, 1:-1, 1:-1] = images
    fill_t = fill_tensor(fill, images, images.dtype)
    fill_t = fill_t.reshape(1, -1, 1) if fill_t.numel() > 1 else fill_t.reshape(())
    framed[:, :, 0] = fill_t
    framed[:, :, -1] = fill_t
    framed[:, :, 1:-1, 0] = fill_t
    framed[:, :, 1:-1, -1] = fill_t
    return framed


def _source_axis(coefficients: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """``(B, H, W)`` values of ``a x + b y + c`` for rows ``(a, b, c)`` of ``coefficients`` ``(B, 3)``."""
    return torch.add((coefficients[:, 0:1] * xs)[:, None, :], (coefficients[:, 1:2] * ys)[:, :, None]).add_(coefficients[:, 2, None, None])


def fill_outside(result: Tensor, inside: Tensor, fill: Scalar | Sequence[Scalar] | Tensor, images: Tensor) -> Tensor:
    """``result`` where ``inside`` (a bool mask broadcastable to it), ``fill`` elsewhere; in place.

    Same values as ``torch.where(inside, result, fill)``, but as a multiply by the mask (and
    an add of the fill where it is not zero), which is several times faster on the CPU.
    ``fill`` is in the images' own scale and dtype (one value, or one per channel).
    """
    result.mul_(inside)
    if _is_zero(fill):
        return result
    fill_t = fill_tensor(fill, images, images.dtype).reshape((1, -1) + (1,) * (result.ndim - 2))
    return result.add_(inside.logical_not() * fill_t)


def _is_zero(fill: Scalar | Sequence[Scalar] | Tensor) -> bool:
    """Whether ``fill`` is known to be all zeros without a device sync (CPU tensors are checked)."""
    if isinstance(fill, Tensor):
        return fill.device.type == "cpu" and not bool(fill.any())
    if isinstance(fill, (int, float)):
        return fill == 0
    return all(value == 0 for value in fill)
