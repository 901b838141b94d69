"""Affine warps with per-sample parameters: ``affine`` and ``rotate``.

Signatures and parameter conventions are torchvision's: ``affine`` takes the angle in degrees
clockwise, translation in pixels, a scale factor and shear angles in degrees about the centre;
``rotate`` takes the angle counter-clockwise and can ``expand`` the canvas. Each parameter may be
a number or a ``(B,)`` tensor.

``"nearest"`` follows Pillow exactly, as torchvision's PIL path does: the inverse matrix is
computed in float64 in the operation order of torchvision (``affine``) or Pillow (``rotate``),
and source pixels are found in Pillow's 16.16 fixed-point arithmetic (``affine_fixed``), or with
its accumulated float64 coordinates for matrices without rotation or shear
(``ImagingScaleAffine``). So a warp equals ``Image.transform(..., AFFINE, matrix, NEAREST)``
pixel for pixel; with ``(B,)`` tensor parameters the trigonometric functions are torch's, which
differ from Python's ``math`` in the last bit for ~0.1 % of angles, which can move a pixel only
when its source lies within ~1e-12 px of a pixel edge. ``"bilinear"`` and ``"bicubic"`` sample
with ``grid_sample`` (torch's kernels, as torchvision's tensor path).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from typing import Any, Union

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._leading_dims import leading_dims
from augbench.functional._pixel import checked_param
from augbench.functional._resample import check_geometry_batch, pillow_fix, pillow_positions, scratch
from augbench.functional._utils import BatchParam, Scalar, batch_param, fill_tensor, restore_dtype
from augbench.functional.geometry import Interpolation
from augbench.functional.interpolation import InterpolationMode, interpolation_name
from augbench.native import library, thread_count

__all__ = ["affine", "rotate", "inverse_affine_matrix", "warp_affine"]

PairParam = Sequence[BatchParam]
Fill = Union[Scalar, Sequence[Scalar], None]
Number = Union[float, Tensor]
_WARP_MODES = ("nearest", "bilinear", "bicubic")


def _trig(values: Sequence[Number]) -> tuple[Callable[[Any], Any], ...]:
    """``(cos, sin, tan)`` of Python's ``math`` when every value is a number, else of torch (on
    float64, numbers included)."""
    if all(isinstance(value, float) for value in values):
        return math.cos, math.sin, math.tan
    return tuple(lambda v, f=f: f(torch.as_tensor(v, dtype=torch.float64)) for f in (torch.cos, torch.sin, torch.tan))


def _inverse_matrix(
    angle: Number, translate: tuple[Number, Number], scale: Number, shear: tuple[Number, Number], center: tuple[Number, Number]
) -> list[Number]:
    """torchvision's ``_get_inverse_affine_matrix``, in its operation order, on floats or ``(B,)`` float64 tensors.

    The six entries ``(a, b, c, d, e, f)`` map an output position ``(x, y)`` to the input position
    ``(a x + b y + c, d x + e y + f)``, for the forward map ``T(translate) C R(angle) S(scale)
    Sh_y Sh_x C^-1`` about ``center`` (y down, angles in degrees, clockwise).
    """
    cos, sin, tan = _trig([angle, *translate, scale, *shear, *center])
    rot = angle * (math.pi / 180)
    shear_x, shear_y = shear[0] * (math.pi / 180), shear[1] * (math.pi / 180)
    cos_sy, tan_sx, rot_minus_sy = cos(shear_y), tan(shear_x), rot - shear_y
    cx_plus_tx, cy_plus_ty = center[0] + translate[0], center[1] + translate[1]
    a = cos(rot_minus_sy) / cos_sy
    b = -(a * tan_sx + sin(rot))
    c = sin(rot_minus_sy) / cos_sy
    d = cos(rot) - c * tan_sx
    m0, m1, m3, m4 = d / scale, -b / scale, -c / scale, a / scale
    return [m0, m1, center[0] - m0 * cx_plus_tx - m1 * cy_plus_ty, m3, m4, center[1] - m3 * cx_plus_tx - m4 * cy_plus_ty]


def _stack(entries: Sequence[Number], batch: int, device: torch.device) -> Tensor:
    """Six matrix entries (numbers or ``(batch,)`` tensors) as a ``(batch, 6)`` float64 tensor."""
    columns = [e.to(device).expand(batch) if isinstance(e, Tensor) else torch.full((batch,), e, dtype=torch.float64, device=device) for e in entries]
    return torch.stack(columns, 1)


def inverse_affine_matrix(
    angle: Tensor, translate_x: Tensor, translate_y: Tensor, scale: Tensor, shear_x: Tensor, shear_y: Tensor,
    center_x: Tensor, center_y: Tensor,
) -> Tensor:
    """Per-sample ``(B, 2, 3)`` matrix mapping output coordinates to input coordinates.

    The forward map is ``T(translate) C R(angle) S(scale) Sh_y Sh_x C^-1`` about the centre
    ``C`` (torchvision's convention and operation order; coordinates relative to the image
    centre, y down). All arguments are ``(B,)`` tensors; angles in degrees; the result has
    their (floating) dtype.
    """
    entries = _inverse_matrix(angle, (translate_x, translate_y), scale, (shear_x, shear_y), (center_x, center_y))
    return torch.stack(torch.broadcast_tensors(*entries), -1).view(-1, 2, 3)  # type: ignore[arg-type]


def _param(value: BatchParam, images: Tensor, name: str, who: str, **bounds: Any) -> Number:
    """A checked parameter: a Python float stays a float (exact Python arithmetic), a tensor
    becomes ``(B,)`` float64."""
    checked_param(value, images, name, who, **bounds)
    return batch_param(value, images, name, torch.float64) if isinstance(value, Tensor) else float(value)


def _shear_pair(shear: BatchParam | PairParam, who: str) -> tuple[BatchParam, BatchParam]:
    """torchvision's shear forms: a number (or ``(B,)`` tensor) is ``(shear, 0)``, ``[s]`` is ``(s, s)``."""
    if isinstance(shear, (int, float, Tensor)):
        return shear, 0.0
    values = list(shear) if isinstance(shear, Sequence) else []
    if len(values) == 1:
        return values[0], values[0]
    if len(values) != 2:
        raise InputValueError(f"{who}: shear={shear!r} must be a number, [s] or (shear_x, shear_y) in degrees")
    return values[0], values[1]


