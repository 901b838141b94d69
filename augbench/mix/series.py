"""Mixup and CutMix along time for ``(B, C, L)`` float series: ``series_mixup``, ``series_cutmix``.

Both mix each sample with a partner of the same batch, per sample by default (see
:class:`~augbench.mix.base.Mixer`). Series padded at the end (``pad_value``, 0.0 as augbench's
UCR/UEA loader pads unequal lengths) are mixed on their valid steps only: the partner's valid
part is first stretched to the sample's valid length by linear interpolation
(:func:`augbench.functional.timeseries.align_lengths`), and the sample keeps its own length and
padding. ``pad_value=None`` treats every step as signal.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

import augbench.functional.timeseries as F
from augbench.distributions import beta, rand
from augbench.errors import InputValueError
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.random import Params

__all__ = ["SeriesMixup", "SeriesCutMix"]


def _pad_value(who: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputValueError(f"{who}: pad_value={value!r} must be a finite number (the padding constant) or None (no padding)")
    return float(value)


class _SeriesMixer(Mixer):
    """The shared part: the modality, ``alpha``, ``pad_value`` and partner alignment."""

    modality = "timeseries"

    def __init__(
        self, num_classes: int, alpha: float = 1.0, *, pad_value: float | None = 0.0, per_sample: bool = True,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        who = type(self).__name__
        self.alpha = check_alpha(who, alpha)
        self.pad_value = _pad_value(who, pad_value)

    def _lengths(self, series: Tensor, what: str) -> Tensor | None:
        """``(B,)`` valid lengths of ``series``, ``None`` when nothing is padded; all-padding rows are refused."""
        if self.pad_value is None or bool((series[:, :, -1] != self.pad_value).any(1).all()):
            return None  # nothing padded (checked on the last step alone)
        lengths = F.valid_lengths(series, self.pad_value)
        if int(lengths.min()) == 0:
            sample = int((lengths == 0).nonzero()[0, 0])
            raise InputValueError(
                f"{type(self).__name__}: {what} {sample} is all padding (every value equals pad_value={self.pad_value:g}); "
                "drop empty series from the batch, or pass pad_value=None if the values are signal"
            )
        return lengths

    def _aligned(self, series: Tensor, partners: Tensor) -> tuple[Tensor, Tensor | None]:
        """The partners stretched to each sample's valid length, and the samples' lengths (``None``: unpadded)."""
        own = self._lengths(series, "sample")
        theirs = self._lengths(partners, "partner")
        if own is None and theirs is None:
            return partners, None
        length = series.shape[-1]
        own_lengths = own if own is not None else torch.full_like(theirs, length)
        their_lengths = theirs if theirs is not None else torch.full_like(own, length)
        return F.align_lengths(partners, their_lengths, own_lengths), own


@MIXERS.register("series_mixup")
class SeriesMixup(_SeriesMixer):
    """Mixup of time series: ``x~ = lam * x + (1 - lam) * x[index]``, ``lam ~ Beta(alpha, alpha)``.

    The target is ``lam * y + (1 - lam) * y[index]``. Padded samples are blended on their valid
    steps with the partner stretched to that length (see the module docstring).

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0.
        pad_value: trailing padding constant, or ``None`` (every step is signal).
        per_sample: one ``lam`` and partner per sample (default); ``False``: one ``lam`` and a
            permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        series ``(B, C, L)`` float, labels ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of
        the same shape and dtype, ``targets`` ``(B, num_classes)``, ``lam`` ``(B,)``.

    Reference:
        Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018.

    >>> series = torch.randn(4, 2, 30, generator=torch.Generator().manual_seed(0))
    >>> result = SeriesMixup(num_classes=3)(series, torch.tensor([0, 1, 2, 0]), generator=torch.Generator().manual_seed(0))
    >>> result.inputs.shape, result.targets.sum(1).tolist()
    (torch.Size([4, 2, 30]), [1.0, 1.0, 1.0, 1.0])
    """

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        return {"lam": beta(self.alpha, self.alpha, (partners.shape[0],), generator)}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        aligned, lengths = self._aligned(images, partner_images)
        lam = params.lam.to(torch.float32)
        dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
        mixed = torch.lerp(aligned.to(dtype), images.to(dtype), lam.to(dtype).view(-1, 1, 1)).to(images.dtype)
        if lengths is not None:
            valid = torch.arange(images.shape[-1], device=images.device)[None, None, :] < lengths[:, None, None]
            mixed = torch.where(valid, mixed, images)
        return mixed, lam


@MIXERS.register("series_cutmix")
class SeriesCutMix(_SeriesMixer):
    """CutMix along time: one span of every series is replaced by the same span of its partner.

    ``lam ~ Beta(alpha, alpha)`` sets the span: ``m = round((1 - lam) n)`` of the sample's ``n``
    valid steps, placed uniformly inside them (never clipped). The label weight is the share of
    steps kept, ``lam = 1 - m / n`` exactly (the drawn ``lam`` is not kept). A padded partner is
    stretched to the sample's valid length first (see the module docstring).

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0.
        pad_value: trailing padding constant, or ``None`` (every step is signal).
        per_sample: one span and partner per sample (default); ``False``: one draw and a
            permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        series ``(B, C, L)`` float, labels ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of
        the same shape and dtype, ``targets`` ``(B, num_classes)``, ``lam`` ``(B,)`` (multiples
        of ``1 / n``).

    Reference:
        Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with
        Localizable Features", ICCV 2019 (boxes there, time spans here).

    >>> series = torch.randn(4, 1, 20, generator=torch.Generator().manual_seed(0))
    >>> result = SeriesCutMix(num_classes=2)(series, torch.tensor([0, 1, 1, 0]), generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(result.lam, (result.inputs == series).all(1).float().mean(1))  # the share of steps kept
    True
    """

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        n = partners.shape[0]
        return {"lam": beta(self.alpha, self.alpha, (n,), generator), "start": rand((n,), generator)}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        aligned, lengths = self._aligned(images, partner_images)
        length = images.shape[-1]
        valid = torch.full((images.shape[0],), float(length), device=images.device) if lengths is None else lengths.float()
        span = torch.round((1.0 - params.lam.to(torch.float32)) * valid)
        first = torch.minimum(torch.floor(params.start.to(torch.float32) * (valid - span + 1)), valid - span)
        steps = torch.arange(length, device=images.device, dtype=torch.float32)[None, :]
        pasted = ((steps >= first[:, None]) & (steps < (first + span)[:, None]))[:, None, :]
        return torch.where(pasted, aligned, images), 1.0 - span / valid
