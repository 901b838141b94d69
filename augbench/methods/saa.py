"""Sample Adaptive Augmentation (SAA): FixMatch whose "naive" unlabeled samples get a more diverse strong view.

Reference:
    Gui et al., "Enhancing Sample Utilization through Sample Adaptive Augmentation in
    Semi-Supervised Learning", ICCV 2023 (arXiv:2309.03598); github.com/GuanGui-nju/SAA,
    ``datasets/dataset.py`` (``update_loss``, ``update_mask``, the pasted view in
    ``__getitem__``) and ``models/fixmatch/fixmatch.py`` (the training loop).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.keyed import KeyedGenerator
from augbench.methods.base import METHODS
from augbench.methods.fixmatch import STRONG_AUGMENTATION as FIXMATCH_STRONG
from augbench.methods.fixmatch import WEAK_AUGMENTATION, FixMatch
from augbench.mix.cutmix import paste_box
from augbench.random import Params, bernoulli
from augbench.registry import Spec
from augbench.train.context import StreamBatch, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = ["SAA", "STRONG_AUGMENTATION", "otsu_threshold", "paste_halves"]

STRONG_AUGMENTATION: Mapping[str, Any] = {
    "type": "Compose",
    "transforms": [{**FIXMATCH_STRONG["transforms"][0], "num_ops": 3}, FIXMATCH_STRONG["transforms"][1]],
}
"""SAA's strong view: FixMatch's (:data:`augbench.methods.fixmatch.STRONG_AUGMENTATION`) with
three RandAugment ops, as SAA's code (``RandAugment(3, 5)``: 3 ops, magnitudes uniform per op,
then Cutout)."""

_SECOND_VIEW = 2  # key view of the second strong image of a naive sample (FixMatch: weak 0, strong 1)
_SIDE_VIEW = 3  # key view of the left-or-top draw


def otsu_threshold(values: Tensor, bins: int = 256) -> Tensor:
    """Otsu's threshold of a 1-D vector: the split of its histogram with the largest
    between-class variance ``w_low * w_high * (mean_low - mean_high)^2``.

    The histogram has ``bins`` equal bins from ``min(values)`` to ``max(values)`` (scikit-image's
    ``threshold_otsu`` default of 256, which SAA's code calls); the threshold returned is the
    upper edge of the low class's last bin, so ``values < threshold`` is exactly the low class.
    (scikit-image returns that bin's centre, which puts the upper half of the bin on the high
    side.) Ties between splits go to the lowest one. A constant vector has no split: its value is
    returned, so nothing lies strictly below it. No host sync.

    Args:
        values: ``(N,)`` floating, finite, ``N >= 1``.
        bins: histogram bins, ``>= 2``.

    Returns:
        A 0-d tensor of ``values``' dtype and device.

    >>> otsu_threshold(torch.tensor([0.0, 0.1, 0.2, 5.0, 5.1, 5.2])).item()
    0.203125
    """
    if not isinstance(values, Tensor) or values.ndim != 1 or not values.is_floating_point():
        kind = f"a {values.ndim}-D {values.dtype} tensor" if isinstance(values, Tensor) else type(values).__name__
        raise InputTypeError(
            f"otsu_threshold: values must be a 1-D floating tensor, got {kind}; flatten it or use .float()"
        )
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InputValueError(f"otsu_threshold: bins={bins!r} must be an integer >= 2; scikit-image uses 256")
    if values.numel() == 0:
        raise InputValueError("otsu_threshold: values is empty; threshold at least one value")
    data = values.detach().double()
    low, high = data.min(), data.max()
    span = high - low
    index = ((data - low) / torch.where(span > 0, span, 1.0) * bins).long().clamp_(max=bins - 1)
    counts = torch.bincount(index, minlength=bins).double()
    centres = (torch.arange(bins, dtype=torch.float64, device=data.device) + 0.5) / bins  # in units of span
    mass = counts * centres
    weight_low, weight_high = counts.cumsum(0), counts.flip(0).cumsum(0).flip(0)
    mean_low = mass.cumsum(0) / weight_low.clamp_min(1)
    mean_high = mass.flip(0).cumsum(0).flip(0) / weight_high.clamp_min(1)
    between = weight_low[:-1] * weight_high[1:] * (mean_low[:-1] - mean_high[1:]) ** 2  # split after bin k
    edge = low + span * (between.argmax() + 1).double() / bins
    return torch.where(span > 0, edge, low).to(values.dtype)


def paste_halves(images: Tensor, partners: Tensor, paste: Tensor, left: Tensor) -> Tensor:
    """SAA's view of a naive sample: half of a second image pasted onto the first, in place.

    Where ``paste[b]``: columns ``[0, W // 2)`` of ``partners[b]`` replace those of
    ``images[b]`` when ``left[b]``, else rows ``[0, H // 2)`` (the top half); elsewhere
    ``images[b]`` is returned unchanged. One batched call (:func:`augbench.mix.cutmix.paste_box`
    with an empty box for the samples that are not pasted), exact pixel copies.

    Args:
        images: ``(B, C, H, W)`` first strong images, any dtype.
        partners: ``(B, C, H, W)`` second strong images, same dtype.
        paste: ``(B,)`` bool, which samples get the pasted view.
        left: ``(B,)`` bool, left half (True) or top half (False).

    Returns:
        ``(B, C, H, W)``, same dtype as ``images``.
    """
    if images.ndim != 4 or partners.shape != images.shape or partners.dtype != images.dtype:
        raise InputValueError(
            f"paste_halves: images {tuple(images.shape)} {images.dtype} and partners {tuple(partners.shape)} "
            f"{partners.dtype} must be two (B, C, H, W) batches of one shape and dtype"
        )
    batch, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    if paste.shape != (batch,) or left.shape != (batch,):
        raise InputValueError(f"paste_halves: paste and left must have shape ({batch},), got "
                              f"{tuple(paste.shape)} and {tuple(left.shape)}")
    device = images.device
    paste, left = paste.to(device), left.to(device)
    zero = torch.zeros(batch, dtype=torch.int64, device=device)
    rows = torch.where(paste, torch.where(left, height, height // 2), 0)
    cols = torch.where(paste, torch.where(left, width // 2, width), 0)
    box = Params(batch, drawn_by="paste_halves", top=zero, left=zero, height=rows, width=cols)
    pasted, _ = paste_box(images, partners, box)
    return pasted


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@METHODS.register("saa")
class SAA(FixMatch):
    """Sample Adaptive Augmentation on top of FixMatch (Gui et al., ICCV 2023).

    Everything of :class:`~augbench.methods.fixmatch.FixMatch` (weak/strong keyed views, one
    forward pass, confidence mask, ``sum mask CE / (mu B)``, EMA evaluation, its logs) plus:

    1. **Loss history.** Every step, for each unlabeled sample ``i`` of the batch (``ids``: its
       index in the pool) ``H_i <- m * H_i + (1 - m) * l_i`` with ``m = history_momentum``
       (0.001: the newest loss weighs 0.999, as the reference code), where ``l_i`` is the
       *unmasked* per-sample CE of the strong view against the weak view's pseudo-label
       (recorded whether or not the confidence mask keeps the sample). A sample's first loss
       initialises its ``H_i``.
    2. **Naive samples.** At the end of every epoch once ``warmup`` of the phase's steps are done:
       ``t = otsu_threshold(H over the unlabeled samples seen so far)``, ``naive_i = H_i < t``
       (never-seen samples are not naive). The set stays fixed until the next epoch's update.
    3. **Strong view.** A non-naive sample gets FixMatch's strong view (key view 1). A naive
       sample gets two independent strong images (key views 1 and 2) and the left half
       (``W // 2`` columns) or top half (``H // 2`` rows) of the second replaces that half of the
       first, 50/50 per sample and pass (a keyed draw, key view 3): :func:`paste_halves`,
       batched. Before the first naive set the second image is not made at all.
    4. The loss is FixMatch's, on these views.

    Shape: the unlabeled batch is ``(mu B, C, H, W)`` images (uint8 or float, as stored) and both
    strong images keep that shape and dtype; the history, seen and naive masks are ``(pool_size,)``
    float32 / bool tensors on the training device, indexed by the samples' pool ids.

    Logged per epoch, besides FixMatch's: ``naive_fraction`` (share of the seen unlabeled samples
    that are naive after the epoch's update; 0 during warm-up) and, after warm-up,
    ``loss_threshold`` (Otsu's ``t``).

    Simplified relative to the paper and its code:

    - the threshold is updated once per labeled-stream epoch; the reference updates once per
      256-step "epoch" of its loader (about 2.3 passes over CIFAR-10's unlabeled set) after 400
      of its 4096 such epochs, whence ``warmup`` 0.1 as a fraction of the phase's steps;
    - the paste happens on the finished strong images; the reference pastes after RandAugment +
      Cutout and then applies its flip-and-crop stage to the result (augbench's strong spec has
      no separate last stage: put geometric ops into ``strong``);
    - Otsu's threshold is computed in torch (:func:`otsu_threshold`, 256 bins) over the samples
      seen so far, and is the upper edge of the low class's last bin (scikit-image: that bin's
      centre); the reference thresholds every unlabeled sample, unseen ones at their zero
      initialisation (all are seen long before its first update);
    - the reference initialises ``H`` to 0, so a sample's first value is ``0.999 l``, here ``l``;
    - the default strong view is augbench's RandAugment with 3 ops at magnitudes uniform per op
      plus a Cutout square (:data:`STRONG_AUGMENTATION`; see FixMatch for how its ops and Cutout
      differ from the paper's); everything else FixMatch simplifies, SAA inherits.

    Args:
        threshold, lambda_u, ema_momentum, weak: as :class:`~augbench.methods.fixmatch.FixMatch`.
        strong: transform spec of the strong view (both images of a naive sample use it);
            required, a pasted view of two unaugmented copies would be the input itself.
        warmup: share in [0, 1] of the phase's optimiser steps before the first naive set (0:
            after the first epoch; 1: only after the last step, so training is FixMatch's).
        history_momentum: weight ``m`` in [0, 1) of the old history (0.001 as the reference;
            larger values remember older losses).
        input_shape, modality: from the run's data; SAA pastes image halves, so images only.
    """

    def __init__(
        self,
        threshold: float = 0.95,
        lambda_u: float = 1.0,
        ema_momentum: float = 0.999,
        weak: Spec | Transform | None = WEAK_AUGMENTATION,
        strong: Spec | Transform = STRONG_AUGMENTATION,
        warmup: float = 0.1,
        history_momentum: float = 0.001,
        input_shape: Sequence[int] | None = None,
        modality: str = "image",
    ) -> None:
        if modality != "image" or (input_shape is not None and len(input_shape) != 3):
            raise ConfigError(
                f"saa pastes image halves and needs (C, H, W) images, got modality {modality!r} with samples "
                f"{tuple(input_shape or ())}; use fixmatch for other data"
            )
        if strong is None:
            raise ConfigError("saa: strong=None leaves nothing to paste (two copies of the input are the input); "
                              "give a strong view spec")
        if not _number(warmup) or not 0.0 <= warmup <= 1.0:
            raise ConfigError(
                f"saa: warmup={warmup!r} must be a share of the steps in [0, 1]; the reference uses about 0.1"
            )
        if not _number(history_momentum) or not 0.0 <= history_momentum < 1.0:
            raise ConfigError(
                f"saa: history_momentum={history_momentum!r} must be in [0, 1) (the old history's weight); "
                "the reference uses 0.001"
            )
        super().__init__(threshold, lambda_u, ema_momentum, weak, strong, input_shape)
        self.warmup = float(warmup)
        self.history_momentum = float(history_momentum)
        self._history = torch.zeros(0)
        self._seen = torch.zeros(0, dtype=torch.bool)
        self._naive = torch.zeros(0, dtype=torch.bool)
        self._any_naive = False

    @property
    def loss_history(self) -> Tensor:
        """``(pool_size,)`` float32 loss history ``H`` by pool index (0 where not yet seen; empty
        before the first step)."""
        return self._history

    @property
    def seen(self) -> Tensor:
        """``(pool_size,)`` bool: which pool indices have a history."""
        return self._seen

    @property
    def naive(self) -> Tensor:
        """``(pool_size,)`` bool: the naive samples of the current epoch."""
        return self._naive

    def setup(self, ctx: TrainContext) -> None:
        """FixMatch's EMA copy, and an empty history (sized by the unlabeled pool at the first step)."""
        super().setup(ctx)
        self._history = torch.zeros(0, device=ctx.device)
        self._seen = torch.zeros(0, dtype=torch.bool, device=ctx.device)
        self._naive = torch.zeros(0, dtype=torch.bool, device=ctx.device)
        self._any_naive = False

    def keyed_views(self) -> list[KeyedView]:
        """FixMatch's views and the second strong image of naive samples (key view 2; made only
        in epochs with naive samples)."""
        return [*super().keyed_views(), KeyedView(self.strong, "unlabeled", _SECOND_VIEW)]

    def strong_view(self, ctx: TrainContext) -> Tensor:
        """FixMatch's strong view, with half of a second strong image pasted on naive samples."""
        first = super().strong_view(ctx)
        if not self._any_naive:
            return first
        unlabeled = self._pool(ctx.batch["unlabeled"])  # type: ignore[index]
        second = ctx.augment(self.strong, "unlabeled", _SECOND_VIEW)
        with ctx.timer.augmentation():
            left = bernoulli(0.5, len(unlabeled), KeyedGenerator(ctx.keys("unlabeled", _SIDE_VIEW), ctx.seed))
            return paste_halves(first, second, self._naive[unlabeled.ids], left)

    def unlabeled_loss(
        self, logits_strong: Tensor, pseudo_labels: Tensor, mask: Tensor, unlabeled: StreamBatch
    ) -> Tensor:
        """FixMatch's masked term; the *unmasked* per-sample losses update the history first."""
        unlabeled = self._pool(unlabeled)
        with torch.no_grad():
            losses = nnf.cross_entropy(logits_strong.detach().float(), pseudo_labels, reduction="none")
            ids = unlabeled.ids
            updated = self.history_momentum * self._history[ids] + (1.0 - self.history_momentum) * losses
            self._history[ids] = torch.where(self._seen[ids], updated, losses)
            self._seen[ids] = True
        return super().unlabeled_loss(logits_strong, pseudo_labels, mask, unlabeled)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """FixMatch's epoch logs; after warm-up, a new naive set from Otsu's threshold (one host sync)."""
        super().on_epoch_end(ctx)
        if self._history.numel() == 0 or ctx.step < self.warmup * ctx.total_steps:
            ctx.log.add("naive_fraction", 0.0)
            return
        seen = self._seen
        threshold = otsu_threshold(self._history[seen])
        self._naive = seen & (self._history < threshold)
        naive_count = int(self._naive.sum())
        self._any_naive = naive_count > 0
        ctx.log.add("naive_fraction", naive_count / int(seen.sum()))
        ctx.log.add("loss_threshold", threshold)

    def _pool(self, unlabeled: StreamBatch) -> StreamBatch:
        """``unlabeled``, after sizing the per-sample state by its pool at the first step."""
        if self._history.numel() == 0:
            device = unlabeled.ids.device
            self._history = torch.zeros(unlabeled.pool_size, device=device)
            self._seen = torch.zeros(unlabeled.pool_size, dtype=torch.bool, device=device)
            self._naive = torch.zeros(unlabeled.pool_size, dtype=torch.bool, device=device)
        elif self._history.numel() != unlabeled.pool_size:
            raise InputValueError(
                f"saa: this unlabeled batch comes from a pool of {unlabeled.pool_size} samples, the history holds "
                f"{self._history.numel()}; call setup(ctx) before training on another pool"
            )
        return unlabeled