def _center(center: Sequence[float] | None, images: Tensor, who: str) -> tuple[float, float]:
    """``(x, y)`` of the warp's fixed point in pixel coordinates (edges: the centre is ``(W/2, H/2)``)."""
    if center is None:
        return images.shape[-1] * 0.5, images.shape[-2] * 0.5
    values = list(center) if isinstance(center, Sequence) else []
    if len(values) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        raise InputValueError(f"{who}: center={center!r} must be (x, y) pixel coordinates or None")
    return float(values[0]), float(values[1])


@leading_dims("angle", "translate", "scale", "shear")
def affine(
    images: Tensor,
    angle: BatchParam,
    translate: PairParam,
    scale: BatchParam,
    shear: BatchParam | PairParam,
    interpolation: Interpolation = InterpolationMode.NEAREST,
    fill: Fill = None,
    center: Sequence[float] | None = None,
) -> Tensor:
    """Warp each image by its own affine transform, keeping the canvas size (torchvision's ``affine``).

    Args:
        images: ``(B, C, H, W)``; uint8 or floating (any dtype with ``"nearest"``); ``B`` may be 0.
        angle: rotation in degrees, clockwise (torchvision's ``affine`` convention).
        translate: ``(tx, ty)`` in pixels, each a number or ``(B,)`` tensor.
        scale: zoom factor (> 0).
        shear: shear angles in degrees: a number (or ``(B,)`` tensor) for an x-shear, ``[s]``
            for ``(s, s)``, or ``(sx, sy)``; each within (-89, 89).
        interpolation: ``"nearest"`` (default: Pillow's NEAREST transform, pixel for pixel),
            ``"bilinear"`` or ``"bicubic"`` (``grid_sample``), as a name,
            :class:`~augbench.functional.InterpolationMode` or Pillow constant.
        fill: value(s) for pixels mapped from outside, in the images' own scale; ``None`` is 0.
        center: ``(x, y)`` pixel coordinates (edges) of the warp's fixed point; default the
            image centre ``(W/2, H/2)``.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """
    check_geometry_batch(images, "affine")
    mode = _warp_mode(images, interpolation, "affine")
    translate = list(translate) if isinstance(translate, Sequence) else []
    if len(translate) != 2:
        raise InputValueError(f"affine: translate must be (tx, ty) in pixels, got {translate!r}")
    shear_x, shear_y = _shear_pair(shear, "affine")
    entries = _inverse_matrix(
        _param(angle, images, "angle", "affine"),
        (_param(translate[0], images, "translate", "affine"), _param(translate[1], images, "translate", "affine")),
        _param(scale, images, "scale", "affine", low=0.0, open_low=True),
        (_param(shear_x, images, "shear", "affine", low=-89.0, high=89.0), _param(shear_y, images, "shear", "affine", low=-89.0, high=89.0)),
        _center(center, images, "affine"),
    )
    return warp_pixels(images, _stack(entries, images.shape[0], images.device), tuple(images.shape[-2:]), mode, fill)  # type: ignore[arg-type]


