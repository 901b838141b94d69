"""Mixup and temporal CutMix of ``(B, T, J, 3)`` skeleton sequences: ``skeleton_mixup``, ``skeleton_cutmix``.

Both mix each sample with a partner of the same batch, per sample by default (see
:class:`~augbench.mix.base.Mixer`). Sequences are taken as having all ``T`` frames valid (the
bundled loaders resample every sequence to ``T``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.distributions import beta, rand
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.random import Params

__all__ = ["SkeletonMixup", "SkeletonCutMix"]


class _SkeletonMixer(Mixer):
    """The shared part: the modality and ``alpha``."""

    modality = "skeleton"

    def __init__(self, num_classes: int, alpha: float = 1.0, *, per_sample: bool = True, label_smoothing: float = 0.0) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        self.alpha = check_alpha(type(self).__name__, alpha)


@MIXERS.register("skeleton_mixup")
class SkeletonMixup(_SkeletonMixer):
    """Mixup of skeleton sequences: ``x~ = lam * x + (1 - lam) * x[index]`` joint by joint and
    frame by frame, ``lam ~ Beta(alpha, alpha)``; the target is ``lam * y + (1 - lam) * y[index]``.

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0.
        per_sample: one ``lam`` and partner per sample (default); ``False``: one ``lam`` and a
            permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        joints ``(B, T, J, 3)`` float, labels ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of
        the same shape and dtype, ``targets`` ``(B, num_classes)``, ``lam`` ``(B,)``.

    Reference:
        Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018.

    >>> joints = torch.randn(4, 8, 20, 3, generator=torch.Generator().manual_seed(0))
    >>> result = SkeletonMixup(num_classes=3)(joints, torch.tensor([0, 1, 2, 0]), generator=torch.Generator().manual_seed(0))
    >>> result.inputs.shape, result.targets.sum(1).tolist()
    (torch.Size([4, 8, 20, 3]), [1.0, 1.0, 1.0, 1.0])
    """

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        return {"lam": beta(self.alpha, self.alpha, (partners.shape[0],), generator)}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        lam = params.lam.to(torch.float32)
        dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
        mixed = torch.lerp(partner_images.to(dtype), images.to(dtype), lam.to(dtype).view(-1, 1, 1, 1))
        return mixed.to(images.dtype), lam


@MIXERS.register("skeleton_cutmix")
class SkeletonCutMix(_SkeletonMixer):
    """Temporal CutMix: a span of frames of every sequence is replaced by the same frames of its
    partner (all joints).

    ``lam ~ Beta(alpha, alpha)`` sets the span, ``m = round((1 - lam) T)`` frames placed
    uniformly inside the sequence (never clipped); the label weight is the share of frames
    kept, ``lam = 1 - m / T`` exactly (the drawn ``lam`` is not kept).

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0.
        per_sample: one span and partner per sample (default); ``False``: one draw and a
            permutation of the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        joints ``(B, T, J, 3)`` float, labels ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of
        the same shape and dtype, ``targets`` ``(B, num_classes)``, ``lam`` ``(B,)`` (multiples of ``1 / T``).

    Reference:
        Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with
        Localizable Features", ICCV 2019 (boxes there, frame spans here).

    >>> joints = torch.randn(4, 10, 20, 3, generator=torch.Generator().manual_seed(0))
    >>> result = SkeletonCutMix(num_classes=2)(joints, torch.tensor([0, 1, 1, 0]), generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(result.lam, (result.inputs == joints).flatten(2).all(2).float().mean(1))  # share of frames kept
    True
    """

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        n = partners.shape[0]
        return {"lam": beta(self.alpha, self.alpha, (n,), generator), "start": rand((n,), generator)}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        frames = images.shape[1]
        span = torch.round((1.0 - params.lam.to(torch.float32)) * frames)
        first = torch.minimum(torch.floor(params.start.to(torch.float32) * (frames - span + 1)), frames - span)
        steps = torch.arange(frames, device=images.device, dtype=torch.float32)[None, :]
        pasted = ((steps >= first[:, None]) & (steps < (first + span)[:, None]))[:, :, None, None]
        return torch.where(pasted, partner_images, images), 1.0 - span / frames
