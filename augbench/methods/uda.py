"""UDA: the prediction on an unlabeled sample, sharpened, trains the prediction on its strong augmentation.

Reference:
    Xie, Dai, Hovy, Luong and Le, "Unsupervised Data Augmentation for Consistency Training",
    NeurIPS 2020 (arXiv:1904.12848); google-research/uda is the reference implementation
    (``image/main.py``: TSA, the confidence mask, the sharpened target and the KL term;
    ``image/randaugment/policies.py``: the image augmentation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import AugbenchError, ConfigError
from augbench.losses import masked_cross_entropy, masked_kl_divergence
from augbench.methods.base import METHODS, Method
from augbench.methods.fixmatch import STRONG_AUGMENTATION
from augbench.models.ema import MomentumEncoder
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Compose, Transform
from augbench.transforms.text import TextRewrite

__all__ = ["UDA", "TSA_SCHEDULES", "TEXT_AUGMENTATION", "tsa_threshold"]

TSA_SCHEDULES = ("none", "linear", "log", "exp")
"""Training-signal-annealing schedules: ``none`` (every labeled example trains) and the paper's three."""

TEXT_AUGMENTATION: Mapping[str, Any] = {
    "type": "Compose",
    "transforms": [{"type": "TextRandomSwap", "alpha": 0.1}, {"type": "TextRandomDelete", "alpha": 0.1}],
}
"""The strong view of text when no other is named: EDA's two vocabulary-free ops (Wei & Zou 2019),
``max(1, floor(0.1 n))`` swaps of two words, then each word deleted with probability 0.1. A
stand-in for the paper's back-translation (set ``rewriter``) and TF-IDF word replacement."""

_TSA_SCALE = 5.0  # the reference's exponent scale of the log and exp schedules
_LABELED_VIEW, _STRONG_VIEW = 0, 1  # key views: the labeled batch (as supervised training), the strong view


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def tsa_threshold(schedule: str, progress: float, num_classes: int) -> float:
    """The TSA threshold ``eta_t = alpha_t (1 - 1/K) + 1/K`` at training progress ``t = progress``.

    ``alpha_t`` is ``t`` (``linear``), ``1 - exp(-5 t)`` (``log``: releases the signal early) or
    ``exp(5 (t - 1))`` (``exp``: releases it late); ``none`` gives 1, which no probability exceeds.
    A labeled example whose probability of its correct class exceeds ``eta_t`` is left out of
    the supervised loss at that step.

    Args:
        schedule: one of :data:`TSA_SCHEDULES`.
        progress: ``step / total_steps``, clipped to [0, 1].
        num_classes: ``K >= 1``.

    >>> [round(tsa_threshold(s, 0.5, 10), 4) for s in ("none", "linear", "log", "exp")]
    [1.0, 0.55, 0.9261, 0.1739]
    """
    if schedule not in TSA_SCHEDULES:
        raise ConfigError(f"tsa={schedule!r} is not a TSA schedule; choose from {', '.join(TSA_SCHEDULES)}")
    if schedule == "none":
        return 1.0
    t = min(max(float(progress), 0.0), 1.0)
    alpha = {"linear": t, "log": 1.0 - math.exp(-_TSA_SCALE * t), "exp": math.exp(_TSA_SCALE * (t - 1.0))}[schedule]
    return alpha * (1.0 - 1.0 / num_classes) + 1.0 / num_classes