@leading_dims("angle")
def rotate(
    images: Tensor,
    angle: BatchParam,
    interpolation: Interpolation = InterpolationMode.NEAREST,
    expand: bool = False,
    center: Sequence[float] | None = None,
    fill: Fill = None,
) -> Tensor:
    """Rotate each image by its own angle (degrees, counter-clockwise), torchvision's ``rotate``.

    The inverse matrix is Pillow's ``Image.rotate`` one (``angle % 360``, entries rounded to 15
    decimals), so ``"nearest"`` equals Pillow pixel for pixel, including its exact quarter turns.

    Args:
        images: ``(B, C, H, W)``; uint8 or floating (any dtype with ``"nearest"``); ``B`` may be 0.
        angle: counter-clockwise angle in degrees, a number or ``(B,)`` tensor.
        interpolation: ``"nearest"`` (default), ``"bilinear"`` or ``"bicubic"`` (see :func:`affine`).
        expand: grow the canvas to hold the whole rotated image, its size computed as
            torchvision does. With per-sample angles the batch gets one canvas, the largest any
            sample needs; every sample is rotated about its centre, so a sample whose own
            canvas would be smaller gets a wider border of ``fill``.
        center: ``(x, y)`` pixel coordinates of the rotation centre; default ``(W/2, H/2)``.
        fill: value(s) for pixels from outside the image, in the images' own scale; ``None`` is 0.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, H, W)``, or ``(B, C, H', W')`` with ``expand``; same dtype.
    """
    check_geometry_batch(images, "rotate")
    mode = _warp_mode(images, interpolation, "rotate")
    degrees = _param(angle, images, "angle", "rotate")
    degrees = degrees % 360.0 if isinstance(degrees, float) else _python_mod(degrees, 360.0)
    height, width = images.shape[-2:]
    cx, cy = _center(center, images, "rotate")
    out_size = _expanded_size(degrees, center, images) if expand else (height, width)
    cos, sin, _ = _trig([degrees])
    radians = -(degrees * (math.pi / 180))
    a, b = _round15(cos(radians)), _round15(sin(radians))
    d, e = -b, a  # round(-x, 15) == -round(x, 15)
    c = a * -cx + b * -cy + 0.0 + cx
    f = d * -cx + e * -cy + 0.0 + cy
    if expand:
        shift_x, shift_y = -(out_size[1] - width) / 2.0, -(out_size[0] - height) / 2.0
        c, f = a * shift_x + b * shift_y + c, d * shift_x + e * shift_y + f
    return warp_pixels(images, _stack([a, b, c, d, e, f], images.shape[0], images.device), out_size, mode, fill)


def _python_mod(values: Tensor, modulus: float) -> Tensor:
    """Python's float ``%`` (exact: ``fmod``, then the modulus added to negative remainders)."""
    remainder = torch.fmod(values, modulus)
    return torch.where(remainder < 0, remainder + modulus, remainder)


def _round15(value: Number) -> Number:
    """``round(value, 15)``, as Pillow rounds its rotation matrix (torch's rounding for tensors)."""
    return round(value, 15) if isinstance(value, float) else torch.round(value, decimals=15)


