"""Kernels of random field augmentations: smooth per-pixel parameter fields, local affine warps and
local HSV colour changes (Mansfield et al., "Random Field Augmentations for Self-Supervised
Representation Learning", arXiv 2311.03629, PMLR v228).

A transformation parameter (rotation angle, scale, shear, shift, hue, saturation, value) becomes
a field over the pixels: ``phi(x, y) = identity + sigma * f(x, y)``, ``f`` a unit-variance
Gaussian random field of correlation length ``length_scale``. Long length scales give the global
transform (``f`` constant per image), short ones local warps and recolouring.

:func:`gaussian_random_field` turns white noise into ``f`` (deterministic, so a draw replays);
:func:`local_affine` warps every output pixel by the affine map of its own parameters;
:func:`local_color` shifts hue and scales saturation and value pixel by pixel. All work on the
whole batch at once (no loop over samples).
"""

from __future__ import annotations

import functools
import math
from typing import Union

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._pixel import check_channels, image_max
from augbench.functional._resample import check_geometry_batch
from augbench.functional._utils import compute_dtype, restore_dtype
from augbench.functional.color import adjust_hue
from augbench.functional.interpolation import InterpolationArg, interpolation_name

__all__ = ["PADDING_MODES", "correlation_factor", "field_noise_shape", "gaussian_random_field", "local_affine", "local_color"]

PADDING_MODES = ("zeros", "border", "reflection")
"""``grid_sample``'s padding modes: fill 0, repeat the edge pixel, mirror about the image edge."""

_WARP_MODES = ("nearest", "bilinear", "bicubic")

Number = Union[float, Tensor]
"""A per-pixel field, or a Python number where a parameter has no field."""


_VARIANCE_KEPT = 1.0 - 1e-6
"""Fraction of a field's variance its Karhunen-Loeve modes must carry (the rest is dropped)."""


@functools.lru_cache(maxsize=64)
def _factor(size: int, length_scale: float) -> Tensor:
    """:func:`correlation_factor`, computed (float64, CPU) once per ``(size, length_scale)``."""
    if math.isinf(length_scale):  # all-ones correlation: one mode, constant over the axis
        return torch.ones(size, 1, dtype=torch.float64)
    offsets = torch.arange(size, dtype=torch.float64)
    correlation = torch.exp(-((offsets[:, None] - offsets[None, :]) ** 2) / (4.0 * length_scale**2))
    eigenvalues, eigenvectors = torch.linalg.eigh(correlation)  # ascending
    eigenvalues, eigenvectors = eigenvalues.flip(0).clamp(min=0.0), eigenvectors.flip(1)
    modes = int((eigenvalues.cumsum(0) < _VARIANCE_KEPT * size).sum()) + 1
    factor = eigenvectors[:, :modes] * eigenvalues[:modes].sqrt()
    return factor / factor.norm(dim=1, keepdim=True)  # exactly unit variance at every pixel


