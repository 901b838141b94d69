"""Token-span CutMix for ``(B, L)`` int64 token ids, right-padded with 0: ``text_cutmix``."""

from __future__ import annotations

import torch
from torch import Tensor

import augbench.functional.text as F
from augbench.distributions import beta, rand
from augbench.mix.base import MIXERS, Mixer, check_alpha
from augbench.random import Params

__all__ = ["TextCutMix"]


@MIXERS.register("text_cutmix")
class TextCutMix(Mixer):
    """Replace a random span of each sentence by a span of its partner; ``lam`` = share of tokens kept.

    ``lam ~ Beta(alpha, alpha)`` sets the span: ``k = round((1 - lam) * n)`` tokens of a
    sentence of ``n`` (at most the partner's length), at a uniform place in the sentence,
    replaced by ``k`` consecutive tokens from a uniform place in the partner. Lengths and
    padding are unchanged (a sentence is never emptied) and the label weight is recomputed as
    ``lam = 1 - k / n`` exactly. A token-level analogue of CutMix (Yun et al., ICCV 2019); the
    same idea as SSMix's span mixing without its saliency-based span choice (simplified).

    Args:
        num_classes: number of classes, ``>= 1``.
        alpha: Beta concentration, > 0.
        per_sample: one span and partner per sample (default), or one draw for the batch.
        label_smoothing: in [0, 1), applied to the one-hot rows before mixing.

    Shape:
        ids ``(B, L)`` int64 right-padded, labels ``(B,)`` int64 -> ``MixResult`` with
        ``inputs`` ``(B, L)`` int64, ``targets`` ``(B, num_classes)``, ``lam`` ``(B,)`` float32.

    >>> ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    >>> TextCutMix(2)(ids, torch.tensor([0, 1]), generator=torch.Generator().manual_seed(0)).lam.tolist()
    [0.75, 0.5]
    """

    modality = "text"

    def __init__(self, num_classes: int, alpha: float = 1.0, *, per_sample: bool = True, label_smoothing: float = 0.0) -> None:
        super().__init__(num_classes, per_sample=per_sample, label_smoothing=label_smoothing)
        self.alpha = check_alpha(type(self).__name__, alpha)

    def make_params(self, images: Tensor, partners: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        n = partners.shape[0]
        return {
            "drawn_lam": beta(self.alpha, self.alpha, (n,), generator),
            "start": rand((n,), generator),
            "partner_start": rand((n,), generator),
        }

    def mix(self, images: Tensor, partner_images: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        lengths = F.token_lengths(images, type(self).__name__)
        partner_lengths = (partner_images != F.PAD_ID).sum(1)
        size = torch.round((1.0 - params.drawn_lam.double()) * lengths).long().minimum(partner_lengths)
        start = F.uniform_positions(params.start, lengths - size + 1)
        partner_start = F.uniform_positions(params.partner_start, partner_lengths - size + 1)
        mixed = F.splice_tokens(images, partner_images, start, partner_start, size)
        return mixed, (1.0 - size.double() / lengths).float()