def _expanded_size(degrees: Number, center: Sequence[float] | None, images: Tensor) -> tuple[int, int]:
    """torchvision's canvas size for ``rotate(expand=True)``, the largest over the samples.

    torchvision transforms the corners by its float32 inverse matrix, truncates the extent to
    1e-4 px and takes ``ceil(max) - floor(min)``; this does the same (one host sync). An empty
    ``(0,)`` tensor of angles keeps the input size.
    """
    height, width = images.shape[-2:]
    offset = (0.0, 0.0) if center is None else (center[0] - width * 0.5, center[1] - height * 0.5)
    entries = _inverse_matrix(-degrees, (0.0, 0.0), 1.0, (0.0, 0.0), offset)
    theta = _stack(entries, 1 if isinstance(degrees, float) else images.shape[0], images.device).float().view(-1, 2, 3)
    half_w, half_h = 0.5 * width, 0.5 * height
    corners = torch.tensor([[-half_w, -half_h, 1.0], [-half_w, half_h, 1.0], [half_w, half_h, 1.0], [half_w, -half_h, 1.0]], device=images.device)
    points = corners @ theta.transpose(1, 2)  # (B, 4, 2)
    halves = torch.tensor([half_w, half_h], device=images.device)
    high = (points.amax(1) + halves).mul_(10000.0).trunc_().mul_(1e-4).ceil_()
    low = (points.amin(1) + halves).mul_(10000.0).trunc_().mul_(1e-4).floor_()
    size = (high - low).amax(0) if theta.shape[0] else torch.tensor([float(width), float(height)])
    return int(size[1]), int(size[0])


def _warp_mode(images: Tensor, interpolation: Interpolation, who: str) -> str:
    mode = interpolation_name(interpolation, who, _WARP_MODES)
    if mode != "nearest" and not (images.is_floating_point() or images.dtype == torch.uint8):
        raise InputValueError(f"{who}: {mode} interpolation needs uint8 or floating images, got {images.dtype}; use 'nearest'")
    return mode


@leading_dims(matrix=2)
def warp_affine(images: Tensor, matrix: Tensor, interpolation: Interpolation, fill: Fill = None) -> Tensor:
    """Resample ``images`` at ``matrix @ (x, y, 1)`` for every output pixel, keeping the canvas.

    Args:
        images: ``(B, C, H, W)``.
        matrix: ``(B, 2, 3)`` map from output to input coordinates, both relative to the
            image centre in pixels (torchvision's tensor convention).
        interpolation: ``"nearest"`` (exact for any dtype, Pillow's rule), ``"bilinear"`` or ``"bicubic"``.
        fill: value(s) outside the input, in the images' own scale (``None``: 0); bilinear and
            bicubic blend the border with it.
    """
    check_geometry_batch(images, "warp_affine")
    mode = _warp_mode(images, interpolation, "warp_affine")
    height, width = images.shape[-2:]
    m = matrix.double().reshape(-1, 6)
    shift_x = m[:, 2] + width * 0.5 - m[:, 0] * (width * 0.5) - m[:, 1] * (height * 0.5)
    shift_y = m[:, 5] + height * 0.5 - m[:, 3] * (width * 0.5) - m[:, 4] * (height * 0.5)
    pixels = torch.stack([m[:, 0], m[:, 1], shift_x, m[:, 3], m[:, 4], shift_y], 1)
    return warp_pixels(images, pixels, (height, width), mode, fill)


def warp_pixels(images: Tensor, matrix: Tensor, out_size: tuple[int, int], mode: str, fill: Fill) -> Tensor:
    """Resample ``images`` onto an ``out_size`` canvas through a Pillow-convention affine matrix.

    Args:
        images: ``(B, C, H, W)``.
        matrix: ``(B, 6)`` float64 ``(a, b, c, d, e, f)``: output pixel centre ``(x + 0.5, y + 0.5)``
            reads the input at ``(a x' + b y' + c, d x' + e y' + f)`` in pixel coordinates whose
            origin is the top-left corner of the top-left pixel (Pillow's AFFINE data).
        out_size: ``(height, width)`` of the output.
        mode: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        fill: value(s) for sources outside the image, in the images' scale (``None``: 0).

    Returns:
        ``(B, C, out_size[0], out_size[1])``, same dtype.
    """
    fill = 0 if fill is None else fill
    if images.shape[0] == 0:
        return images.new_empty((0, images.shape[1], *out_size))
    if mode == "nearest":
        return _warp_nearest(images, matrix, out_size, fill)
    return _warp_smooth(images, matrix, out_size, mode, fill)