def correlation_factor(size: int, length_scale: float) -> Tensor:
    """``L`` (``(size, r)`` float64) with ``L @ L.T ~= C``, ``C[i, j] = exp(-(i - j)^2 / (4 length_scale^2))``.

    ``C`` is the correlation, along one axis, of white noise blurred with a Gaussian of standard
    deviation ``length_scale`` pixels on the unbounded plane and divided by its standard
    deviation. ``L`` holds its leading eigenvectors scaled by the square roots of their
    eigenvalues (the Karhunen-Loeve expansion), as many (``r``) as carry all but 1e-6 of the
    variance, with rows rescaled to unit norm: ``L @ z`` for ``r`` standard normals is the field
    along the axis, of variance exactly 1 at every pixel, without the boundary bias of blurring
    a padded noise image. Smooth fields need few modes (32 pixels: 32 at ``length_scale`` 1,
    20 at 2, 7 at 8); ``length_scale = inf`` gives one, a column of ones (the field is one
    normal number). Cached per ``(size, length_scale)``.

    Args:
        size: number of pixels along the axis (>= 1).
        length_scale: Gaussian blur standard deviation in pixels, > 0 or ``math.inf``.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputValueError(f"correlation_factor: size={size!r} must be a positive int")
    if isinstance(length_scale, bool) or not isinstance(length_scale, (int, float)) or not length_scale > 0:
        raise InputValueError(f"correlation_factor: length_scale={length_scale!r} must be a number > 0 (pixels) or math.inf")
    return _factor(size, float(length_scale)).clone()


def field_noise_shape(size: tuple[int, int], length_scale: float) -> tuple[int, int]:
    """``(r_H, r_W)``: the white noise :func:`gaussian_random_field` takes for fields of ``size = (H, W)``."""
    return correlation_factor(size[0], length_scale).shape[1], correlation_factor(size[1], length_scale).shape[1]


def gaussian_random_field(noise: Tensor, length_scale: float, size: tuple[int, int]) -> Tensor:
    """Unit-variance Gaussian random fields from white noise: ``L_H @ noise @ L_W.T`` per field.

    Each ``(r_H, r_W)`` slice of ``noise`` (i.i.d. standard normal, the shape from
    :func:`field_noise_shape`) becomes an ``(H, W)`` field whose correlation between pixels
    ``(dy, dx)`` apart is ``exp(-(dx^2 + dy^2) / (4 length_scale^2))`` (to 1e-6): the law of white
    noise blurred with a Gaussian of standard deviation ``length_scale`` and normalised to unit
    standard deviation, sampled through the separable correlation's Karhunen-Loeve factors
    (:func:`correlation_factor`). The variance is 1 at every pixel for every length scale, so a
    field's amplitude is set by the factor it is multiplied with alone; ``length_scale = inf``
    gives one constant per field.

    Args:
        noise: ``(..., r_H, r_W)`` floating standard normal noise.
        length_scale: correlation length in pixels, > 0 or ``math.inf``.
        size: ``(H, W)`` of the fields.

    Shape:
        ``(..., r_H, r_W)`` -> ``(..., H, W)``, same dtype.
    """
    rows, cols = (correlation_factor(side, length_scale) for side in size)
    expected = (rows.shape[1], cols.shape[1])
    if not isinstance(noise, Tensor) or noise.ndim < 2 or not noise.is_floating_point() or tuple(noise.shape[-2:]) != expected:
        got = f"{noise.dtype} of shape {tuple(noise.shape)}" if isinstance(noise, Tensor) else type(noise).__name__
        raise InputValueError(
            f"gaussian_random_field: noise must be a floating (..., {expected[0]}, {expected[1]}) tensor for {tuple(size)} "
            f"fields at length_scale={length_scale} (field_noise_shape), got {got}"
        )
    return rows.to(noise.device, noise.dtype) @ noise @ cols.to(noise.device, noise.dtype).T


def _field(value: Tensor | None, images: Tensor, name: str, who: str) -> Tensor | None:
    """A ``(B, H, W)`` field for ``images``, or ``None``; one-line error for another shape."""
    if value is None:
        return None
    expected = (images.shape[0], *images.shape[-2:])
    if not isinstance(value, Tensor) or tuple(value.shape) != expected:
        got = f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
        raise InputValueError(f"{who}: {name} must be a {expected} field, one value per pixel of each image, got {got}")
    return value


def _inverse_linear(angle: Number, scale: Number, shear_x: Number, shear_y: Number) -> tuple[Number, Number, Number, Number]:
    """The linear part ``(m0, m1, m3, m4)`` of :func:`augbench.functional.inverse_affine_matrix`, per pixel.

    The same formula (torchvision's ``_get_inverse_affine_matrix``, in its operation order), on
    ``(B, H, W)`` fields in the images' compute dtype: ``inverse_affine_matrix`` works in float64,
    ~8x slower for a matrix per pixel. Parameters without a field are Python numbers (their
    identity value), which skips their trigonometry.
    """
    cos, sin, tan = (
        (lambda value, f=f, g=g: f(value) if isinstance(value, Tensor) else g(value))
        for f, g in ((torch.cos, math.cos), (torch.sin, math.sin), (torch.tan, math.tan))
    )
    rot = angle * (math.pi / 180)
    shear_x, shear_y = shear_x * (math.pi / 180), shear_y * (math.pi / 180)
    cos_sy, tan_sx, rot_minus_sy = cos(shear_y), tan(shear_x), rot - shear_y
    a = cos(rot_minus_sy) / cos_sy
    b = -(a * tan_sx + sin(rot))
    c = sin(rot_minus_sy) / cos_sy
    d = cos(rot) - c * tan_sx
    return d / scale, -b / scale, -c / scale, a / scale


def local_affine(
    images: Tensor,
    angle: Tensor | None = None,
    translate: tuple[Tensor | None, Tensor | None] = (None, None),
    scale: Tensor | None = None,
    shear: tuple[Tensor | None, Tensor | None] = (None, None),
    interpolation: InterpolationArg = "bilinear",
    padding_mode: str = "zeros",
) -> Tensor:
    """Warp every output pixel by the affine map of its own parameters (a random field warp).

    Output pixel ``p`` reads the input at ``A(p)^-1 (p - c - t(p)) + c``, where ``A(p)`` is the
    rotation / scale / shear of :func:`augbench.functional.affine` (torchvision's convention and
    operation order, the formula of :func:`augbench.functional.inverse_affine_matrix`) with the
    parameters at ``p``, ``t(p)`` the shift at ``p`` and ``c`` the image centre. Fields that are
    constant over an image give the matrix of ``affine`` with those values, so the warp is then
    ``affine(..., interpolation="bilinear")`` up to float32 rounding of the grid (``affine``
    builds its matrix in float64). Sampling is one ``grid_sample`` for the batch
    (``align_corners=False``); the grid is computed in the images' compute dtype (float32,
    float64 for float64 images and for integer masks).

    Args:
        images: ``(B, C, H, W)``; uint8 (0-255), floating, or an integer/bool mask with
            ``"nearest"``; ``B`` may be 0.
        angle: ``(B, H, W)`` rotation in degrees, clockwise; ``None`` is 0.
        translate: ``(tx, ty)`` ``(B, H, W)`` shifts in pixels (``None``: 0).
        scale: ``(B, H, W)`` zoom factors (> 0); ``None`` is 1.
        shear: ``(sx, sy)`` ``(B, H, W)`` shear angles in degrees, within (-90, 90) (``None``: 0).
        interpolation: ``"nearest"``, ``"bilinear"`` (default) or ``"bicubic"``.
        padding_mode: sources outside the image read ``"zeros"`` (default), the ``"border"``
            pixel, or the image mirrored about its edge (``"reflection"``).

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype (floats clipped to [0, 1] after bicubic).
    """
    check_geometry_batch(images, "local_affine")
    mode = interpolation_name(interpolation, "local_affine", _WARP_MODES)
    if padding_mode not in PADDING_MODES:
        raise InputValueError(f"local_affine: padding_mode={padding_mode!r} is unknown; use one of {PADDING_MODES}")
    if mode != "nearest" and not (images.is_floating_point() or images.dtype == torch.uint8):
        raise InputValueError(f"local_affine: {mode} interpolation needs uint8 or floating images, got {images.dtype}; use 'nearest'")
    fields = [
        _field(value, images, name, "local_affine")
        for value, name in zip((angle, *translate, scale, *shear), ("angle", "translate[0]", "translate[1]", "scale", "shear[0]", "shear[1]"))
    ]
    batch, _, height, width = images.shape
    if batch == 0:
        return images.clone()
    dtype = compute_dtype(images) if images.is_floating_point() or images.dtype == torch.uint8 else torch.float64
    angle, shift_x, shift_y, scale, shear_x, shear_y = (
        identity if field is None else field.to(images.device, dtype)
        for field, identity in zip(fields, (0.0, 0.0, 0.0, 1.0, 0.0, 0.0))
    )
    m0, m1, m3, m4 = _inverse_linear(angle, scale, shear_x, shear_y)
    # Output pixel centres relative to the centre, minus the shift: p - c - t(p).
    u = (torch.arange(width, device=images.device, dtype=dtype) + (0.5 - width * 0.5)) - shift_x
    v = (torch.arange(height, device=images.device, dtype=dtype)[:, None] + (0.5 - height * 0.5)) - shift_y
    # Source c + A^-1 (p - c - t) in grid_sample's [-1, 1] (align_corners=False: x_norm = 2 x / W - 1),
    # where the centre c maps to 0.
    grid = torch.stack(
        torch.broadcast_tensors((m0 * u + m1 * v) * (2.0 / width), (m3 * u + m4 * v) * (2.0 / height)), -1
    ).expand(batch, height, width, 2)
    result = nnf.grid_sample(images.to(dtype), grid, mode=mode, padding_mode=padding_mode, align_corners=False)
    if mode == "bicubic" and images.is_floating_point():
        result = result.clamp_(0.0, 1.0)
    return restore_dtype(result, images.dtype)


def local_color(
    images: Tensor, hue: Tensor | None = None, saturation: Tensor | None = None, value: Tensor | None = None
) -> Tensor:
    """Change hue, saturation and value pixel by pixel, in HSV.

    At each pixel the hue turns by ``hue`` (turns, any real: 1 is a full turn), saturation and
    value are multiplied by ``saturation`` and ``value`` and clipped to [0, 1] (HSV's own range,
    so a bright pixel saturates as a whole instead of channel by channel). The hue rotation is
    :func:`augbench.functional.adjust_hue` with every pixel as its own sample; saturation and
    value scale the RGB values directly (``V - (V - rgb) * s`` and ``rgb * v`` keep the other two
    HSV coordinates), which is exactly the HSV round trip. Grey images get ``value`` only (hue
    and saturation are identities on them).

    Args:
        images: ``(B, C, H, W)`` uint8 (0-255) or floating (0-1); ``C`` is 1 or 3 when ``hue``
            or ``saturation`` is given, any count for ``value`` alone (``V`` = the channel maximum).
        hue: ``(B, H, W)`` shift in turns, or ``None``.
        saturation: ``(B, H, W)`` factors >= 0 (0 gives grey), or ``None``.
        value: ``(B, H, W)`` factors >= 0 (0 gives black), or ``None``.

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype; uint8 is rounded once at the end.
    """
    white = image_max(images, "local_color")
    hue, saturation, value = (
        _field(field, images, name, "local_color") for field, name in ((hue, "hue"), (saturation, "saturation"), (value, "value"))
    )
    if hue is not None or saturation is not None:
        check_channels(images, "local_color", (1, 3))
    if images.shape[0] == 0:
        return images.clone()
    dtype = compute_dtype(images)
    rgb = images.to(dtype) / white
    if images.shape[1] == 3:
        if hue is not None:
            pixels = rgb.permute(0, 2, 3, 1).reshape(-1, 3, 1, 1)
            turns = torch.remainder(hue.to(images.device, dtype).reshape(-1) + 0.5, 1.0) - 0.5  # into [-0.5, 0.5)
            rotated = adjust_hue(pixels, turns)
            rgb = rotated.view(images.shape[0], *images.shape[2:], 3).permute(0, 3, 1, 2)
        if saturation is not None:
            brightest = rgb.amax(1, keepdim=True)
            chroma = brightest - rgb.amin(1, keepdim=True)
            # S' = min(s S, 1): the chroma may grow up to V (then the darkest channel reaches 0).
            factor = torch.minimum(saturation.to(images.device, dtype)[:, None], brightest / chroma.clamp(min=1e-12))
            rgb = brightest - (brightest - rgb) * factor
    if value is not None:
        brightest = rgb.amax(1, keepdim=True)
        rgb = rgb * torch.minimum(value.to(images.device, dtype)[:, None], 1.0 / brightest.clamp(min=1e-12))
    return restore_dtype(rgb.clamp_(0.0, 1.0) * white, images.dtype)
