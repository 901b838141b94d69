"""FixMatch: confident pseudo-labels of a weak view train a strong view.

Reference:
    Sohn et al., "FixMatch: Simplifying Semi-Supervised Learning with Consistency and
    Confidence", NeurIPS 2020 (arXiv:2001.07685); google-research/fixmatch ``fixmatch.py``
    (the ``model()`` method) is the reference implementation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.losses import masked_cross_entropy
from augbench.methods.base import METHODS, Method
from augbench.models.ema import MomentumEncoder
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, StreamBatch, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = ["FixMatch", "WEAK_AUGMENTATION", "STRONG_AUGMENTATION"]

WEAK_AUGMENTATION: Mapping[str, Any] = {"type": "RandomAffine", "degrees": 0, "translate": [0.125, 0.125]}
"""The paper's weak view without its horizontal flip (digits are not mirror-symmetric): a shift
of up to 12.5 % of each side (±1 px on 8x8 digits, ±3 px on 28x28), zero fill."""

STRONG_AUGMENTATION: Mapping[str, Any] = {
    "type": "Compose",
    "transforms": [
        {"type": "RandAugment", "num_ops": 2, "magnitude": 10, "num_magnitude_bins": 11, "magnitude_std": math.inf},
        {"type": "RandomErasing", "p": 1.0, "scale": [0.0, 0.25], "ratio": [1.0, 1.0], "value": 0.5},
    ],
}
"""The paper's strong view: RandAugment (augbench's class, torchvision's ops and ranges, every
drawn op applied) with 2 ops at a magnitude uniform in [0, 10] per op and sample
(``magnitude_std=inf``), then Cutout: one grey square of up to a quarter of the image area (side
up to half the image side), on every sample."""

_VIEWS = {"weak": 0, "strong": 1}  # keyed-draw views of one unlabeled sample (the labeled batch uses view 0)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@METHODS.register("fixmatch")
class FixMatch(Method):
    """FixMatch (Sohn et al., NeurIPS 2020): hard pseudo-labels from confident weak views.

    Per step, with a labeled batch ``(x, y)`` of size ``B`` and an unlabeled batch ``u`` of
    size ``mu * B`` (the data spec's ``ratio``):

    1. ``weak(x)``, ``weak(u)`` and ``strong(u)`` are drawn per sample with keyed draws
       (``ctx.keys(stream, view)``: labeled view 0, unlabeled weak view 0, strong view 1), so a
       sample's views depend on the seed, its id and its pass over the stream only;
    2. the three batches go through the model in **one concatenated forward pass** (as the
       reference, so batch-norm statistics see labeled and unlabeled data together);
    3. ``q = softmax(f(weak(u)))`` under stop-gradient, pseudo-label ``y^ = argmax q``, mask
       ``max q >= threshold``;
    4. ``loss = CE(f(weak(x)), y) + lambda_u * sum_b mask_b CE(f(strong(u_b)), y^_b) / (mu B)``:
       the unlabeled sum is divided by the whole unlabeled batch, not by the number of samples
       the mask keeps (:func:`augbench.losses.masked_cross_entropy`);
    5. after every optimiser step an EMA copy of the model follows it
       (:class:`~augbench.models.ema.MomentumEncoder`, registered as module ``"ema"`` so the
       phase cache keeps it); :meth:`eval_model` returns the EMA copy, so every evaluation
       uses it.

    The unlabeled stream's labels are read for logging only, never in the loss. Logged per
    epoch: ``mask_rate`` (share of unlabeled samples that pass the mask), ``unlabeled_loss``
    (the normalised term before ``lambda_u``), ``supervised_loss``, ``pseudo_label_accuracy``
    (accuracy of the pseudo-labels that pass the mask, over the epoch; absent in an epoch where
    none passed) and ``pseudo_label_accuracy_all`` (accuracy of every pseudo-label, masked or not).

    Defaults are the paper's: ``threshold`` 0.95, ``lambda_u`` 1, EMA momentum 0.999, the weak
    view :data:`WEAK_AUGMENTATION` and the strong view :data:`STRONG_AUGMENTATION`; ``mu`` (7 in
    the paper) is the data spec's ``ratio``, and SGD with Nesterov momentum, lr 0.03, the
    ``cos(7 pi k / 16 K)`` schedule and wd 5e-4 are the run's optimiser and schedule specs.

    Simplified relative to the paper:

    - the weak view has no horizontal flip by default (digits and MNIST are not mirror-
      symmetric; add ``HorizontalFlip`` for CIFAR) and shifts with zero fill, not reflection
      padding;
    - the strong view is augbench's RandAugment (its 14 ops and ranges, which differ slightly
      from the paper's RA list, e.g. no Cutout op inside RA) followed by Random Erasing of a
      square with area fraction uniform in [0, 0.25], i.e. Cutout with side ``sqrt(U)`` times
      the image side, not a side uniform in [0, 0.5];
    - the EMA copy also copies buffers (batch-norm statistics) from the online model rather than
      averaging them; CTAugment is not implemented.

    Args:
        threshold: confidence ``tau`` in [0, 1] a pseudo-label needs (1.0 masks almost
            everything, 0 keeps everything).
        lambda_u: weight ``>= 0`` of the unlabeled loss.
        ema_momentum: momentum in [0, 1] of the evaluated EMA copy (0: the online model).
        weak: transform spec of the weak view (labeled batch and pseudo-label targets), or
            ``None`` for no augmentation.
        strong: transform spec of the strong view of the unlabeled batch, or ``None``.
        input_shape: one sample's shape, from the run's data (checks that the views keep
            matching shapes, which the single forward pass needs).
    """

    streams = ("labeled", "unlabeled")
    spec_fields = {"weak": "transform", "strong": "transform"}

    def __init__(
        self,
        threshold: float = 0.95,
        lambda_u: float = 1.0,
        ema_momentum: float = 0.999,
        weak: Spec | Transform | None = WEAK_AUGMENTATION,
        strong: Spec | Transform | None = STRONG_AUGMENTATION,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        if not _number(threshold) or not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"fixmatch: threshold={threshold!r} must be a number in [0, 1]; the paper uses 0.95")
        if not _number(lambda_u) or lambda_u < 0:
            raise ConfigError(f"fixmatch: lambda_u={lambda_u!r} must be a finite number >= 0; the paper uses 1.0")
        if not _number(ema_momentum) or not 0.0 <= ema_momentum <= 1.0:
            raise ConfigError(
                f"fixmatch: ema_momentum={ema_momentum!r} must be a number in [0, 1]; the paper uses 0.999"
            )
        self.threshold = float(threshold)
        self.lambda_u = float(lambda_u)
        self.ema_momentum = float(ema_momentum)
        self.weak = build_transform(weak)
        self.strong = build_transform(strong)
        if input_shape is not None:
            shape = tuple(input_shape)
            weak_shape, strong_shape = (shape if t is None else t.output_shape(shape) for t in (self.weak, self.strong))
            if weak_shape != strong_shape:
                raise ConfigError(
                    f"fixmatch: the weak view gives samples {weak_shape}, the strong view {strong_shape}; "
                    "both go through one forward pass, so make them the same size"
                )
        self._ema: MomentumEncoder[nn.Module] | None = None
        self._kept = torch.zeros(())
        self._kept_correct = torch.zeros(())

    def setup(self, ctx: TrainContext) -> None:
        """Create the EMA copy of the model (module ``"ema"``: saved and restored with the phase)."""
        self._ema = MomentumEncoder(ctx.model)
        ctx.add_module("ema", self._ema.model, trainable=False)
        self._kept = torch.zeros((), device=ctx.device)
        self._kept_correct = torch.zeros((), device=ctx.device)

    def keyed_views(self) -> list[KeyedView]:
        """Weak views of both streams (key view 0) and the strong unlabeled view (key view 1)."""
        views = [(self.weak, "labeled", _VIEWS["weak"]), (self.weak, "unlabeled", _VIEWS["weak"]),
                 (self.strong, "unlabeled", _VIEWS["strong"])]
        return [KeyedView(transform, stream, view) for transform, stream, view in views if transform is not None]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled, unlabeled = batch["labeled"], batch["unlabeled"]
        weak = torch.cat([ctx.augment(self.weak, "labeled", _VIEWS["weak"]),
                          ctx.augment(self.weak, "unlabeled", _VIEWS["weak"])])
        strong = self.strong_view(ctx)
        logits = ctx.model(ctx.normalize(torch.cat([weak, strong])))
        logits_labeled, logits_weak, logits_strong = logits.split([len(labeled), len(unlabeled), len(unlabeled)])
        supervised = nnf.cross_entropy(logits_labeled, labeled.labels)
        with torch.no_grad():
            confidence, pseudo_labels = logits_weak.detach().softmax(dim=1).max(dim=1)
            mask = (confidence >= self.threshold).to(logits_weak.dtype)
        unsupervised = self.unlabeled_loss(logits_strong, pseudo_labels, mask, unlabeled)
        with torch.no_grad():  # unlabeled labels: logging only
            correct = (pseudo_labels == unlabeled.labels).to(mask.dtype)
            self._kept += mask.sum()
            self._kept_correct += (correct * mask).sum()
        ctx.log.add("mask_rate", mask.mean())
        ctx.log.add("unlabeled_loss", unsupervised)
        ctx.log.add("supervised_loss", supervised)
        ctx.log.add("pseudo_label_accuracy_all", correct.mean())
        return StepOutput(supervised + self.lambda_u * unsupervised)

    def strong_view(self, ctx: TrainContext) -> Tensor:
        """The strong view ``(mu B, ...)`` of the step's unlabeled batch (key view 1); a subclass
        that changes the strong augmentation (SAA) overrides this."""
        return ctx.augment(self.strong, "unlabeled", _VIEWS["strong"])

    def unlabeled_loss(
        self, logits_strong: Tensor, pseudo_labels: Tensor, mask: Tensor, unlabeled: StreamBatch
    ) -> Tensor:
        """The unlabeled term before ``lambda_u``: ``sum_b mask_b CE(logits_strong_b, y^_b) / (mu B)``.

        Args:
            logits_strong: ``(mu B, K)`` float logits of the strong view (with gradient).
            pseudo_labels: ``(mu B,)`` int64 argmax of the weak view.
            mask: ``(mu B,)`` float, 1 where the weak view is confident.
            unlabeled: the step's unlabeled stream batch (its ``ids`` name the samples; a
                subclass that tracks per-sample statistics, as SAA does, reads them).
        """
        return masked_cross_entropy(logits_strong, pseudo_labels, mask, float(len(unlabeled)))

    def on_after_step(self, ctx: TrainContext) -> None:
        self._encoder("on_after_step").update(ctx.model, self.ema_momentum)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Log the epoch's accuracy of the kept pseudo-labels (one host sync per epoch)."""
        if float(self._kept) > 0:
            ctx.log.add("pseudo_label_accuracy", self._kept_correct / self._kept)
        self._kept.zero_()
        self._kept_correct.zero_()

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The EMA copy of ``model``: what the run's evaluations use."""
        return self._encoder("eval_model").model

    def _encoder(self, who: str) -> MomentumEncoder[nn.Module]:
        if self._ema is None:
            raise ConfigError(f"FixMatch.{who}: no EMA model yet; setup(ctx) creates it when a phase starts")
        return self._ema
