"""Mixup of waveforms ``(B, C, T)``: ``audio_mixup``."""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.mix.base import MIXERS
from augbench.mix.mixup import Mixup
from augbench.random import Params

__all__ = ["AudioMixup"]


@MIXERS.register("audio_mixup")
class AudioMixup(Mixup):
    """Mixup of waveforms: ``x~ = lam * x + (1 - lam) * x[index]``, ``lam ~ Beta(alpha, alpha)``.

    The waveforms are summed sample by sample (two sounds heard at once, at levels ``lam`` and
    ``1 - lam``), the target is ``lam * y + (1 - lam) * y[index]``; the arguments are
    :class:`~augbench.mix.mixup.Mixup`'s. Zero padding is mixed like any silence.

    Shape:
        waveforms ``(B, C, T)`` float, labels ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of
        the same shape and dtype.

    Reference:
        Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018 (its speech
        experiment mixes spectrograms; mixing waveforms is the same sum before the front-end's
        non-linearity).
    """

    modality = "audio"

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        lam = params.lam.to(torch.float32)
        mixed = torch.lerp(partner_images, images, lam.to(images.dtype).view(-1, 1, 1))
        return mixed, lam
