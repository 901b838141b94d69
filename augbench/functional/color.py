"""Colour and intensity kernels of AutoAugment / RandAugment, batched with per-sample parameters.

Every op takes ``(..., C, H, W)`` uint8 images (0-255) or floating images (0-1) (a ``(B, C, H, W)``
batch, an unbatched image or extra leading dims, see :mod:`augbench.functional._leading_dims`)
and returns the same dtype. Each parameter is a number or a tensor with one value per image
(``(B,)`` for a batch), given in the images' own scale where it is an intensity (e.g. a solarize
threshold of 128 for uint8 is 128 / 255 for float images).

On uint8 images the ops reproduce Pillow's definitions, which the AutoAugment and RandAugment
reference code uses (``ImageOps`` and ``ImageEnhance``): blends truncate like ``Image.blend``,
grey is ``Image.convert("L")``. Floating images run the same formula in floating point, without
truncation or a uint8 round trip, except for the inherently 8-bit ``posterize``. torchvision's
tensor kernels differ from Pillow in small ways (rounding, grey weights 0.2989/0.587/0.114);
each docstring says which convention the op follows.
"""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from augbench.errors import InputValueError
from augbench.functional._leading_dims import leading_dims
from augbench.functional._pixel import (
    blend,
    blend_lut,
    check_channels,
    checked_param,
    image_max,
    per_sample,
    to_levels,
)
from augbench.functional._utils import BatchParam, compute_dtype
from augbench.native import library, thread_count

__all__ = [
    "identity",
    "invert",
    "solarize",
    "solarize_add",
    "posterize",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "color_jitter",
]

# Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point, rounded (weights sum to 2**16).
_LUMA_FIXED = (19595, 38470, 7471)
_LUMA = (0.299, 0.587, 0.114)


@leading_dims()
def identity(images: Tensor) -> Tensor:
    """Return the input unchanged (RandAugment's Identity op; for a 4-D batch the same tensor, not a copy).

    Shape:
        ``(..., C, H, W)`` of any dtype -> the same shape and values.
    """
    return images


@leading_dims()
def invert(images: Tensor) -> Tensor:
    """Negate intensities: ``255 - x`` for uint8, ``1 - x`` for floats (``ImageOps.invert``, torchvision).

    Shape:
        ``(..., C, H, W)`` uint8 or floating -> same shape and dtype.
    """
    white = image_max(images, "invert")
    return white - images if images.is_floating_point() else 255 - images


@leading_dims("threshold")
def solarize(images: Tensor, threshold: BatchParam) -> Tensor:
    """Invert every pixel value at or above ``threshold`` (``ImageOps.solarize``, torchvision).

    A threshold above the maximum (256 for uint8, anything > 1 for floats, e.g. 256 / 255)
    leaves the image unchanged (torchvision refuses thresholds above white); 0 inverts it
    entirely. Like Pillow and torchvision, a threshold equal to white (255, or 1.0 for floats)
    still inverts pure white pixels.

    Args:
        inpt: ``(..., C, H, W)`` uint8 (0-255) or floating (0-1).
        threshold: per-sample threshold (>= 0) in the images' scale.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.

    Example:
        >>> solarize(torch.tensor([0, 100, 200, 255], dtype=torch.uint8).view(1, 1, 1, 4), 128).flatten().tolist()
        [0, 100, 55, 0]
    """
    image_max(images, "solarize")
    threshold_t = checked_param(threshold, images, "threshold", "solarize", low=0.0)
    if images.dtype == torch.uint8:
        # 255 - x == x ^ 255: an xor with 255 where x >= threshold (torch.where is slow on uint8).
        return images ^ (images >= per_sample(threshold_t)).view(torch.uint8).mul_(255)
    return torch.where(images >= per_sample(threshold_t), invert(images), images)


