"""CutMix (Yun et al., 2019): paste a box of the partner image, weight labels by the box area."""

from __future__ import annotations

import torch
from torch import Tensor

import augbench.functional as F
from augbench.distributions import beta
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.random import Params, randint

__all__ = ["CutMix", "centred_box", "paste_box"]


def centred_box(lam: Tensor, centre_row: Tensor, centre_col: Tensor, height: int, width: int) -> dict[str, Tensor]:
    """The CutMix box of side ratio ``sqrt(1 - lam)`` around a centre, clipped to the image.

    The unclipped box is ``floor(height * sqrt(1 - lam))`` rows by
    ``floor(width * sqrt(1 - lam))`` columns (rows from the height, columns from the width,
    so non-square images get boxes of their own aspect), its top-left corner at
    ``centre - size // 2``; clipping to the image makes boxes near the border smaller.

    Args:
        lam: ``(n,)`` drawn weights in [0, 1].
        centre_row: ``(n,)`` int64 centre rows in ``[0, height)``.
        centre_col: ``(n,)`` int64 centre columns in ``[0, width)``.
        height: image height in pixels.
        width: image width in pixels.

    Returns:
        ``top``, ``left``, ``height``, ``width``: ``(n,)`` int64 tensors, the clipped box
        (possibly empty), on the device of ``centre_row``.
    """
    ratio = torch.sqrt(1.0 - lam.to(centre_row.device, torch.float64))
    cut_rows = torch.floor(height * ratio).long()
    cut_cols = torch.floor(width * ratio).long()
    top = centre_row - cut_rows // 2
    left = centre_col - cut_cols // 2
    bottom = (top + cut_rows).clamp(0, height)
    right = (left + cut_cols).clamp(0, width)
    top = top.clamp(0, height)
    left = left.clamp(0, width)
    return {"top": top, "left": left, "height": bottom - top, "width": right - left}


def paste_box(images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
    """Copy each partner's box into the same place of the image; the weight is the kept area.

    Args:
        images: ``(B, C, H, W)`` of any dtype.
        partner_images: the partners, same shape and dtype.
        params: ``top``, ``left``, ``height``, ``width`` as ``(B,)`` int64, boxes inside the image.

    Returns:
        The mixed batch (same shape and dtype) and ``lam = 1 - box area / (H * W)``,
        ``(B,)`` float32.
    """
    mask = F.box_mask(images, params.top, params.left, params.height, params.width)
    area = (params.height * params.width).to(torch.float32)
    lam = 1.0 - area / float(images.shape[-2] * images.shape[-1])
    return torch.where(mask, partner_images, images), lam


@MIXERS.register("cutmix")
class CutMix(Mixer):
    """Replace a box of every image by the same box of its partner; ``lam`` = kept area fraction.

    ``lam ~ Beta(alpha, alpha)`` sets the box size (side ratio ``sqrt(1 - lam)`` along each
    axis); the box centre is uniform over all pixels, so boxes near the border are clipped and
    touch it, and the label weight is recomputed from the clipped box:
    ``lam = 1 - box area / (H * W)`` exactly (the drawn ``lam`` is not kept). Per-sample
    boxes are built as masks by broadcast comparisons, one ``torch.where`` for the batch.
    The card's application probability (``cutmix_prob``) is left to the training method.

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0 (1 in the paper; OpenMixup uses 0.2 on CIFAR-100).
        per_sample: one box and partner per sample (default); ``False`` gives one box for the
            batch and a permutation of the batch, as in the reference code.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        images ``(B, C, H, W)`` of any supported dtype (no arithmetic on pixels), labels
        ``(B,)`` int64 -> ``MixResult`` with ``inputs`` of the same shape and dtype,
        ``targets`` ``(B, num_classes)`` float32, ``lam`` ``(B,)`` float32 (multiples of
        ``1 / (H * W)``), ``index`` ``(B,)`` int64.

    Reference:
        Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with
        Localizable Features", ICCV 2019.

    Example:
        >>> import torch
        >>> images = torch.zeros(4, 3, 8, 6, dtype=torch.uint8)
        >>> result = CutMix(10)(images, torch.arange(4), generator=torch.Generator().manual_seed(0))
        >>> result.lam.shape, result.targets.shape
        (torch.Size([4]), torch.Size([4, 10]))
    """

    def __init__(
        self, num_classes: int, alpha: float = 1.0, *, per_sample: bool = True, label_smoothing: float = 0.0
    ) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        self.alpha = check_alpha(type(self).__name__, alpha)

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        height, width = images.shape[-2:]
        n = partners.shape[0]
        lam = beta(self.alpha, self.alpha, (n,), generator)
        centre_row = randint(torch.full((n,), height, device=generator.device), generator)
        centre_col = randint(torch.full((n,), width, device=generator.device), generator)
        return centred_box(lam, centre_row, centre_col, height, width)

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        return paste_box(images, partner_images, params)
