"""Mixup (Zhang et al., 2018): convex combinations of sample pairs and of their labels."""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.functional._utils import compute_dtype, restore_dtype
from augbench.distributions import beta
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.random import Params

__all__ = ["Mixup"]


@MIXERS.register("mixup")
class Mixup(Mixer):
    """Blend every image with its partner: ``x~ = lam * x + (1 - lam) * x[index]``, ``lam ~ Beta(alpha, alpha)``.

    The target is ``lam * y + (1 - lam) * y[index]`` with the same ``lam`` as the inputs.
    Images are blended in float32 (float64 stays float64) and cast back; uint8 results are
    rounded to the nearest integer, so a uint8 pixel differs from the exact blend by at most
    0.5, while ``lam`` in the result is the exact drawn weight.

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0: 1 on CIFAR, 0.2 on ImageNet; small ``alpha`` puts
            ``lam`` near 0 or 1 (little mixing).
        per_sample: one ``lam`` and partner per sample (default); ``False`` gives one ``lam``
            and a permutation of the batch, as in the reference code.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        images ``(B, C, H, W)`` uint8 (0-255) or floating (0-1), labels ``(B,)`` int64 ->
        ``MixResult`` with ``inputs`` of the same shape and dtype, ``targets``
        ``(B, num_classes)`` float32, ``lam`` ``(B,)`` float32, ``index`` ``(B,)`` int64.

    Reference:
        Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018.

    Example:
        >>> import torch
        >>> mixer = Mixup(num_classes=3)
        >>> images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
        >>> result = mixer(images, torch.tensor([0, 1, 2, 0]), generator=torch.Generator().manual_seed(0))
        >>> result.targets.sum(1)
        tensor([1., 1., 1., 1.])
    """

    def __init__(
        self, num_classes: int, alpha: float = 1.0, *, per_sample: bool = True, label_smoothing: float = 0.0
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        self.alpha = check_alpha(type(self).__name__, alpha)

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        return {"lam": beta(self.alpha, self.alpha, (partners.shape[0],), generator)}

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        dtype = compute_dtype(images)
        lam = params.lam.to(torch.float32)
        weight = lam.to(dtype).view(-1, 1, 1, 1)
        mixed = torch.lerp(partner_images.to(dtype), images.to(dtype), weight)
        return restore_dtype(mixed, images.dtype), lam

    def _mix_gathered(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        if type(self).mix is not Mixup.mix:  # a subclass mixes its own way
            return self.mix(images, partner_images, params)
        # mix()'s lerp, written into the gathered partners (or their compute-dtype copy)
        dtype = compute_dtype(images)
        lam = params.lam.to(torch.float32)
        partners = partner_images if partner_images.dtype == dtype else partner_images.to(dtype)
        mixed = partners.lerp_(images.to(dtype), lam.to(dtype).view(-1, 1, 1, 1))
        return restore_dtype(mixed, images.dtype), lam