@leading_dims("addition", "threshold")
def solarize_add(images: Tensor, addition: BatchParam, threshold: BatchParam | None = None) -> Tensor:
    """Add ``addition`` to every pixel value below ``threshold``, clipping (TF AutoAugment's SolarizeAdd).

    Not in Pillow or torchvision; follows the TensorFlow reference ``solarize_add``, whose
    uint8 sum saturates at 0 and 255. Addition 0 (or threshold 0) leaves the image unchanged.

    Args:
        inpt: ``(..., C, H, W)`` uint8 (0-255) or floating (0-1).
        addition: per-sample offset in the images' scale (uint8: rounded to whole levels).
        threshold: per-sample threshold (>= 0) in the images' scale; default 128 for uint8,
            128 / 255 for floats (the reference's default).

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.
    """
    white = image_max(images, "solarize_add")
    threshold = 128.0 * white / 255.0 if threshold is None else threshold
    threshold_t = per_sample(checked_param(threshold, images, "threshold", "solarize_add", low=0.0))
    addition_t = per_sample(checked_param(addition, images, "addition", "solarize_add", low=-white, high=white))
    if images.dtype == torch.uint8:
        added = (images.to(torch.int16) + addition_t.round().to(torch.int16)).clamp_(0, 255).to(torch.uint8)
    else:
        added = (images + addition_t.to(images.dtype)).clamp_(0.0, 1.0)
    return torch.where(images < threshold_t, added, images)


@leading_dims("bits")
def posterize(images: Tensor, bits: BatchParam) -> Tensor:
    """Keep the ``bits`` most significant bits of each 8-bit value (``ImageOps.posterize``).

    Posterizing is defined on 8-bit values, so floating images are quantised to 0-255 levels
    (``floor(255.999 x)``, torchvision's float-to-uint8 conversion), posterized and scaled back:
    the float result equals the uint8 result divided by 255. (torchvision's float kernel returns
    ``floor(x * 2**bits) / 2**bits`` instead, e.g. 0.5 where the 8-bit result is 128 / 255.)

    Args:
        inpt: ``(..., C, H, W)`` uint8 (0-255) or floating (0-1).
        bits: per-sample number of bits kept, a whole number in [0, 8]; 8 is the identity,
            0 makes the image black.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.

    Example:
        >>> images = torch.tensor([0, 100, 200, 255], dtype=torch.uint8).view(1, 1, 1, 4)
        >>> posterize(images, torch.tensor([2])).flatten().tolist()
        [0, 64, 192, 192]
    """
    image_max(images, "posterize")
    bits_t = checked_param(bits, images, "bits", "posterize", low=0.0, high=8.0, integral=True).round().long()
    mask = per_sample(256 - torch.bitwise_left_shift(torch.ones_like(bits_t), 8 - bits_t)).to(torch.uint8)
    if images.dtype == torch.uint8:
        return images & mask
    levels = to_levels(images)
    return (levels & mask).to(images.dtype) / 255.0


@leading_dims()
def rgb_to_grayscale(images: Tensor, num_output_channels: int = 1) -> Tensor:
    """Luma of RGB images, ``L = 0.299 R + 0.587 G + 0.114 B`` (ITU-R 601-2).

    uint8 follows Pillow's ``Image.convert("L")`` bit for bit (16-bit fixed-point weights,
    rounded); floats use the exact weights without rounding (torchvision uses 0.2989 for red
    and truncates uint8). Single-channel images are already grey and are returned as they are
    (repeated to ``num_output_channels``).

    Args:
        inpt: ``(..., 3, H, W)`` RGB or ``(..., 1, H, W)`` grey, uint8 or floating.
        num_output_channels: 1, or 3 to repeat the grey channel.

    Shape:
        ``(..., C, H, W)`` -> ``(..., num_output_channels, H, W)``, same dtype.
    """
    image_max(images, "rgb_to_grayscale")
    check_channels(images, "rgb_to_grayscale", (1, 3))
    if num_output_channels not in (1, 3):
        raise InputValueError(f"rgb_to_grayscale: num_output_channels={num_output_channels!r} must be 1 or 3")
    grey = images if images.shape[1] == 1 else _luma(images)
    return grey.expand(-1, num_output_channels, -1, -1).contiguous() if num_output_channels == 3 else grey


