"""Additive Gaussian noise with per-sample mean and standard deviation.

The kernel never touches torch's global RNG: it draws standard normal noise from a
``torch.Generator`` (augbench's default one, see :func:`augbench.seed`, when none is given),
or takes the standard normal noise itself (to replay a draw, or to share one draw between an
image and its second view).
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.functional._leading_dims import leading_dims
from augbench.functional._pixel import checked_param, image_max, per_sample
from augbench.functional._utils import BatchParam, compute_dtype, restore_dtype
from augbench.random import resolve_generator

__all__ = ["gaussian_noise"]


@leading_dims("mean", "sigma", noise=3)
def gaussian_noise(
    images: Tensor,
    mean: BatchParam = 0.0,
    sigma: BatchParam = 0.1,
    clip: bool = True,
    *,
    generator: torch.Generator | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    """Add ``mean + sigma * noise`` to every pixel, ``noise`` standard normal (torchvision's ``gaussian_noise``).

    torchvision's convention: ``mean`` and ``sigma`` are fractions of the full intensity range
    for every dtype (0.1 is 25.5 levels on uint8), floats are clipped to [0, 1] when ``clip``.
    uint8 results are rounded (torchvision truncates the noise towards zero, which shrinks
    every offset by up to one level) and always saturate at 0 and 255 (torchvision wraps
    around with ``clip=False``).

    Args:
        inpt: ``(..., C, H, W)`` uint8 (0-255) or floating (0-1).
        mean: per-sample offset, a fraction of the full range.
        sigma: per-sample standard deviation (>= 0), a fraction of the full range; 0 with
            mean 0 is the identity.
        clip: clip floating results to [0, 1]; must be True for uint8.
        generator: draws the standard normal noise (on the generator's device, then moved to
            the images' device); default augbench's default generator, never torch's global
            RNG. Give at most one of ``generator`` and ``noise``.
        noise: standard normal noise, floating, broadcastable to the input (e.g.
            ``(B, 1, H, W)`` to add the same noise to every channel).

    Shape:
        ``(..., C, H, W)`` -> same shape and dtype.

    Raises:
        InputValueError: both ``generator`` and ``noise``, a ``noise`` shape that does not
            broadcast, ``sigma < 0``, or ``clip=False`` on uint8.
        InputTypeError: integer ``noise``, or a ``generator`` that is not a ``torch.Generator``.
    """
    white = image_max(images, "gaussian_noise")
    if generator is not None and noise is not None:
        raise InputValueError(
            "gaussian_noise: pass generator= (to draw the noise) or noise= (a standard normal tensor), not both"
        )
    if images.dtype == torch.uint8 and not clip:
        raise InputValueError("gaussian_noise: uint8 results are always clipped to 0-255; pass clip=True or float images")
    dtype = compute_dtype(images)
    if noise is None:
        source = resolve_generator(generator)
        noise = torch.randn(images.shape, generator=source, device=source.device, dtype=dtype)
    elif not noise.is_floating_point():
        raise InputTypeError(f"gaussian_noise: noise must be a floating tensor, got {noise.dtype}; pass torch.randn(...)")
    elif not _broadcasts_to(noise.shape, images.shape):
        raise InputValueError(
            f"gaussian_noise: noise of shape {tuple(noise.shape)} does not broadcast to images {tuple(images.shape)}"
        )
    mean_t = per_sample(checked_param(mean, images, "mean", "gaussian_noise"))
    sigma_t = per_sample(checked_param(sigma, images, "sigma", "gaussian_noise", low=0.0))
    noisy = images.to(dtype) + (mean_t + sigma_t * noise.to(images.device, dtype)) * white
    if clip:
        noisy = noisy.clamp_(0.0, white)
    return restore_dtype(noisy, images.dtype)


def _broadcasts_to(shape: torch.Size, target: torch.Size) -> bool:
    """Whether a tensor of ``shape`` broadcasts to exactly ``target``."""
    try:
        return torch.broadcast_shapes(shape, target) == target
    except RuntimeError:
        return False
