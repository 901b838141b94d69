"""FMix (Harris et al., 2020): binary masks from thresholded low-frequency Fourier noise."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from augbench.errors import InputValueError
from augbench.distributions import beta
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.random import Params

__all__ = ["FMix", "fourier_masks"]


def _low_pass(height: int, width: int, decay_power: float, device: torch.device) -> Tensor:
    """``1 / max(f, 1 / max(H, W)) ** decay_power`` on the ``rfft2`` grid, ``(H, W // 2 + 1)`` float32."""
    rows = torch.fft.fftfreq(height, device=device)[:, None]
    cols = torch.fft.rfftfreq(width, device=device)[None, :]
    frequency = torch.sqrt(rows * rows + cols * cols)
    return frequency.clamp(min=1.0 / max(height, width)).pow(-decay_power)


def fourier_masks(
    coefficients: Tensor, lam: Tensor, height: int, width: int, decay_power: float
) -> tuple[Tensor, Tensor]:
    """Binary masks keeping the ``round(lam * H * W)`` highest pixels of low-pass Fourier noise.

    The complex coefficients are scaled by ``1 / max(f, 1 / max(H, W)) ** decay_power``
    (``f`` the frequency magnitude in cycles per pixel) and inverse-transformed (``irfft2``,
    which handles odd widths) into a smooth grey image; its ``k = round(lam * H * W)``
    largest pixels become 1. The ranking is computed for the whole batch with one sort.

    Args:
        coefficients: ``(B, 2, H, W // 2 + 1)`` real and imaginary parts, standard normal.
        lam: ``(B,)`` target mask means in [0, 1].
        height: mask height ``H``.
        width: mask width ``W``.
        decay_power: ``delta > 0``; larger values give blobbier masks.

    Returns:
        ``(B, 1, H, W)`` bool masks and their exact means ``k / (H * W)``, ``(B,)`` float32,
        both on the device of ``coefficients``.
    """
    spectrum = torch.complex(coefficients[:, 0], coefficients[:, 1])
    spectrum = spectrum * _low_pass(height, width, decay_power, coefficients.device)
    grey = torch.fft.irfft2(spectrum, s=(height, width)).flatten(1)
    pixels = height * width
    kept = torch.round(lam.to(torch.float64) * pixels).long()
    order = torch.argsort(grey, dim=1, descending=True, stable=True)
    positions = torch.arange(pixels, device=grey.device).expand_as(order)
    ranks = torch.empty_like(order).scatter_(1, order, positions)
    masks = (ranks < kept[:, None]).view(-1, 1, height, width)
    return masks, kept.to(torch.float32) / pixels


@MIXERS.register("fmix")
class FMix(Mixer):
    """Keep the pixels of every image where its Fourier mask is 1, take the partner's elsewhere.

    ``lam ~ Beta(alpha, alpha)``; the mask is a low-frequency random image (complex Gaussian
    coefficients weighted by ``1 / f ** decay_power``) binarised at its top
    ``round(lam * H * W)`` pixels, so the mask mean is ``lam`` to within ``0.5 / (H * W)``;
    the returned ``lam`` is the exact mask mean. Masks have the input's size. Coefficients
    are drawn in :meth:`sample`; the FFT and binarisation run batched in :meth:`apply`, on the
    images' device. Simplifications: binary masks only (the reference implementation's
    optional soft edge ``max_soft`` is 0 here, its default) and rounding instead of the
    reference's random choice between floor and ceiling of ``lam * H * W``.

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0 (1 in the paper; OpenMixup uses 0.2 on CIFAR-100).
        decay_power: frequency decay ``delta > 0`` (3 in the paper); not a probability.
        per_sample: one mask and partner per sample (default); ``False`` gives one mask for
            the batch and a permutation of the batch, as in the reference code.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        images ``(B, C, H, W)`` of any supported dtype (no arithmetic on pixels), labels
        ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of the same shape and dtype,
        ``targets`` ``(B, num_classes)`` float32, ``lam`` ``(B,)`` float32, ``index``
        ``(B,)`` int64.

    Reference:
        Harris et al., "FMix: Enhancing Mixed Sample Data Augmentation", arXiv:2002.12047, 2020.
    """

    def __init__(
        self,
        num_classes: int,
        alpha: float = 1.0,
        decay_power: float = 3.0,
        *,
        per_sample: bool = True,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        who = type(self).__name__
        self.alpha = check_alpha(who, alpha)
        if (
            isinstance(decay_power, bool)
            or not isinstance(decay_power, (int, float))
            or not 0.0 < decay_power < math.inf
        ):
            raise InputValueError(f"{who}: decay_power={decay_power!r} must be a finite number > 0, e.g. 3.0")
        self.decay_power = float(decay_power)

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        height, width = images.shape[-2:]
        n = partners.shape[0]
        coefficients = torch.randn(n, 2, height, width // 2 + 1, generator=generator, device=generator.device)
        return {"lam": beta(self.alpha, self.alpha, (n,), generator), "coefficients": coefficients}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        height, width = images.shape[-2:]
        masks, lam = fourier_masks(params.coefficients, params.lam, height, width, self.decay_power)
        return torch.where(masks, images, partner_images), lam
