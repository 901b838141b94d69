"""Pixel-value transforms: colour jitter, grey-scale, Gaussian blur and Gaussian noise, with per-sample factors.

They change pixel values, not geometry: masks (``target="mask"``) pass through unchanged.
Images must be grey (1 channel) or RGB (3 channels), except for the noise (any channels).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

import augbench.functional as F
from augbench.checks import IMAGE
from augbench.distributions import AnyGenerator, standard_normal
from augbench.errors import InputValueError
from augbench.random import Params, uniform
from augbench.transforms.base import ImageShape, Transform

__all__ = ["ColorJitter", "RandomGrayscale", "Grayscale", "GaussianBlur", "GaussianNoise"]


def _check_channels(who: str, images: Tensor, target: str) -> None:
    if target == IMAGE and images.shape[1] not in (1, 3):
        raise InputValueError(
            f"{who} needs grey (1) or RGB (3) channels, got shape {tuple(images.shape)}; "
            "drop an alpha channel with x[:, :3]"
        )


def _strength(who: str, name: str, value: float, limit: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and 0 <= value <= limit):
        bound = f"in [0, {limit}]" if math.isfinite(limit) else "finite and >= 0"
        raise InputValueError(f"{who}: {name}={value!r} must be a number {bound}")
    return float(value)


class ColorJitter(Transform):
    """Jitter brightness, contrast, saturation and hue with factors drawn per sample.

    torchvision's ``ColorJitter`` ranges: brightness, contrast and saturation factors
    ~ U[max(0, 1 - b), 1 + b], the hue shift ~ U[-h, h] turns; applied in that fixed order (not
    torchvision's random order per call) with the Pillow-style kernels of
    :mod:`augbench.functional` (multiplicative brightness, contrast against the grey mean,
    saturation against the luma, hue rotation), fused in :func:`augbench.functional.color_jitter`
    (compiled on the CPU, bit-identical to the torch chain). Grey images get brightness and
    contrast only (saturation and hue are identities on them). uint8 images are jittered in
    float32 and rounded once at the end, without the intermediate truncation of four uint8
    kernels (results may differ from a chain of uint8 kernels by one grey level).

    Args:
        brightness, contrast, saturation: spread ``b >= 0`` of each factor (0: unchanged).
        hue: largest hue shift in [0, 0.5] turns.
        p: per-sample probability of jittering.

    Shape:
        ``(B, C, H, W)``, ``C`` in {1, 3}, uint8 or float -> same shape and dtype.

    >>> import torch
    >>> jitter = ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8)
    >>> jitter(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4, 3, 8, 8])
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    def __init__(
        self,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        hue: float = 0.0,
        p: float = 1.0,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.brightness = _strength(who, "brightness", brightness)
        self.contrast = _strength(who, "contrast", contrast)
        self.saturation = _strength(who, "saturation", saturation)
        self.hue = _strength(who, "hue", hue, 0.5)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        params = {
            "brightness": uniform(max(0.0, 1.0 - self.brightness), 1.0 + self.brightness, n, generator),
            "contrast": uniform(max(0.0, 1.0 - self.contrast), 1.0 + self.contrast, n, generator),
        }
        if shape[0] == 3:
            params["saturation"] = uniform(max(0.0, 1.0 - self.saturation), 1.0 + self.saturation, n, generator)
            params["hue"] = uniform(-self.hue, self.hue, n, generator)
        return params

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        _check_channels(type(self).__name__, images, target)
        if target != IMAGE:
            return images
        if "saturation" not in params:
            return F.color_jitter(images, params["brightness"], params["contrast"])
        return F.color_jitter(images, params["brightness"], params["contrast"], params["saturation"], params["hue"])

    def extra_repr(self) -> str:
        return f"brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, hue={self.hue}"


class RandomGrayscale(Transform):
    """Replace an RGB image by its luma (ITU-R 601-2, as Pillow's ``convert("L")``), repeated to
    3 channels, with per-sample probability ``p``; grey images pass through unchanged.

    Args:
        p: per-sample probability (torchvision's default 0.1).

    Shape:
        ``(B, C, H, W)``, ``C`` in {1, 3}, uint8 or float -> same shape and dtype.
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    def __init__(self, p: float = 0.1, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        _check_channels(type(self).__name__, images, target)
        if target != IMAGE or images.shape[1] == 1:
            return images
        return F.rgb_to_grayscale(images, num_output_channels=3)


class Grayscale(Transform):
    """Convert RGB images to their luma (ITU-R 601-2, as Pillow's ``convert("L")``), torchvision's
    ``Grayscale``: ``num_output_channels`` 1 or 3 (the luma repeated); grey images pass through
    (repeated to 3 channels when asked).

    Shape:
        ``(B, C, H, W)``, ``C`` in {1, 3} -> ``(B, num_output_channels, H, W)``, same dtype.
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    def __init__(self, num_output_channels: int = 1) -> None:
        super().__init__()
        if num_output_channels not in (1, 3):
            raise InputValueError(f"Grayscale: num_output_channels={num_output_channels!r} must be 1 or 3")
        self.num_output_channels = num_output_channels

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def output_shape(self, shape: ImageShape) -> ImageShape:
        return self.num_output_channels, shape[1], shape[2]

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        _check_channels(type(self).__name__, images, target)
        if target != IMAGE:
            return images
        if images.shape[1] == 1:
            return images.expand(-1, self.num_output_channels, -1, -1).contiguous()
        return F.rgb_to_grayscale(images, num_output_channels=self.num_output_channels)

    def extra_repr(self) -> str:
        return f"num_output_channels={self.num_output_channels}"


class GaussianBlur(Transform):
    """Blur each image with its own Gaussian, torchvision's ``GaussianBlur``: ``sigma`` drawn per
    sample uniformly in ``[sigma_min, sigma_max]`` (the same for both axes), a fixed odd
    ``kernel_size``, reflect padding (:func:`augbench.functional.gaussian_blur`).

    Args:
        kernel_size: odd kernel side, or ``(kx, ky)``.
        sigma: ``(sigma_min, sigma_max)`` in pixels (> 0), or one number for a fixed sigma.
        p: per-sample probability of blurring (torchvision always blurs: ``p=1``).

    Shape:
        ``(B, C, H, W)`` -> same shape and dtype.
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    blend_skipped = False  # a convolution per image: leave the unblurred ones out

    def __init__(self, kernel_size: int | tuple[int, int], sigma: float | tuple[float, float] = (0.1, 2.0),
                 p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        sizes = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(sizes) != 2 or not all(isinstance(k, int) and k >= 1 and k % 2 == 1 for k in sizes):
            raise InputValueError(f"{who}: kernel_size={kernel_size!r} must be odd positive ints (e.g. 3 or (5, 3))")
        low, high = (sigma, sigma) if isinstance(sigma, (int, float)) else tuple(sigma)
        if not (0 < low <= high and math.isfinite(high)):
            raise InputValueError(f"{who}: sigma={sigma!r} must be > 0, or (min, max) with 0 < min <= max")
        self.kernel_size = list(sizes)
        self.sigma = [float(low), float(high)]

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"sigma": uniform(self.sigma[0], self.sigma[1], n, generator)}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        if target != IMAGE:
            return images
        return F.gaussian_blur(images, self.kernel_size, params["sigma"])

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"


class GaussianNoise(Transform):
    """Add Gaussian noise with its own draw per sample, torchvision v2's ``GaussianNoise``
    (:func:`augbench.functional.gaussian_noise`): ``image + (mean + sigma * z) * full_range``,
    ``z`` standard normal per pixel and channel.

    ``mean`` and ``sigma`` are fractions of the full range (0.1 is 25.5 levels on uint8), as in
    torchvision. Unlike torchvision, uint8 images are accepted (the result is rounded and
    saturates at 0 and 255, so ``clip`` must stay True), ``sigma`` may be a ``(min, max)`` range
    drawn uniformly per sample, and ``p`` is the per-sample probability (torchvision: always).

    Args:
        mean: offset, a fraction of the full range.
        sigma: standard deviation (>= 0), or ``(sigma_min, sigma_max)`` drawn per sample.
        clip: clip floating results to [0, 1].
        p: per-sample probability of adding noise.

    Shape:
        ``(B, C, H, W)`` uint8 or floating -> same shape and dtype.
    """

    keeps_geometry = True  # pixel values only: keypoints and boxes pass through

    def __init__(self, mean: float = 0.0, sigma: float | tuple[float, float] = 0.1, clip: bool = True,
                 p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not math.isfinite(mean):
            raise InputValueError(f"{who}: mean={mean!r} must be a finite number (a fraction of the full range)")
        pair = (sigma, sigma) if isinstance(sigma, (int, float)) and not isinstance(sigma, bool) else tuple(sigma)
        if len(pair) != 2:
            raise InputValueError(f"{who}: sigma={sigma!r} must be a number or (min, max)")
        low, high = (_strength(who, "sigma", value) for value in pair)
        if low > high:
            raise InputValueError(f"{who}: sigma={sigma!r} needs min <= max")
        self.mean = float(mean)
        self.sigma = [low, high]
        self.clip = bool(clip)

    def make_params(self, n: int, shape: ImageShape, generator: AnyGenerator) -> dict[str, Tensor]:
        return {"sigma": uniform(self.sigma[0], self.sigma[1], n, generator),
                "noise": standard_normal((n, *shape), generator)}

    def transform(self, images: Tensor, params: Params, target: str) -> Tensor:
        if target != IMAGE:
            return images
        return F.gaussian_noise(images, self.mean, params["sigma"], self.clip, noise=params["noise"])

    def extra_repr(self) -> str:
        return f"mean={self.mean}, sigma={self.sigma}, clip={self.clip}"
