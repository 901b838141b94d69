"""MultiAugs, classification transfer: FixMatch's weak-view pseudo-labels train K distinct strong chains.

Reference:
    Zhou, Luo, Jiang, Ding, Lu and Jia, "Boosting Semi-Supervised 2D Human Pose Estimation by
    Revisiting Data Augmentation and Consistency Training" (MultiAugs, arXiv:2402.11566);
    official code hnuzhy/MultiAugs (``lib/models/pose_cons.py``, ``lib/utils/augments.py``,
    ``lib/core/loss.py``). The classification transfer follows the method card
    (``shared/methods/semi_supervised.md``, "MultiAugs", step 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import ConfigError
from augbench.keyed import KEY_VIEWS
from augbench.losses import masked_cross_entropy
from augbench.methods.base import METHODS
from augbench.methods.fixmatch import STRONG_AUGMENTATION, WEAK_AUGMENTATION, FixMatch
from augbench.mix import MIXERS, Mixer, build_mixer
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import TRANSFORMS, Transform

__all__ = ["MultiAugs", "StrongChain", "StrongView", "DEFAULT_CHAINS", "FUSIONS"]

DEFAULT_CHAINS: tuple[Mapping[str, Any], ...] = (
    STRONG_AUGMENTATION,
    {"augment": STRONG_AUGMENTATION["transforms"][0], "mixer": {"type": "cutmix", "alpha": 1.0}},
)
"""K = 2 distinct strong chains (the paper's K on full data): FixMatch's RandAugment + Cutout,
and RandAugment followed by an in-batch CutMix (a box from another unlabeled image, area
fraction ~ Beta(1, 1), per sample): classification counterparts of the paper's JOCO and JCCM
(an occlusion chain and a chain that ends in CutMix)."""

FUSIONS = ("sum", "mean")
"""How the K student losses combine: the paper's sum, or their mean (matched total loss weight)."""

_WEAK_VIEW = 0  # key view of the weak views (both streams); chain k draws with key view k + 1
_CHAIN_KEYS = ("augment", "mixer")


@dataclass(frozen=True)
class StrongView:
    """One chain's strong view of the unlabeled batch.

    Attributes:
        inputs: ``(U, ...)`` augmented (and possibly mixed) samples in the stored dtype.
        lam: ``(U,)`` float32 weight of each sample's own pseudo-label (the kept area of a
            CutMix box), or ``None`` for an unmixed chain.
        index: ``(U,)`` int64 partner of each sample within the unlabeled batch, or ``None``.
    """

    inputs: Tensor
    lam: Tensor | None = None
    index: Tensor | None = None

    def loss(self, logits: Tensor, pseudo_labels: Tensor, mask: Tensor, normaliser: float) -> Tensor:
        """The student loss of this view against hard pseudo-labels.

        Unmixed: ``sum_b mask_b CE(logits_b, y^_b) / N`` (FixMatch's term). Mixed, with partner
        ``j = index_b`` and weight ``lam_b``: ``sum_b [lam_b mask_b CE(logits_b, y^_b) +
        (1 - lam_b) mask_j CE(logits_b, y^_j)] / N``. With every mask 1 this is soft-target
        cross-entropy against ``lam onehot(y^_b) + (1 - lam) onehot(y^_j)``, the mixer's target
        built from pseudo-labels; a mask removes the part whose source image was not confident.

        Shape:
            ``logits`` ``(U, K)`` float, ``pseudo_labels`` ``(U,)`` int64, ``mask`` ``(U,)`` float
            -> a scalar.
        """
        if self.lam is None or self.index is None:
            return masked_cross_entropy(logits, pseudo_labels, mask, normaliser)
        lam = self.lam.to(mask.dtype)
        partner_labels, partner_mask = pseudo_labels[self.index], mask[self.index]
        own = masked_cross_entropy(logits, pseudo_labels, lam * mask, normaliser)
        return own + masked_cross_entropy(logits, partner_labels, (1.0 - lam) * partner_mask, normaliser)


@dataclass(frozen=True)
class StrongChain:
    """One hard path: a keyed per-sample transform, then optionally an in-batch mixer.

    Attributes:
        augment: keyed engine transform or ``None`` (the stored samples).
        mixer: a mixer of the unlabeled batch, or ``None``. Partners and boxes come from
            ``ctx.generator`` (mixing is batch-bound); the mixer's own targets are not used,
            because the pseudo-labels only exist after the forward pass that sees the mixed
            images (:meth:`StrongView.loss` builds the target from ``lam`` and ``index``).
        view: the key view (1..15) of ``augment``'s draws, distinct for every chain.
    """

    augment: Transform | None
    mixer: Mixer | None
    view: int

    def make(self, ctx: TrainContext) -> StrongView:
        """The chain's view of the current unlabeled batch: one keyed batched call, then the mixer.

        Shape:
            ``batch["unlabeled"].inputs`` ``(U, C, H, W)`` -> ``StrongView`` with inputs
            ``(U, C, H, W)`` of the same dtype.
        """
        images = ctx.augment(self.augment, "unlabeled", self.view)
        if self.mixer is None:
            return StrongView(images)
        no_labels = torch.zeros(images.shape[0], dtype=torch.int64, device=images.device)  # see `mixer`
        with ctx.timer.augmentation():
            mixed = self.mixer(images, no_labels, generator=ctx.generator)
        return StrongView(mixed.inputs, mixed.lam, mixed.index)


@METHODS.register("multiaugs")
class MultiAugs(FixMatch):
    """MultiAugs' multi-path consistency for classification: one weak teacher, K strong students.

    Per step, with a labeled batch ``(x, y)`` of size ``B`` and an unlabeled batch ``u`` of size
    ``U = mu * B`` (the data spec's ``ratio``):

    1. ``weak(x)`` and ``weak(u)`` (key view 0) and, for every chain ``k = 1..K``, its strong
       view of ``u``: one keyed batched call of the chain's transform with key view ``k`` (so
       repeated chains still give distinct views), then the chain's in-batch mixer if it has one;
    2. all ``B + (1 + K) U`` samples go through the model in **one concatenated forward pass**
       (as FixMatch, so batch-norm statistics see every view);
    3. teacher: ``q = softmax(f(weak(u)))`` under stop-gradient, hard pseudo-label
       ``y^ = argmax q``, mask ``max q >= threshold`` (FixMatch's, :class:`FixMatch`);
    4. ``L_k`` = the chain's term (:meth:`StrongView.loss`), divided by ``U``: FixMatch's
       masked cross-entropy for an unmixed chain, the pseudo-label CutMix target for a mixed one;
    5. ``loss = CE(f(weak(x)), y) + lambda_u * fuse(L_1, ..., L_K)`` with ``fuse`` the sum
       (the paper's default) or the mean (``fusion: mean``, the paper's ``HEAT_FUSION`` variant:
       the total unlabeled weight then stays ``lambda_u`` whatever ``K``);
    6. the EMA copy, its evaluation and the pseudo-label logs are FixMatch's.

    With ``K = 1`` and an unmixed chain this is exactly FixMatch (same loss, same views, same
    keys). Logged per epoch: FixMatch's logs (``unlabeled_loss`` is the fused term before
    ``lambda_u``) and ``unlabeled_loss_k`` of every chain ``k = 1..K``.

    Default ``threshold`` 0.95 (FixMatch's), not the paper's "mask off": the paper's student
    target is a teacher heatmap under MSE, where an uncertain teacher costs a soft penalty; here
    the target is a hard argmax under cross-entropy, and training every unlabeled sample on it
    is the confirmation-bias setting FixMatch's threshold ablation shows to hurt (Sohn et al.
    2020, Fig. 3). ``threshold: 0`` is the paper's setting (every pseudo-label kept).

    Simplified relative to the paper:

    - classification transfer (the card's step 6), not pose: no heatmaps, no pseudo-joints, so
      no joint-centred cutout/paste (JC, JO) and no extra affine on the hard views with the
      teacher target warped by it (a class label is invariant to the warp);
    - the chains are engine transforms (RandAugment, Cutout = Random Erasing) and in-batch mixers
      (CutMix) instead of JC/JO/CO/CM; one network only (the dual-network variant's cross
      supervision is not implemented);
    - the mixed chain's target is CutMix's: pseudo-labels weighted by area (the box part needs
      its partner to pass the mask). The official CM pastes two small boxes from a permuted
      partner and keeps the teacher target of the original image (occlusion by another image);
      a class label under a box of up to the whole image has no such invariance. Its partners
      and boxes come from the run's generator, not keyed draws (mixing is batch-bound, as in
      ``mix_supervised``);
    - one concatenated forward pass for every view (FixMatch's batch-norm choice); the official
      code runs the supervised batch, the teacher (no-grad) and each student path separately;
    - FixMatch's simplifications (weak view without flip, EMA copies buffers) apply.

    Args:
        strong: the K >= 1 strong chains, in key-view order (at most 15). Each is a transform
            spec (a policy string or ``{type: TransformName, ...}``, e.g. FixMatch's RandAugment
            + Cutout) or a mixer chain ``{augment: transform spec or null, mixer: mixer spec}``
            (``{augment: rand-m9-n2, mixer: cutmix}``); the same spec twice is a repeated chain.
        fusion: ``"sum"`` (paper) or ``"mean"`` of the K chain losses.
        threshold: pseudo-label confidence ``tau`` in [0, 1]; 0 keeps every pseudo-label.
        lambda_u: weight ``>= 0`` of the fused unlabeled term.
        ema_momentum: momentum in [0, 1] of the evaluated EMA copy.
        weak: transform spec of the weak view (labeled batch and teacher), or ``None``.
        num_classes, input_shape: from the run's data (the mixers' classes; the views' shapes,
            which the single forward pass needs equal).

    Raises:
        ConfigError: no chain, more than 15, a chain that is neither a transform spec nor
            ``{augment, mixer}`` (a bare mixer name included), a mixer with label smoothing (its
            target is rebuilt from pseudo-labels, the smoothing would be dropped), a chain whose
            samples differ in shape from the weak view's, or an option out of range.
    """

    spec_fields = {"weak": "transform"}

    def __init__(
        self,
        strong: Sequence[Spec | Transform] = DEFAULT_CHAINS,
        fusion: str = "sum",
        threshold: float = 0.95,
        lambda_u: float = 1.0,
        ema_momentum: float = 0.999,
        weak: Spec | Transform | None = WEAK_AUGMENTATION,
        num_classes: int | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        try:
            super().__init__(threshold, lambda_u, ema_momentum, weak, strong=None, input_shape=None)
        except ConfigError as error:
            raise ConfigError(str(error).replace("fixmatch:", "multiaugs:", 1)) from None
        if fusion not in FUSIONS:
            raise ConfigError(f"multiaugs: fusion={fusion!r} is unknown; use 'sum' (the paper) or 'mean'")
        if isinstance(strong, (str, Mapping)) or not isinstance(strong, Sequence) or not strong:
            raise ConfigError(
                f"multiaugs: strong={strong!r} must be a non-empty list of chains, e.g. "
                "[rand-m9-n2, {augment: rand-m9-n2, mixer: cutmix}]"
            )
        if len(strong) > KEY_VIEWS - 1:
            raise ConfigError(f"multiaugs: {len(strong)} strong chains; at most {KEY_VIEWS - 1} (one key view each)")
        self.fusion = fusion
        self.chains = tuple(_chain(spec, position, num_classes) for position, spec in enumerate(strong))
        if input_shape is not None:
            _check_shapes(self.weak, self.chains, tuple(input_shape))

    def keyed_views(self) -> list[KeyedView]:
        """Weak views of both streams (key view 0) and every chain's transform (key view k)."""
        views = [KeyedView(self.weak, stream, _WEAK_VIEW) for stream in ("labeled", "unlabeled")]
        views += [KeyedView(chain.augment, "unlabeled", chain.view) for chain in self.chains]
        return [view for view in views if view.transform is not None]

    def strong_views(self, ctx: TrainContext) -> list[StrongView]:
        """The K strong views of the current unlabeled batch, in chain order."""
        return [chain.make(ctx) for chain in self.chains]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled, unlabeled = batch["labeled"], batch["unlabeled"]
        weak = [ctx.augment(self.weak, stream, _WEAK_VIEW) for stream in ("labeled", "unlabeled")]
        views = self.strong_views(ctx)
        logits = ctx.model(ctx.normalize(torch.cat([*weak, *(view.inputs for view in views)])))
        sizes = [len(labeled), len(unlabeled)] + [len(unlabeled)] * len(views)
        logits_labeled, logits_weak, *logits_strong = logits.split(sizes)
        supervised = nnf.cross_entropy(logits_labeled, labeled.labels)
        with torch.no_grad():
            confidence, pseudo_labels = logits_weak.detach().softmax(dim=1).max(dim=1)
            mask = (confidence >= self.threshold).to(logits_weak.dtype)
        normaliser = float(len(unlabeled))
        losses = torch.stack(
            [view.loss(out, pseudo_labels, mask, normaliser) for view, out in zip(views, logits_strong, strict=True)]
        )
        unsupervised = losses.sum() if self.fusion == "sum" else losses.mean()
        with torch.no_grad():  # unlabeled labels: logging only
            correct = (pseudo_labels == unlabeled.labels).to(mask.dtype)
            self._kept += mask.sum()
            self._kept_correct += (correct * mask).sum()
        ctx.log.add("mask_rate", mask.mean())
        ctx.log.add("unlabeled_loss", unsupervised)
        for chain, loss in zip(self.chains, losses):
            ctx.log.add(f"unlabeled_loss_{chain.view}", loss)
        ctx.log.add("supervised_loss", supervised)
        ctx.log.add("pseudo_label_accuracy_all", correct.mean())
        return StepOutput(supervised + self.lambda_u * unsupervised)


def _chain(spec: Any, position: int, num_classes: int | None) -> StrongChain:
    """Build ``strong[position]`` as the chain with key view ``position + 1``; errors name the chain."""
    where = f"multiaugs: strong[{position}]"
    try:
        if isinstance(spec, Mapping) and "type" not in spec:
            return _mixer_chain(spec, position, num_classes)
        name = spec if isinstance(spec, str) else spec.get("type") if isinstance(spec, Mapping) else None
        if isinstance(name, str) and name in MIXERS and name not in TRANSFORMS:
            raise ConfigError(
                f"{spec!r} is a mixer, not a transform; write {{mixer: {spec!r}}} (optionally with augment: ...)"
            )
        if spec is None:
            raise ConfigError("null is no chain; give a transform spec or {augment: ..., mixer: ...}")
        return StrongChain(build_transform(spec), None, position + 1)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _mixer_chain(spec: Mapping[str, Any], position: int, num_classes: int | None) -> StrongChain:
    unknown = sorted(set(spec) - set(_CHAIN_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; a mixer chain is {{augment: transform spec, mixer: mixer}}")
    if spec.get("mixer") is None:
        raise ConfigError(f"{dict(spec)!r} has no mixer; give the transform spec itself, or add mixer: cutmix")
    mixer = build_mixer(spec["mixer"], num_classes)
    if not isinstance(mixer, Mixer):
        raise ConfigError(f"mixer={spec['mixer']!r} is not a mixer spec; use e.g. cutmix or {{type: cutmix, alpha: 1}}")
    if mixer.label_smoothing:
        raise ConfigError(
            f"mixer label_smoothing={mixer.label_smoothing} would be dropped (the target is rebuilt from "
            "pseudo-labels); remove it"
        )
    return StrongChain(build_transform(spec.get("augment")), mixer, position + 1)


def _check_shapes(weak: Transform | None, chains: Sequence[StrongChain], shape: tuple[int, ...]) -> None:
    weak_shape = shape if weak is None else weak.output_shape(shape)
    for chain in chains:
        strong_shape = shape if chain.augment is None else chain.augment.output_shape(shape)
        if strong_shape != weak_shape:
            raise ConfigError(
                f"multiaugs: strong[{chain.view - 1}] gives samples {strong_shape}, the weak view {weak_shape}; "
                "every view goes through one forward pass, so make them the same size"
            )