@METHODS.register("uda")
class UDA(Method):
    """UDA (Xie et al., NeurIPS 2020): consistency between an unlabeled sample and its strong augmentation.

    Per step, with a labeled batch ``(x, y)`` of size ``B`` and an unlabeled batch ``u`` of
    size ``mu * B`` (the data spec's ``ratio``; 7 in the paper):

    1. ``u_aug`` is the strong view of ``u`` (key view 1) and ``x`` is the labeled batch as
       stored, or ``labeled_augment(x)`` (key view 0, as supervised training draws it), keyed
       per sample so a run is replayable;
    2. ``x``, ``u`` and ``u_aug`` go through the model in **one concatenated forward pass** (as
       the reference, so batch-norm statistics see all three; with ``mu = 7`` they are dominated
       by the unlabeled data);
    3. supervised loss: cross-entropy of ``x``; with TSA, examples whose correct-class
       probability exceeds ``eta_t`` (:func:`tsa_threshold`, ``t = step / total_steps``) are
       left out and the sum is divided by the number of examples **kept** (at least 1);
    4. target ``p~ = softmax(f(u) / temperature)`` under stop-gradient (the temperature
       sharpens the target only, never the prediction); mask
       ``max softmax(f(u)) > confidence_threshold`` from the **unsharpened** probabilities;
    5. ``L_unsup = sum_b mask_b KL(p~_b || softmax(f(u_aug_b))) / (mu B)``, the batch mean of
       the masked KL (:func:`augbench.losses.masked_kl_divergence`, the reference's
       ``reduce_mean``); ``loss = L_sup + lambda_u L_unsup`` (weight decay is the optimiser's);
    6. after every optimiser step an EMA copy follows the model
       (:class:`~augbench.models.ema.MomentumEncoder`, module ``"ema"``, kept by the phase
       cache); :meth:`eval_model` returns it, so every evaluation uses the EMA weights.

    ``lambda_u = 0`` skips the unlabeled batch altogether (no forward pass, no augmentation):
    it is then supervised training with TSA exactly (with ``tsa: none`` and ``ema_momentum: 0``,
    the ``supervised`` method with ``augment = labeled_augment``, bit for bit).

    Logged per epoch: ``mask_rate`` (share of unlabeled samples that pass the mask),
    ``unlabeled_loss`` (``L_unsup`` before ``lambda_u``), ``supervised_loss`` and, with TSA on,
    ``tsa_threshold`` (mean ``eta_t``) and ``tsa_kept`` (share of labeled examples kept).
    The unlabeled stream's labels are never read.

    **Text.** When the run's modality is ``text`` the strong view is ``text_augment`` (default
    :data:`TEXT_AUGMENTATION`, EDA ops on token ids); with a ``rewriter`` (a
    :data:`~augbench.text.rewrite.REWRITERS` spec, e.g. a back-translation back-end) a
    :class:`~augbench.transforms.text.TextRewrite` of ``vocabulary`` runs first. ``augment`` is
    the strong view of every other modality.

    Defaults are the paper's CIFAR-10 script: ``confidence_threshold`` 0.8, ``temperature``
    0.4, ``lambda_u`` 1, TSA off (images; the text experiments use ``linear``), EMA momentum
    0.9999. SGD lr 0.03 with the ``cos(7 pi t / 16)`` decay, wd 5e-4, B 64 and mu 7 are the
    run's optimiser, schedule and data specs.

    Simplified relative to the paper:

    - the image view is FixMatch's (:data:`~augbench.methods.fixmatch.STRONG_AUGMENTATION`):
      augbench's RandAugment, 2 ops each always applied at a magnitude uniform in [0, 10] of
      10, then Cutout as Random Erasing of up to a quarter of the area; the reference applies
      each of its 2 ops with probability 0.5 at a magnitude drawn from 1..9, from its own
      15-op list, then Cutout;
    - the unlabeled samples' augmentations are drawn online per step, not generated offline
      (the reference pre-computes copies); ``u`` itself is not augmented;
    - text: EDA ops (and any registered rewriter) instead of back-translation with sampling
      and TF-IDF word replacement, and no BERT (the run's text model);
    - the EMA copy copies buffers (batch-norm statistics) from the online model instead of
      averaging them.

    Args:
        confidence_threshold: ``beta`` in [0, 1]; an unlabeled sample counts only if its largest
            unsharpened probability exceeds it (strictly; 1 masks everything).
        temperature: ``tau > 0`` of the target's softmax (``< 1`` sharpens; 1: no sharpening).
        lambda_u: weight ``>= 0`` of the unlabeled loss (0: supervised training with TSA).
        tsa: training-signal-annealing schedule, one of :data:`TSA_SCHEDULES`.
        ema_momentum: momentum in [0, 1] of the evaluated EMA copy (0: the online model).
        augment: transform spec of the strong view for every modality but text, or ``None``.
        text_augment: transform spec of the strong view of text, or ``None``.
        rewriter: a rewriter spec whose :class:`TextRewrite` opens the text strong view, or
            ``None`` (text runs only).
        vocabulary: the vocabulary spec of the run's token ids (e.g. ``sst2``), needed with
            ``rewriter``.
        labeled_augment: transform spec of the labeled batch, or ``None`` (the card's algorithm;
            the reference crops and flips CIFAR's labeled images).
        input_shape, modality: from the run's data (never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, ...)`` and ``batch["unlabeled"].inputs`` ``(mu B, ...)``
        in the modality's stored layout (uint8 images ``(., C, H, W)``, int64 ids ``(., L)``)
        -> a scalar loss.

    Raises:
        ConfigError: an option out of range, a view for another modality than the run's, a view
            that changes the sample shape, ``rewriter`` without ``vocabulary`` or on non-text data.
    """

    streams = ("labeled", "unlabeled")
    spec_fields = {"augment": "transform", "text_augment": "transform", "labeled_augment": "transform"}

    def __init__(
        self,
        confidence_threshold: float = 0.8,
        temperature: float = 0.4,
        lambda_u: float = 1.0,
        tsa: str = "none",
        ema_momentum: float = 0.9999,
        augment: Spec | Transform | None = STRONG_AUGMENTATION,
        text_augment: Spec | Transform | None = TEXT_AUGMENTATION,
        rewriter: Spec | None = None,
        vocabulary: Spec | None = None,
        labeled_augment: Spec | Transform | None = None,
        input_shape: Sequence[int] | None = None,
        modality: str = "image",
    ) -> None:
        if not _number(confidence_threshold) or not 0.0 <= confidence_threshold <= 1.0:
            raise ConfigError(
                f"uda: confidence_threshold={confidence_threshold!r} must be a number in [0, 1]; the paper uses 0.8"
            )
        if not _number(temperature) or temperature <= 0:
            raise ConfigError(f"uda: temperature={temperature!r} must be a number > 0 (1: no sharpening); the paper uses 0.4")
        if not _number(lambda_u) or lambda_u < 0:
            raise ConfigError(f"uda: lambda_u={lambda_u!r} must be a finite number >= 0; the paper uses 1.0")
        if tsa not in TSA_SCHEDULES:
            raise ConfigError(f"uda: tsa={tsa!r} is not a TSA schedule; choose from {', '.join(TSA_SCHEDULES)}")
        if not _number(ema_momentum) or not 0.0 <= ema_momentum <= 1.0:
            raise ConfigError(f"uda: ema_momentum={ema_momentum!r} must be a number in [0, 1]; the paper uses 0.9999")
        self.confidence_threshold = float(confidence_threshold)
        self.temperature = float(temperature)
        self.lambda_u = float(lambda_u)
        self.tsa = tsa
        self.ema_momentum = float(ema_momentum)
        self.strong = _strong_view(modality, augment, text_augment, rewriter, vocabulary)
        self.labeled_augment = build_transform(labeled_augment)
        strong_option = "text_augment" if modality == "text" else "augment"
        for option, view in (("labeled_augment", self.labeled_augment), (strong_option, self.strong)):
            _check_view(option, view, modality, input_shape)
        self._ema: MomentumEncoder[nn.Module] | None = None

    def setup(self, ctx: TrainContext) -> None:
        """Create the EMA copy of the model (module ``"ema"``: saved and restored with the phase)."""
        self._ema = MomentumEncoder(ctx.model)
        ctx.add_module("ema", self._ema.model, trainable=False)

    def keyed_views(self) -> list[KeyedView]:
        """The labeled view (key view 0) and, unless ``lambda_u`` is 0, the strong view (key view 1)."""
        views = [(self.labeled_augment, "labeled", _LABELED_VIEW)]
        if self.lambda_u > 0:
            views.append((self.strong, "unlabeled", _STRONG_VIEW))
        return [KeyedView(transform, stream, view) for transform, stream, view in views if transform is not None]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        inputs = ctx.augment(self.labeled_augment, "labeled", _LABELED_VIEW)
        if self.lambda_u == 0:
            supervised = self._supervised_loss(ctx.model(ctx.normalize(inputs)), labeled.labels, ctx)
            return StepOutput(supervised)
        unlabeled = batch["unlabeled"]
        strong = ctx.augment(self.strong, "unlabeled", _STRONG_VIEW)
        logits = ctx.model(ctx.normalize(torch.cat([inputs, unlabeled.inputs, strong])))
        logits_labeled, logits_original, logits_strong = logits.split([len(labeled), len(unlabeled), len(unlabeled)])
        supervised = self._supervised_loss(logits_labeled, labeled.labels, ctx)
        with torch.no_grad():  # the target and the mask pass no gradient
            mask = (logits_original.softmax(dim=1).amax(dim=1) > self.confidence_threshold).to(logits_original.dtype)
            targets = (logits_original / self.temperature).softmax(dim=1)
        unsupervised = masked_kl_divergence(logits_strong, targets, mask, float(len(unlabeled)))
        ctx.log.add("mask_rate", mask.mean())
        ctx.log.add("unlabeled_loss", unsupervised)
        return StepOutput(supervised + self.lambda_u * unsupervised)

    def _supervised_loss(self, logits: Tensor, labels: Tensor, ctx: TrainContext) -> Tensor:
        """Cross-entropy of the labeled batch; with TSA, over the examples at or below ``eta_t`` only."""
        if self.tsa == "none":
            loss = nnf.cross_entropy(logits, labels)
        else:
            threshold = tsa_threshold(self.tsa, ctx.step / max(ctx.total_steps, 1), logits.shape[1])
            with torch.no_grad():
                correct = logits.softmax(dim=1).gather(1, labels[:, None]).squeeze(1)
                kept = (correct <= threshold).to(logits.dtype)
            loss = masked_cross_entropy(logits, labels, kept, kept.sum().clamp_min(1.0))
            ctx.log.add("tsa_threshold", threshold)
            ctx.log.add("tsa_kept", kept.mean())
        ctx.log.add("supervised_loss", loss)
        return loss

    def on_after_step(self, ctx: TrainContext) -> None:
        self._encoder("on_after_step").update(ctx.model, self.ema_momentum)

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The EMA copy of ``model``: what the run's evaluations use."""
        return self._encoder("eval_model").model

    def _encoder(self, who: str) -> MomentumEncoder[nn.Module]:
        if self._ema is None:
            raise ConfigError(f"UDA.{who}: no EMA model yet; setup(ctx) creates it when a phase starts")
        return self._ema


