"""Spatial filter kernels: ``adjust_sharpness`` and ``gaussian_blur``, with per-sample parameters.

Both filter each channel separately. ``gaussian_blur`` builds one kernel per sample and runs
a single grouped convolution per axis for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._leading_dims import leading_dims
from augbench.functional._pixel import blend, checked_param, image_max, per_sample, to_uint8
from augbench.functional._utils import BatchParam, compute_dtype, restore_dtype
from augbench.native import library, thread_count

__all__ = ["adjust_sharpness", "gaussian_blur"]

KernelSize = Union[int, Sequence[int]]
Sigma = Union[BatchParam, Sequence[BatchParam], None]

# Pillow's ImageFilter.SMOOTH, the degenerate image of ImageEnhance.Sharpness:
# [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13.
_SMOOTH_CENTRE = 5.0
_SMOOTH_SUM = 13.0


@leading_dims("sharpness_factor")
def adjust_sharpness(images: Tensor, sharpness_factor: BatchParam) -> Tensor:
    """Blend each image with a smoothed copy of itself (``ImageEnhance.Sharpness``).

    Pillow's convention: the smoothed image is the 3x3 filter ``[[1, 1, 1], [1, 5, 1],
    [1, 1, 1]] / 13`` with the one-pixel border copied from the input (so the border never
    changes), rounded to whole levels for uint8; the blend truncates like ``Image.blend``.
    torchvision's tensor kernel uses the same filter and border. Floats skip the rounding.
    uint8 batches on the CPU run through the compiled ``augbench/native/sharpness.c`` (the same
    bits as the torch code, tested).

    Args:
        inpt: ``(..., C, H, W)`` uint8 (0-255) or floating (0-1), any channel count
            (torchvision: 1 or 3).
        sharpness_factor: per-sample factor >= 0; 0 gives the smoothed image, 1 the original,
            > 1 sharpens.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype. Images smaller than 3x3 are all border and
        come back unchanged.
    """
    image_max(images, "adjust_sharpness")
    factor = checked_param(sharpness_factor, images, "sharpness_factor", "adjust_sharpness", low=0.0)
    height, width = images.shape[-2:]
    if height < 3 or width < 3:
        return images.clone()
    compiled = library("sharpness") if images.dtype == torch.uint8 and images.device.type == "cpu" else None
    if compiled is not None and images.numel() > 0:
        images = images.contiguous()
        out = torch.empty_like(images)
        batch, channels = images.shape[:2]
        factors = factor.to(torch.float32).contiguous()
        compiled.sharpness_uint8(
            images.data_ptr(), batch, channels, height, width, factors.data_ptr(), out.data_ptr(),
            thread_count(images.numel()),
        )
        return out
    values = images.to(compute_dtype(images))
    # The kernel is a 3x3 box plus 4 x the centre; the box sum is separable into shifted slices
    # (much faster on the CPU than a one-channel conv2d). uint8 sums are whole numbers below
    # 2**24, so float32 holds them exactly, whatever the order of the additions.
    box = values[..., :-2] + values[..., 1:-1]
    box += values[..., 2:]
    smooth = box[..., :-2, :] + box[..., 1:-1, :]
    smooth += box[..., 2:, :]
    centre = values[..., 1:-1, 1:-1]
    smooth.add_(centre, alpha=_SMOOTH_CENTRE - 1.0).div_(_SMOOTH_SUM)
    if images.dtype == torch.uint8:
        smooth = smooth.round_()  # a sum / 13 is never exactly halfway, so no tie rule is involved
    if images.dtype != torch.uint8 and images.dtype != values.dtype:  # half precision blends in its own dtype
        degenerate = values.clone()  # the border stays as in the input
        degenerate[..., 1:-1, 1:-1] = smooth
        return blend(images, degenerate, factor)
    # The border of the smoothed image is the input's, so only the interior needs blending:
    # smooth + factor * (x - smooth), the float32 operations of blend(), in place.
    blended = (centre - smooth).mul_(per_sample(factor.to(smooth.dtype))).add_(smooth)
    if images.dtype == torch.uint8:
        # Into a float copy (the border whole levels), then one truncating cast of the whole
        # batch, as blend() truncates: a float -> uint8 copy into the strided interior is ~5x slower.
        values[..., 1:-1, 1:-1] = blended.clamp_(0.0, 255.0)
        return to_uint8(values)
    result = images.clone()
    result[..., 1:-1, 1:-1] = blended
    return result.clamp_(0.0, 1.0)


@leading_dims("sigma")
def gaussian_blur(images: Tensor, kernel_size: KernelSize, sigma: Sigma = None) -> Tensor:
    """Blur each image with its own Gaussian kernel (torchvision's ``gaussian_blur``).

    torchvision's convention: separable kernel ``exp(-x^2 / (2 sigma^2))`` sampled at the
    integer offsets ``-(k-1)/2 .. (k-1)/2`` and normalised to sum 1, reflect padding (edge
    pixel not repeated), uint8 rounded. (Pillow's ``GaussianBlur`` approximates the Gaussian
    with repeated box blurs and differs.)

    Args:
        inpt: ``(..., C, H, W)`` uint8 (0-255) or floating (0-1).
        kernel_size: odd kernel width and height ``(kx, ky)`` in pixels, or one int for both;
            the same for every sample, and each half-width must be smaller than the image side.
        sigma: standard deviation in pixels (> 0), a number or ``(B,)`` tensor for both axes,
            or a pair ``(sigma_x, sigma_y)``. ``None`` derives it from the kernel size as
            torchvision does: ``0.3 * ((k - 1) / 2 - 1) + 0.8``.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.
    """
    image_max(images, "gaussian_blur")
    size_x, size_y = _kernel_pair(kernel_size)
    batch, channels, height, width = images.shape
    if size_x // 2 >= width or size_y // 2 >= height:
        raise InputValueError(
            f"gaussian_blur: kernel_size={kernel_size!r} is too large for {height}x{width} images; "
            "each half-width must be smaller than the image side"
        )
    sigmas = _sigma_pair(sigma, size_x, size_y)
    dtype = compute_dtype(images)
    sigma_x, sigma_y = (checked_param(s, images, "sigma", "gaussian_blur", low=0.0, open_low=True) for s in sigmas)
    if not images.numel():
        return images.clone()  # nothing to blur, and a convolution needs at least one group
    kernel_x, kernel_y = _gaussian_kernel(sigma_x, size_x, dtype), _gaussian_kernel(sigma_y, size_y, dtype)
    # Channels of all samples become the groups of one convolution: (1, B*C, H, W).
    groups = batch * channels
    grouped = images.to(dtype).reshape(1, groups, height, width)
    padded = nnf.pad(grouped, (size_x // 2, size_x // 2, size_y // 2, size_y // 2), mode="reflect")
    weight_x = kernel_x.repeat_interleave(channels, 0).view(groups, 1, 1, size_x)
    weight_y = kernel_y.repeat_interleave(channels, 0).view(groups, 1, size_y, 1)
    blurred = nnf.conv2d(nnf.conv2d(padded, weight_x, groups=groups), weight_y, groups=groups)
    return restore_dtype(blurred.view(batch, channels, height, width), images.dtype)


def _kernel_pair(kernel_size: KernelSize) -> tuple[int, int]:
    sizes = [kernel_size] * 2 if isinstance(kernel_size, int) else list(kernel_size)
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 or s % 2 == 0 for s in sizes):
        raise InputValueError(
            f"gaussian_blur: kernel_size={kernel_size!r} must be a positive odd int or a pair (kx, ky) of them, e.g. 3"
        )
    return sizes[0], sizes[1]


def _sigma_pair(sigma: Sigma, size_x: int, size_y: int) -> tuple[BatchParam, BatchParam]:
    if sigma is None:
        return 0.3 * ((size_x - 1) * 0.5 - 1) + 0.8, 0.3 * ((size_y - 1) * 0.5 - 1) + 0.8
    if isinstance(sigma, (int, float, Tensor)):
        return sigma, sigma
    pair = list(sigma)
    if len(pair) == 1:
        return pair[0], pair[0]
    if len(pair) != 2:
        raise InputValueError(f"gaussian_blur: sigma={sigma!r} must be one value or a pair (sigma_x, sigma_y)")
    return pair[0], pair[1]


def _gaussian_kernel(sigma: Tensor, size: int, dtype: torch.dtype) -> Tensor:
    """``(B, size)`` normalised Gaussian weights, one row per sample's ``sigma``."""
    offsets = torch.arange(size, dtype=dtype, device=sigma.device) - (size - 1) * 0.5
    weights = torch.exp(-0.5 * (offsets / sigma.to(dtype)[:, None]) ** 2)
    return weights / weights.sum(1, keepdim=True)