_ONE = 65536
"""1.0 in Pillow's 16.16 fixed point."""


def _nearest_tables(matrix: Tensor, out_size: tuple[int, int], in_size: tuple[int, int]) -> tuple[list[Tensor], bool]:
    """Per-sample tables whose sums give Pillow's NEAREST source pixel, in 16.16 fixed point.

    Returns ``[column_by_row, column_by_column, row_by_row, row_by_column]``, ``(B, H_out)`` and
    ``(B, W_out)`` int64 such that output ``(x, y)`` reads column
    ``(column_by_row[y] + column_by_column[x]) >> 16`` and row ``(row_by_row[y] +
    row_by_column[x]) >> 16``, and whether every such sum fits in int32. Pillow's
    ``affine_fixed`` is exactly that; its ``ImagingScaleAffine`` (matrices with ``b = d = 0``)
    accumulates float64 coordinates per column and row, which fits the same form with the
    accumulated pixels times 65536.
    """
    out_height, out_width = out_size
    height, width = in_size
    a, b, c, d, e, f = matrix.unbind(1)
    # FIX of a, b, d, e and of the offsets c + a/2 + b/2, f + d/2 + e/2 (Pillow's order), at once
    fixed = pillow_fix(torch.stack([a, b, d, e, c + a * 0.5 + b * 0.5, f + d * 0.5 + e * 0.5], 1))
    ys = torch.arange(out_height, device=matrix.device)
    xs = torch.arange(out_width, device=matrix.device)
    tables = [fixed[:, 4:5] + ys * fixed[:, 1:2], xs * fixed[:, 0:1], fixed[:, 5:6] + ys * fixed[:, 3:4], xs * fixed[:, 2:3]]
    scaling = ((b == 0) & (d == 0))[:, None]
    # The largest entries and whether any sample merely scales, in one host sync.
    *largest, any_scaling = torch.cat([fixed.abs().amax(0), scaling.any().view(1)]).tolist() if fixed.shape[0] else [0] * 7
    bound = max(largest[4] + out_height * largest[1] + out_width * largest[0], largest[5] + out_height * largest[3] + out_width * largest[2])
    fits = bound < 2**31 - _ONE and max(height, width) < 2**14
    if not any_scaling:
        return tables, fits
    columns = pillow_positions(c + a * 0.5, a, out_width).clamp_(-1, width).long() * _ONE
    rows = pillow_positions(f + e * 0.5, e, out_height).clamp_(-1, height).long() * _ONE
    by_scaling = [torch.zeros_like(tables[0]), columns, rows, torch.zeros_like(tables[3])]
    return [torch.where(scaling, scaled, table) for scaled, table in zip(by_scaling, tables)], fits


def _warp_nearest(images: Tensor, matrix: Tensor, out_size: tuple[int, int], fill: Scalar | Sequence[Scalar]) -> Tensor:
    """Pillow's NEAREST affine transform of every sample: one gather from the image framed by fill.

    Sources outside the image are clamped onto a one-pixel border of fill around it, so one
    gather gives image and fill values alike. Exact for any dtype. The fixed-point sums run in
    int32 (5x faster than int64 on the CPU) unless they could overflow it; the temporaries
    live in reused buffers on the CPU.
    """
    batch, channels, height, width = images.shape
    per_channel_fill = not isinstance(fill, Tensor) or fill.numel() in (1, channels)
    small = height * width < 2**31 and out_size[0] * out_size[1] < 2**31  # int32 offsets in the C kernel
    compiled = library("warp") if images.device.type == "cpu" and images.element_size() in (1, 2, 4, 8) and small else None
    result = _warp_nearest_compiled(compiled, images, matrix, out_size, fill) if compiled is not None and per_channel_fill else None
    if result is not None:
        return result
    tables, fits = _nearest_tables(matrix, out_size, (height, width))
    dtype = torch.int32 if fits else torch.int64
    col = _fixed_sum(images, tables[0], tables[1], dtype, "warp_columns").clamp_(-1, width).add_(1)
    row = _fixed_sum(images, tables[2], tables[3], dtype, "warp_rows").clamp_(-1, height).add_(1)
    flat = scratch(images, "warp_index", (batch, 1, out_size[0] * out_size[1]), torch.int64)
    flat.view(row.shape).copy_(row.mul_(width + 2).add_(col))
    framed = _framed(images, fill).view(batch, channels, -1)
    return framed.gather(2, flat.expand(batch, channels, -1)).view(batch, channels, *out_size)