def _strong_view(
    modality: str, augment: Spec | Transform | None, text_augment: Spec | Transform | None,
    rewriter: Spec | None, vocabulary: Spec | None,
) -> Transform | None:
    """The strong view of the run's modality: ``augment``, or for text ``[TextRewrite] + text_augment``."""
    if modality != "text":
        if rewriter is not None:
            raise ConfigError(f"uda: rewriter rewrites text and this run's data is {modality}; remove rewriter")
        return build_transform(augment)
    text = build_transform(text_augment)
    if rewriter is None:
        return text
    if vocabulary is None:
        raise ConfigError("uda: rewriter needs the vocabulary of the run's token ids; add vocabulary (e.g. vocabulary: sst2)")
    try:
        rewrite = TextRewrite(vocabulary, rewriter=rewriter)
    except AugbenchError as error:
        raise ConfigError(f"uda: {error}") from None
    return rewrite if text is None else Compose([rewrite, text])


def _check_view(option: str, view: Transform | None, modality: str, input_shape: Sequence[int] | None) -> None:
    """One line if ``view`` is for another modality or changes the sample shape (one forward pass takes all)."""
    if view is None:
        return
    if view.modality != modality:
        raise ConfigError(
            f"uda: {option} is a pipeline for {view.modality} data and this run's data is {modality}; name a {modality} pipeline there"
        )
    if input_shape is not None:
        shape = tuple(input_shape)
        if view.output_shape(shape) != shape:
            raise ConfigError(
                f"uda: {option} turns {shape} samples into {view.output_shape(shape)}; labeled, unlabeled and "
                "strong views share one forward pass, so keep the sample size"
            )