def _grey_sums(images: Tensor) -> Tensor:
    """``(B,)`` int64 sums of the grey image of uint8 ``images`` (``rgb_to_grayscale``), compiled on the CPU."""
    compiled = _color_library(images)
    if compiled is None:
        return rgb_to_grayscale(images).sum((1, 2, 3), dtype=torch.int64)
    images = images.contiguous()
    sums = torch.empty(images.shape[0], dtype=torch.int64)
    compiled.grey_sums_uint8(
        images.data_ptr(), images.shape[0], images.shape[1], images.shape[-2] * images.shape[-1], sums.data_ptr(),
        thread_count(images.numel()),
    )
    return sums


def _luma(images: Tensor) -> Tensor:
    """``(B, 1, H, W)`` luma of RGB images, Pillow's fixed point for uint8."""
    if images.dtype == torch.uint8:
        # Channel by channel in place: much faster on the CPU than a weighted sum over dim 1.
        red, green, blue = (channel.to(torch.int32) for channel in images.unbind(1))
        fixed = red.mul_(_LUMA_FIXED[0]).add_(green.mul_(_LUMA_FIXED[1])).add_(blue.mul_(_LUMA_FIXED[2]))
        return fixed.add_(1 << 15).bitwise_right_shift_(16).to(torch.uint8)[:, None]
    weights = torch.tensor(_LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


@leading_dims("brightness_factor")
def adjust_brightness(images: Tensor, brightness_factor: BatchParam) -> Tensor:
    """Scale intensities by ``brightness_factor`` (``ImageEnhance.Brightness``: blend with black).

    Multiplicative, as in Pillow and torchvision; uint8 results are truncated like Pillow's
    ``Image.blend`` and clipped to 255.

    Args:
        inpt: ``(..., C, H, W)`` uint8 (0-255) or floating (0-1), any channel count
            (torchvision: 1 or 3).
        brightness_factor: per-sample factor >= 0; 0 gives black, 1 the original image.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.
    """
    image_max(images, "adjust_brightness")
    factor = checked_param(brightness_factor, images, "brightness_factor", "adjust_brightness", low=0.0)
    if images.dtype == torch.uint8:
        return blend_lut(images, torch.zeros_like(factor), factor)
    return blend(images, torch.zeros((), dtype=images.dtype, device=images.device), factor)


@leading_dims("contrast_factor")
def adjust_contrast(images: Tensor, contrast_factor: BatchParam) -> Tensor:
    """Blend each image with the mean of its grey version (``ImageEnhance.Contrast``).

    Pillow's convention: the mean is taken over the luma image (``convert("L")``) and, for
    uint8, rounded to a whole grey level; the blend truncates like ``Image.blend``. Floating
    images use the unrounded mean (as torchvision does). torchvision takes the mean of its own
    grey (weights 0.2989/0.587/0.114, floored for uint8), unrounded.

    Args:
        inpt: ``(..., 3, H, W)`` RGB or ``(..., 1, H, W)`` grey, uint8 (0-255) or floating (0-1).
        contrast_factor: per-sample factor >= 0; 0 gives a flat grey image, 1 the original.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.
    """
    image_max(images, "adjust_contrast")
    check_channels(images, "adjust_contrast", (1, 3))
    factor = checked_param(contrast_factor, images, "contrast_factor", "adjust_contrast", low=0.0)
    if images.dtype == torch.uint8:
        pixels = images.shape[-2] * images.shape[-1]
        mean = _grey_sums(images).to(torch.float64) / pixels
        return blend_lut(images, torch.floor(mean + 0.5), factor)
    grey = rgb_to_grayscale(images)
    return blend(images, per_sample(grey.mean((1, 2, 3))), factor)


@leading_dims("saturation_factor")
def adjust_saturation(images: Tensor, saturation_factor: BatchParam) -> Tensor:
    """Blend each RGB image with its grey version (``ImageEnhance.Color``, torchvision).

    Pillow's convention for uint8: grey is ``convert("L")`` and the blend truncates like
    ``Image.blend`` (torchvision blends with its own grey, weights 0.2989/0.587/0.114 floored,
    which can differ by one level). Floats blend with the exact luma. Grey images are returned
    unchanged, as Pillow and torchvision do.

    Args:
        inpt: ``(..., 3, H, W)`` RGB or ``(..., 1, H, W)`` grey, uint8 (0-255) or floating (0-1).
        saturation_factor: per-sample factor >= 0; 0 gives grey, 1 the original image,
            > 1 oversaturates.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.

    Raises:
        InputValueError: images with other than 1 or 3 channels.
    """
    image_max(images, "adjust_saturation")
    check_channels(images, "adjust_saturation", (1, 3))
    factor = checked_param(saturation_factor, images, "saturation_factor", "adjust_saturation", low=0.0)
    if images.shape[1] == 1:
        return images
    compiled = _color_library(images) if images.dtype == torch.uint8 else None
    if compiled is None:
        return blend(images, _luma(images), factor)
    images = images.contiguous()
    out = torch.empty_like(images)
    factors = factor.to(torch.float32).contiguous()
    status = compiled.saturation_uint8(
        images.data_ptr(), images.shape[0], images.shape[-2] * images.shape[-1], factors.data_ptr(), out.data_ptr(),
        thread_count(images.numel()),
    )
    return out if status == 0 else blend(images, _luma(images), factor)


@leading_dims("hue_factor")
def adjust_hue(images: Tensor, hue_factor: BatchParam) -> Tensor:
    """Rotate the hue of RGB images by ``hue_factor`` turns, keeping HSV saturation and value.

    torchvision's tensor convention: the shift is done on exact (floating) HSV values and uint8
    results are quantised as torchvision's ``to_dtype`` does, ``floor(255.999 x)``.
    (torchvision's PIL path shifts an 8-bit HSV image instead, which quantises hue and
    saturation and can move values by several levels.) Grey images are returned unchanged, as
    Pillow and torchvision do.

    Args:
        inpt: ``(..., 3, H, W)`` RGB or ``(..., 1, H, W)`` grey, uint8 (0-255) or floating (0-1).
        hue_factor: per-sample shift in [-0.5, 0.5] of a full turn around the hue circle
            (0.5 = 180 degrees, giving the complementary colours); 0 is the identity.

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.

    Raises:
        InputValueError: images with other than 1 or 3 channels, or ``hue_factor`` outside [-0.5, 0.5].
    """
    white = image_max(images, "adjust_hue")
    check_channels(images, "adjust_hue", (1, 3))
    shift = checked_param(hue_factor, images, "hue_factor", "adjust_hue", low=-0.5, high=0.5)
    if images.shape[1] == 1:
        return images
    rgb = images.to(compute_dtype(images)) / white
    value = rgb.amax(1, keepdim=True)
    chroma = value - rgb.amin(1, keepdim=True)  # = value * saturation
    hue = _hue_sextants(rgb, value, chroma)
    hue = torch.remainder(hue + 6.0 * per_sample(shift.to(rgb.dtype)), 6.0)
    # HSV -> RGB: channel n (R=5, G=3, B=1) is value - chroma * clamp(min(k, 4 - k), 0, 1),
    # with k = (n + hue) mod 6 and hue in sextants [0, 6).
    offsets = torch.tensor([5.0, 3.0, 1.0], dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    k = torch.remainder(offsets + hue, 6.0)
    result = value - chroma * torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return to_levels(result) if images.dtype == torch.uint8 else result.to(images.dtype)


def _hue_sextants(rgb: Tensor, value: Tensor, chroma: Tensor) -> Tensor:
    """HSV hue in sextants ``[0, 6)`` (red 0, green 2, blue 4) of ``(B, 3, H, W)`` floats; 0 for greys."""
    red, green, blue = rgb.unbind(1)
    value, chroma = value[:, 0], chroma[:, 0]
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(
        value == red,
        torch.remainder((green - blue) / safe, 6.0),
        torch.where(value == green, (blue - red) / safe + 2.0, (red - green) / safe + 4.0),
    )
    return torch.where(chroma > 0, hue, torch.zeros_like(hue))[:, None]


@leading_dims("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor")
def color_jitter(
    images: Tensor,
    brightness_factor: BatchParam,
    contrast_factor: BatchParam,
    saturation_factor: BatchParam = 1.0,
    hue_factor: BatchParam = 0.0,
) -> Tensor:
    """Brightness, contrast, saturation, then hue, with per-sample factors, in one fused kernel.

    The same values as the chain of the floating kernels, :func:`adjust_brightness`,
    :func:`adjust_contrast`, :func:`adjust_saturation` and :func:`adjust_hue` (torchvision's
    ``ColorJitter`` with its order fixed): uint8 images are divided by 255, jittered in float32
    and rounded once at the end (half to even), without the four intermediate truncations of a
    chain of uint8 kernels (results may differ from that chain by one grey level). Grey images
    get brightness and contrast only.

    On the CPU, uint8 and float32 batches run through the compiled kernel of
    :mod:`augbench.native` (about ten times faster than the chain), which is bit-identical to
    the torch chain that runs everywhere else (other devices and dtypes, or no compiler).

    Args:
        inpt: ``(..., 3, H, W)`` RGB or ``(..., 1, H, W)`` grey, uint8 (0-255) or floating (0-1).
        brightness_factor, contrast_factor, saturation_factor: per-sample factors >= 0 (1: unchanged).
        hue_factor: per-sample hue shift in [-0.5, 0.5] turns (0: unchanged up to float rounding).

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.
    """
    image_max(images, "color_jitter")
    check_channels(images, "color_jitter", (1, 3))
    who = "color_jitter"
    brightness = checked_param(brightness_factor, images, "brightness_factor", who, low=0.0)
    contrast = checked_param(contrast_factor, images, "contrast_factor", who, low=0.0)
    saturation = checked_param(saturation_factor, images, "saturation_factor", who, low=0.0)
    hue = checked_param(hue_factor, images, "hue_factor", who, low=-0.5, high=0.5)
    compiled = _color_library(images)
    if compiled is not None:
        return _color_jitter_compiled(compiled, images, brightness, contrast, saturation, hue)
    return _color_jitter_torch(images, brightness, contrast, saturation, hue)


def _color_jitter_torch(
    images: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor, hue: Tensor
) -> Tensor:
    """:func:`color_jitter` as a chain of the torch kernels (the reference of the compiled one)."""
    stored = images.dtype
    pixels = images.float().div_(255.0) if stored == torch.uint8 else images
    pixels = adjust_contrast(adjust_brightness(pixels, brightness), contrast)
    if images.shape[1] == 3:
        pixels = adjust_hue(adjust_saturation(pixels, saturation), hue)
    return pixels.mul_(255.0).round_().clamp_(0.0, 255.0).to(stored) if stored == torch.uint8 else pixels


def _color_library(images: Tensor) -> ctypes.CDLL | None:
    """The compiled colour kernels when they can take ``images`` (CPU, uint8 or float32), else ``None``."""
    if images.device.type != "cpu" or images.dtype not in (torch.uint8, torch.float32) or images.numel() == 0:
        return None
    return library("color")


def _color_jitter_compiled(
    compiled: ctypes.CDLL, images: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor, hue: Tensor
) -> Tensor:
    """:func:`color_jitter` through ``augbench/native/color.c``: two passes over the batch.

    The contrast means are taken by torch, with the very reduction :func:`adjust_contrast` uses,
    over the ``(B, 1, H, W)`` luma of the brightened images that the first pass writes.
    """
    images = images.contiguous()
    batch, channels, height, width = images.shape
    factors = [factor.to(torch.float32).contiguous() for factor in (brightness, contrast, saturation, hue)]
    brightness, contrast, saturation, hue = factors
    is_uint8 = int(images.dtype == torch.uint8)
    grey = torch.empty((batch, 1, height, width), dtype=torch.float32)
    sizes = (batch, channels, height * width)
    compiled.cj_luma(images.data_ptr(), is_uint8, *sizes, brightness.data_ptr(), grey.data_ptr())
    mean = grey.mean((1, 2, 3))
    result = torch.empty_like(images)
    compiled.cj_apply(
        images.data_ptr(), is_uint8, *sizes, brightness.data_ptr(), mean.data_ptr(), contrast.data_ptr(),
        saturation.data_ptr(), hue.data_ptr(), result.data_ptr(),
    )
    return result
