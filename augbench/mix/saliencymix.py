"""SaliencyMix (Uddin et al., 2021): CutMix with the box centred on the partner's saliency peak."""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.distributions import beta
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.mix.cutmix import centred_box, paste_box
from augbench.random import Params

__all__ = ["SaliencyMix", "spectral_residual_saliency", "saliency_peaks"]

_MAX_SIDE = 64
"""Saliency is computed on images shrunk so that their longer side is at most this (as OpenCV)."""
_BLUR_SIGMA = 1.0
"""Standard deviation, in working-resolution pixels, of the Gaussian that smooths the map."""
_BLUR_RADIUS = 2
_EPS = 1e-8


def _blur(maps: Tensor) -> Tensor:
    """Separable Gaussian smoothing of ``(B, 1, h, w)`` maps with edge replication."""
    offsets = torch.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, device=maps.device, dtype=maps.dtype)
    kernel = torch.exp(-0.5 * (offsets / _BLUR_SIGMA) ** 2)
    kernel = kernel / kernel.sum()
    padded = nnf.pad(maps, (_BLUR_RADIUS, _BLUR_RADIUS, _BLUR_RADIUS, _BLUR_RADIUS), mode="replicate")
    rows_blurred = nnf.conv2d(padded, kernel.view(1, 1, -1, 1))
    return nnf.conv2d(rows_blurred, kernel.view(1, 1, 1, -1))


def spectral_residual_saliency(images: Tensor) -> Tensor:
    """Spectral-residual saliency maps of a batch, computed with batched FFTs.

    Per image: grey level (channel mean, in [0, 1]), shrunk by area averaging so the longer
    side is at most 64 px; log-amplitude spectrum ``L`` and phase ``P`` of its 2-D FFT; the
    spectral residual ``R = L - mean_3x3(L)`` (circular padding: the spectrum is periodic);
    saliency ``|IFFT(exp(R + iP))|^2``, smoothed by a Gaussian (sigma 1 px) and scaled to
    [0, 1] per image (constant images give an all-zero map).

    Args:
        images: ``(B, C, H, W)`` uint8 (0-255) or floating (0-1).

    Returns:
        ``(B, h, w)`` float32 maps in [0, 1] at the working resolution (``h = H``, ``w = W``
        when ``max(H, W) <= 64``), on the images' device.

    Reference:
        Hou and Zhang, "Saliency Detection: A Spectral Residual Approach", CVPR 2007.
    """
    height, width = images.shape[-2:]
    grey = images.to(torch.float32).mean(1, keepdim=True)
    if images.dtype == torch.uint8:
        grey = grey / 255.0
    longest = max(height, width)
    if longest > _MAX_SIDE:
        size = (max(1, round(height * _MAX_SIDE / longest)), max(1, round(width * _MAX_SIDE / longest)))
        grey = nnf.interpolate(grey, size=size, mode="area")
    spectrum = torch.fft.fft2(grey)
    log_amplitude = torch.log(spectrum.abs() + _EPS)
    local_mean = nnf.avg_pool2d(nnf.pad(log_amplitude, (1, 1, 1, 1), mode="circular"), 3, stride=1)
    residual = torch.polar(torch.exp(log_amplitude - local_mean), torch.angle(spectrum))
    saliency = _blur(torch.fft.ifft2(residual).abs().square())[:, 0]
    low = saliency.flatten(1).min(1).values[:, None, None]
    high = saliency.flatten(1).max(1).values[:, None, None]
    return (saliency - low) / (high - low).clamp(min=_EPS)


def saliency_peaks(images: Tensor) -> tuple[Tensor, Tensor]:
    """Row and column of each image's saliency maximum, in the images' own pixel coordinates.

    The argmax of :func:`spectral_residual_saliency` (the first one in row-major order on
    ties) is mapped back from the working resolution to the pixel containing its centre.

    Args:
        images: ``(B, C, H, W)`` uint8 (0-255) or floating (0-1).

    Returns:
        ``(B,)`` int64 rows in ``[0, H)`` and ``(B,)`` int64 columns in ``[0, W)``.
    """
    height, width = images.shape[-2:]
    saliency = spectral_residual_saliency(images)
    map_height, map_width = saliency.shape[-2:]
    peak = saliency.flatten(1).argmax(1)
    rows = torch.div((2 * (peak // map_width) + 1) * height, 2 * map_height, rounding_mode="floor")
    cols = torch.div((2 * (peak % map_width) + 1) * width, 2 * map_width, rounding_mode="floor")
    return rows, cols


@MIXERS.register("saliencymix")
class SaliencyMix(Mixer):
    """CutMix whose box is centred on the most salient pixel of the partner image.

    ``lam ~ Beta(alpha, alpha)`` sets the box size as in CutMix (side ratio
    ``sqrt(1 - lam)``); the box is centred on the saliency peak of the partner (the source of
    the pasted pixels), clipped to the image, and the partner's region is pasted into the
    *same* location; the label weight is recomputed from the clipped box,
    ``lam = 1 - box area / (H * W)``. With ``per_sample=False`` one box, from the saliency of
    sample 0's partner, is used for the whole batch, as in the reference code.

    Simplification: the reference uses OpenCV's ``StaticSaliencyFineGrained`` detector on
    one image at a time; here saliency is the spectral-residual detector of Hou and Zhang
    (:func:`spectral_residual_saliency`), computed in-project for the whole batch with
    ``torch.fft`` on the images' device. The reference implementation's per-batch application
    probability is left to the training method.

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0 (1 in the paper; OpenMixup uses 0.2 on CIFAR-100).
        per_sample: one box and partner per sample (default); ``False`` gives one box for the
            batch and a permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        images ``(B, C, H, W)`` uint8 (0-255) or floating (0-1), labels ``(B,)`` int64 ->
        ``MixResult`` with ``inputs`` of the same shape and dtype, ``targets``
        ``(B, num_classes)`` float32, ``lam`` ``(B,)`` float32, ``index`` ``(B,)`` int64.

    Reference:
        Uddin et al., "SaliencyMix: A Saliency Guided Data Augmentation Strategy for Better
        Regularization", ICLR 2021.
    """

    def __init__(
        self, num_classes: int, alpha: float = 1.0, *, per_sample: bool = True, label_smoothing: float = 0.0
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        self.alpha = check_alpha(type(self).__name__, alpha)

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        height, width = images.shape[-2:]
        lam = beta(self.alpha, self.alpha, (partners.shape[0],), generator)
        rows, cols = saliency_peaks(images[partners])
        return centred_box(lam, rows, cols, height, width)

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        return paste_box(images, partner_images, params)