def _warp_nearest_compiled(
    compiled: ctypes.CDLL, images: Tensor, matrix: Tensor, out_size: tuple[int, int], fill: Scalar | Sequence[Scalar]
) -> Tensor | None:
    """:func:`_warp_nearest` by ``augbench/native/warp.c``: the tables of :func:`_nearest_tables`
    built per sample in C from the float64 matrices (the same float64 and integer operations, the
    sums in int64, which equal the int32 ones wherever those fit) and the same element copies, so
    the same values; the samples shared out over threads (:func:`augbench.native.thread_count`).
    ``None`` if it ran out of memory."""
    images = images.contiguous()
    batch, channels, height, width = images.shape
    matrices = matrix.to(torch.float64).contiguous()
    fill_values = fill_tensor(fill, images, images.dtype).reshape(-1).expand(channels).contiguous()
    out = torch.empty((batch, channels, *out_size), dtype=images.dtype)
    status = compiled.warp_nearest_matrix(
        images.data_ptr(), images.element_size(), batch, channels, height, width, matrices.data_ptr(),
        *out_size, fill_values.data_ptr(), out.data_ptr(), thread_count(out.numel() * out.element_size()),
    )
    return out if status == 0 else None


def _fixed_sum(images: Tensor, by_row: Tensor, by_column: Tensor, dtype: torch.dtype, name: str) -> Tensor:
    """``(by_row[:, y] + by_column[:, x]) >> 16`` for every output pixel: ``(B, H_out, W_out)`` in
    ``dtype``, in the scratch buffer ``name``."""
    out = scratch(images, name, (by_row.shape[0], by_row.shape[1], by_column.shape[1]), dtype)
    return torch.add(by_row.to(dtype)[:, :, None], by_column.to(dtype)[:, None, :], out=out).bitwise_right_shift_(16)


def _warp_smooth(images: Tensor, matrix: Tensor, out_size: tuple[int, int], mode: str, fill: Scalar | Sequence[Scalar]) -> Tensor:
    """Bilinear or bicubic warp with ``grid_sample``; the border blends with ``fill`` (uint8 rounded)."""
    batch, _, height, width = images.shape
    dtype = images.dtype if images.is_floating_point() else torch.float32
    out_height, out_width = out_size
    ys = torch.arange(out_height, device=images.device, dtype=dtype) + 0.5
    xs = torch.arange(out_width, device=images.device, dtype=dtype) + 0.5
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1), torch.ones_like(grid_x).reshape(-1)], -1)
    # grid_sample works in [-1, 1] with align_corners=False: x_norm = 2 x / width - 1, folded
    # into the matrix so that one product gives the grid.
    normalised = matrix.view(batch, 2, 3) * torch.tensor([2.0 / width, 2.0 / height], dtype=matrix.dtype, device=matrix.device)[:, None]
    normalised[:, :, 2] -= 1.0
    grid = (points @ normalised.to(dtype).transpose(1, 2)).view(batch, out_height, out_width, 2)
    fill_value = fill_tensor(fill, images, dtype)
    # Sampling (x - fill) with zero padding, then adding fill back, blends the border with fill.
    shifted = images.to(dtype) - fill_value
    result = nnf.grid_sample(shifted, grid, mode=mode, padding_mode="zeros", align_corners=False) + fill_value
    if mode == "bicubic":
        result = result.clamp_(0, 255 if images.dtype == torch.uint8 else 1)
    return restore_dtype(result, images.dtype)


def _framed(images: Tensor, fill: Scalar | Sequence[Scalar] | Tensor) -> Tensor:
    """``(B, C, H + 2, W + 2)``: the images inside a one-pixel border of ``fill`` (images' scale)."""
    batch, channels, height, width = images.shape
    framed = scratch(images, "warp_framed", (batch, channels, height + 2, width + 2), images.dtype)
    fill_t = fill_tensor(fill, images, images.dtype)
    framed.copy_((fill_t.reshape(1, -1, 1, 1) if fill_t.numel() > 1 else fill_t.reshape(())).expand_as(framed))
    framed[:, :, 1:-1, 1:-1] = images
    return framed


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
