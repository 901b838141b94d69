"""AutoMix: a learned Mix Block generates the mixing masks.

Reference:
    Liu et al., "AutoMix: Unveiling the Power of Mixup for Stronger Classifiers", ECCV 2022
    (arXiv:2103.13027); OpenMixup's ``automix.py`` / ``pmix_block.py`` are the reference
    implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.distributions import beta
from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods.base import METHODS, Method
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.models.ema import MomentumEncoder, cosine_momentum
from augbench.models.staged import StagedModel
from augbench.random import seeded_init

__all__ = ["AutoMix", "AutoMixLosses", "LearnedMixMethod", "MixBlock"]


def _with_lam_channel(features: Tensor, lam: Tensor) -> Tensor:
    """Standardised features with lam appended as a constant map.

    Each ``(C, h, w)`` map is standardised (zero mean, unit variance, no affine), so the
    attention's sharpness does not depend on the backbone's feature scale.

    Shape:
        ``(..., C, h, w)`` float features and ``(...)`` weights -> ``(..., C + 1, h, w)`` float32.
    """
    features = features.to(torch.float32)
    standardised = nnf.layer_norm(features, features.shape[-3:])
    lam_map = lam.to(torch.float32)[..., None, None, None].expand(*features.shape[:-3], 1, *features.shape[-2:])
    return torch.cat([standardised, lam_map], dim=-3)


def _log_odds(probability: Tensor) -> Tensor:
    """``log(p / (1 - p))`` in float32, with ``p`` clipped to ``[1e-4, 1 - 1e-4]`` so 0 and 1 stay finite."""
    p = probability.to(torch.float32).clamp(1e-4, 1.0 - 1e-4)
    return torch.log(p) - torch.log1p(-p)


class MixBlock(nn.Module):
    """AutoMix's Mix Block: cross-attention from sample ``i``'s features to its partner's gives a mask.

    With ``z~ = [standardise(z), lam]`` (each sample's feature map standardised, lam appended as
    a constant channel), ``q = W_q z~_i``, ``k = W_k z~_j`` (1x1 convolutions to
    ``channels // reduction``), ``v = W_v z~_j`` (1x1 convolution to one channel),
    ``P = softmax(q^T k / sqrt(d))`` over the partner's positions and
    ``s = sigmoid(logit(1 - lam) + upsample_nearest(P v))``: the weight of the partner's pixel,
    so ``x~ = (1 - s) x_i + s x_j``. The block runs in float32 whatever the feature dtype.

    Two parts are ours, not the reference implementation's, because OpenMixup trains the block
    for ~10^5 steps on large ResNet features and the digits harness gives it ~10^2 steps on
    small ``conv1`` features:

    - the ``logit(1 - lam)`` offset makes the untrained block output Mixup's constant mask
      ``1 - lam``; without it the mean mask regressed towards 0.5 and missed lam by 0.1-0.2 at
      lam < 0.3 or > 0.7;
    - the standardisation (layer norm over ``(C, h, w)``, no affine) makes the attention sharp
      enough to learn from the start; without it the attention stayed near uniform, so ``P v``
      and the mask were near constant (spatial std of the mask below 0.02 in 1 of 6 seeds after
      12 epochs, and collapsing to a constant by 60 epochs with Adam at learning rate 0.1).

    Args:
        channels: ``C``, channels of the feature maps, >= 1.
        reduction: channel reduction of query and key, >= 1 (2 in the reference implementation).

    Shape:
        ``features``, ``partner_features``: ``(B, C, h, w)`` float; ``lam``: ``(B,)`` float in
        [0, 1], the weight of sample ``i``; output: ``(B, 1, H, W)`` float32 in (0, 1) for
        ``size = (H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 2) -> None:
        super().__init__()
        inner = max(channels // reduction, 1)
        self.query = nn.Conv2d(channels + 1, inner, 1)
        self.key = nn.Conv2d(channels + 1, inner, 1)
        self.value = nn.Conv2d(channels + 1, 1, 1)
        self.scale = inner**-0.5

    def forward(self, features: Tensor, partner_features: Tensor, lam: Tensor, size: tuple[int, int]) -> Tensor:
        batch, _, height, width = features.shape
        query = self.query(_with_lam_channel(features, lam)).flatten(2)  # (B, d, hw)
        partner = _with_lam_channel(partner_features, lam)
        key = self.key(partner).flatten(2)  # (B, d, hw)
        value = self.value(partner).flatten(2)  # (B, 1, hw)
        attention = torch.softmax(query.transpose(1, 2) @ key * self.scale, dim=-1)  # (B, hw_i, hw_j)
        logits = (value @ attention.transpose(1, 2)).view(batch, 1, height, width)
        offset = _log_odds(1.0 - lam).view(batch, 1, 1, 1)
        return torch.sigmoid(offset + nnf.interpolate(logits, size=size, mode="nearest"))


@dataclass
class AutoMixLosses:
    """The two losses of one AutoMix step, kept apart so their gradients can be checked.

    Attributes:
        classifier: mixed CE of ``f_q`` on the detached-mask mix plus the clean CE; reaches
            only the online model.
        mix_block: mixed CE of the frozen ``f_k`` on the Mix Block's mix plus the mask-ratio
            loss; reaches only the Mix Block.
        logs: 0-d tensors to log per epoch (``ctx.log``).
    """

    classifier: Tensor
    mix_block: Tensor
    logs: dict[str, Tensor] = field(default_factory=dict)


class LearnedMixMethod(Method):
    """What AutoMix and AdAutoMix share: an EMA teacher, a mask block with its own optimiser.

    ``setup`` copies the online model into a :class:`MomentumEncoder` whose features at
    ``feature_stage`` feed the block that :meth:`build_block` creates, and gives the block an Adam
    optimiser (``lr=mix_lr``) in ``ctx.extra_optimizers``. A step returns
    ``classifier + (block - block.detach())``: its value is the classifier loss (comparable with
    other methods) and its gradient trains both networks, each through its own loss only. After
    every step the teacher follows the online model with a cosine-ramped momentum.

    Subclasses set ``feature_stage``, ``momentum`` ``(start, end)`` and ``mix_lr`` and implement
    :meth:`build_block` and :meth:`losses`.
    """

    feature_stage: int
    momentum: tuple[float, float]
    mix_lr: float

    def build_block(self, channels: int) -> nn.Module:
        """The mask block for teacher features with ``channels`` channels."""
        raise NotImplementedError

    def losses(self, batch: Batch, ctx: TrainContext) -> AutoMixLosses:
        """The classifier's and the block's losses of one batch."""
        raise NotImplementedError

    def setup(self, ctx: TrainContext) -> None:
        """Create the teacher, the block and its optimiser (appended to ``ctx.extra_optimizers``)."""
        who = type(self).__name__
        self.encoder = MomentumEncoder(_staged(ctx.model, who))
        channels = _feature_channels(self.encoder.model, self.feature_stage, ctx.device, who)
        with seeded_init(ctx.generator):
            self.block = self.build_block(channels).to(ctx.device)
        self.block_optimizer = torch.optim.Adam(self.block.parameters(), lr=self.mix_lr)
        ctx.extra_optimizers.append(self.block_optimizer)

    def features(self, images: Tensor) -> Tensor:
        """Teacher features ``(B, C', h, w)`` of normalised float images at ``feature_stage``, no gradient."""
        with torch.no_grad():
            return self.encoder.model.forward_features(images, stop_at=self.feature_stage)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        losses = self.losses(batch, ctx)
        loss = losses.classifier + (losses.mix_block - losses.mix_block.detach())
        for name, value in losses.logs.items():
            ctx.log.add(name, value)
        return StepOutput(loss)

    def on_after_step(self, ctx: TrainContext) -> None:
        """EMA update of the teacher with the momentum of step ``ctx.step``."""
        self.encoder.update(ctx.model, self.momentum_at(ctx))

    def momentum_at(self, ctx: TrainContext) -> float:
        """The EMA momentum used after step ``ctx.step`` of ``ctx.total_steps``."""
        return cosine_momentum(ctx.step, ctx.total_steps, *self.momentum)


@METHODS.register("automix")
class AutoMix(LearnedMixMethod):
    """AutoMix: a Mix Block on momentum-encoder features learns per-sample mixing masks.

    Per step, with ``x`` the normalised batch (mixing after :attr:`TrainContext.normalize` is the
    same as mixing the pixels, the normalisation being affine) and ``z = f_k(x)`` at mixing
    point ``feature_stage`` (no gradient):

    1. Mix Block branch: ``lam ~ Beta(alpha, alpha)`` per sample, ``j`` a permutation,
       ``s = MixBlock(z, z[j], lam)``, ``x~ = (1 - s) x + s x[j]``; loss
       ``CE_mix(f_k(x~)) + mask_weight * mean(max(|lam - (1 - mean s)| - mask_margin, 0))``
       with ``f_k`` frozen, so it updates the Mix Block only (its own Adam optimiser, appended
       to ``ctx.extra_optimizers``).
    2. Classifier branch: an independent ``lam``, permutation and mask from the Mix Block,
       detached; samples with ``lam`` outside ``[lam_margin, 1 - lam_margin]`` use the constant
       mask ``1 - lam`` (plain Mixup). Loss ``CE_mix(f_q(x~)) + clean_weight * CE(f_q(x), y)``,
       the clean and mixed batches in one forward pass.
    3. After every optimiser step ``f_k <- m f_k + (1 - m) f_q`` with ``m`` on a cosine ramp
       from ``momentum[0]`` to ``momentum[1]`` over the run.

    The step returns ``classifier + (mix_block - mix_block.detach())``: its value is the
    classifier loss (so ``train_loss`` compares across methods) and its gradient is that of
    both losses; the two touch disjoint parameters.

    Departures from the paper and the reference implementation: ``lam`` and the permutation
    are drawn per sample and per branch (OpenMixup draws one lam per batch; there is no
    two-branch lam schedule beyond the two independent draws); the Mix Block trains with Adam
    at a constant learning rate ``mix_lr`` (OpenMixup: SGD inside the main optimiser,
    scheduled), because SGD at 0.1-1 (tried before
    the standardisation below) left the attention near uniform in the harness's few hundred
    steps while Adam did not; the Mix Block standardises its
    input features and starts from Mixup's mask (see :class:`MixBlock`); both encoders are
    whole models (backbone and head), and ``f_k`` runs in eval mode with the online model's
    batch-norm statistics.

    Harness observations (digits, 60 epochs, 3 seeds, ``momentum=(0.9, 0.999999)``): 96.5 % /
    98.4 % at n = 200 / 500, against Mixup 96.1 % / 98.0 % and no augmentation 95.0 % / 97.4 %
    (the expected gain was AutoMix >= Mixup by 0-1 pp); masks stay structured (spatial std ~0.1);
    the mean mask misses lam by ~0.03 after 12 epochs and by ~0.1 (the margin) after 60, the
    minority image getting more area than lam, often in blank background.

    Args:
        alpha: Beta(alpha, alpha) concentration of lam, > 0 (2 in the reference implementation).
        feature_stage: mixing point of the :class:`StagedModel` whose output feeds the Mix
            Block (1 = after ``conv1`` of the harness, 8x8); must give a 4-D feature map.
        momentum: ``(start, end)`` of the EMA momentum's cosine ramp, each in [0, 1]
            (reference implementation: 0.999 -> 0.999999, for runs of ~10^5 steps).
        mask_weight: weight of the mask-ratio loss, >= 0 (0.1).
        mask_margin: tolerated ``|lam - (1 - mean s)|`` before that loss acts, >= 0 (0.1).
        lam_margin: lam within this of 0 or 1 falls back to Mixup in the classifier branch,
            in [0, 0.5) (0.08).
        clean_weight: weight of the clean-image CE in the classifier loss, >= 0 (1).
        reduction: channel reduction of the Mix Block's query and key, >= 1 (2).
        mix_lr: Adam learning rate of the Mix Block, > 0.

    Shape:
        Batches are ``(B, C, H, W)`` uint8; masks ``(B, 1, H, W)`` float32 in (0, 1).
    """

    def __init__(
        self,
        alpha: float = 2.0,
        feature_stage: int = 1,
        momentum: tuple[float, float] = (0.999, 0.999999),
        mask_weight: float = 0.1,
        mask_margin: float = 0.1,
        lam_margin: float = 0.08,
        clean_weight: float = 1.0,
        reduction: int = 2,
        mix_lr: float = 0.01,
    ) -> None:
        _check_common(type(self).__name__, alpha, feature_stage, momentum, reduction, mix_lr)
        if mask_weight < 0 or mask_margin < 0 or clean_weight < 0:
            raise ConfigError(
                f"AutoMix: mask_weight={mask_weight}, mask_margin={mask_margin} and clean_weight={clean_weight} "
                "must all be >= 0; e.g. 0.1, 0.1, 1.0"
            )
        if not 0.0 <= lam_margin < 0.5:
            raise ConfigError(f"AutoMix: lam_margin={lam_margin} must lie in [0, 0.5); e.g. 0.08")
        self.alpha = float(alpha)
        self.feature_stage = feature_stage
        self.momentum = (float(momentum[0]), float(momentum[1]))
        self.mask_weight = float(mask_weight)
        self.mask_margin = float(mask_margin)
        self.lam_margin = float(lam_margin)
        self.clean_weight = float(clean_weight)
        self.reduction = reduction
        self.mix_lr = float(mix_lr)

    def build_block(self, channels: int) -> nn.Module:
        return MixBlock(channels, self.reduction)

    def masks(self, features: Tensor, index: Tensor, lam: Tensor, size: tuple[int, int]) -> Tensor:
        """Mix Block masks ``(B, 1, H, W)``: the weight of partner ``index[b]`` in sample ``b``'s mix.

        Args:
            features: ``(B, C', h, w)`` from :meth:`features`.
            index: ``(B,)`` int64 partner of each sample.
            lam: ``(B,)`` float in [0, 1], the weight of the unshuffled sample.
            size: ``(H, W)`` of the images.
        """
        return self.block(features, features[index], lam, size)

    def losses(self, batch: Batch, ctx: TrainContext) -> AutoMixLosses:
        """Both losses of one step (see the class docstring), without touching any optimiser.

        Must run inside ``ctx.timer.step``: everything but the classifier's forward pass (the
        features, both mixes and the Mix Block's loss) is timed as augmentation.
        """
        images = ctx.normalize(batch["labeled"].inputs)
        size = (images.shape[-2], images.shape[-1])
        onehot = nnf.one_hot(batch["labeled"].labels, ctx.num_classes).to(images.dtype)
        with ctx.timer.augmentation():
            features = self.features(images)
            lam, index = self._draw(len(images), ctx)
            masks = self.masks(features, index, lam, size)
            mixed = images + masks * (images[index] - images)
            block_ce = soft_cross_entropy(self.encoder.model(mixed), _mixed_targets(onehot, lam, index))
            ratio_error = (lam - (1.0 - masks.mean(dim=(1, 2, 3)))).abs()
            mask_loss = self.mask_weight * (ratio_error - self.mask_margin).clamp(min=0.0).mean()

            lam_c, index_c = self._draw(len(images), ctx)
            with torch.no_grad():
                masks_c = self.masks(features, index_c, lam_c, size)
            learned = ((lam_c >= self.lam_margin) & (lam_c <= 1.0 - self.lam_margin)).view(-1, 1, 1, 1)
            masks_c = torch.where(learned, masks_c, (1.0 - lam_c).view(-1, 1, 1, 1).expand_as(masks_c))
            mixed_c = images + masks_c * (images[index_c] - images)
        mixed_logits, clean_logits = ctx.model(torch.cat([mixed_c, images])).split(len(images))
        mix_ce = soft_cross_entropy(mixed_logits, _mixed_targets(onehot, lam_c, index_c))
        classifier = mix_ce + self.clean_weight * nnf.cross_entropy(clean_logits, batch["labeled"].labels)
        logs = {
            "mix_block_ce": block_ce.detach(),
            "mask_ratio_error": ratio_error.detach().mean(),
            "classifier_mix_ce": mix_ce.detach(),
        }
        return AutoMixLosses(classifier, block_ce + mask_loss, logs)

    def _draw(self, batch_size: int, ctx: TrainContext) -> tuple[Tensor, Tensor]:
        lam = beta(self.alpha, self.alpha, (batch_size,), ctx.generator).to(ctx.device)
        index = torch.randperm(batch_size, generator=ctx.generator, device=ctx.generator.device).to(ctx.device)
        return lam, index



def _mixed_targets(onehot: Tensor, lam: Tensor, index: Tensor) -> Tensor:
    """``lam y + (1 - lam) y[index]``: ``(B, K)`` one-hot rows, ``(B,)`` weights -> ``(B, K)``."""
    lam = lam.view(-1, 1).to(onehot.dtype)
    return lam * onehot + (1.0 - lam) * onehot[index]


def _check_common(
    who: str, alpha: float, feature_stage: int, momentum: tuple[float, float], reduction: int, mix_lr: float
) -> None:
    """Constructor checks shared by AutoMix and AdAutoMix; one line naming the fix."""
    if not 0.0 < alpha < math.inf:
        raise ConfigError(f"{who}: alpha={alpha} must be a finite number > 0; e.g. alpha=2.0")
    if isinstance(feature_stage, bool) or not isinstance(feature_stage, int) or feature_stage < 0:
        raise ConfigError(f"{who}: feature_stage={feature_stage!r} must be a mixing point >= 0; e.g. 1")
    if len(momentum) != 2 or not all(0.0 <= m <= 1.0 for m in momentum):
        raise ConfigError(f"{who}: momentum={momentum!r} must be (start, end) in [0, 1]; e.g. (0.999, 0.999999)")
    if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
        raise ConfigError(f"{who}: reduction={reduction!r} must be an int >= 1; e.g. 2")
    if not mix_lr > 0:
        raise ConfigError(f"{who}: mix_lr={mix_lr} must be > 0; e.g. 0.01")


def _staged(model: nn.Module, who: str) -> StagedModel:
    if not isinstance(model, StagedModel):
        raise ConfigError(
            f"{who}: the model is a {type(model).__name__}, which exposes no feature stages; "
            "use a StagedModel (harness_cnn, preact_resnet18, ...)"
        )
    return model


def _feature_channels(model: StagedModel, stage: int, device: torch.device, who: str) -> int:
    """Channels of the 4-D feature map at mixing point ``stage``; raises if it is not 4-D."""
    if stage > model.num_stages:
        raise ConfigError(
            f"{who}: feature_stage={stage} is past the model's {model.num_stages} stages "
            f"({', '.join(model.stage_names)}); pick 0..{model.num_stages}"
        )
    with torch.no_grad():
        probe = model.forward_features(torch.zeros(1, *model.input_shape, device=device), stop_at=stage)
    if probe.ndim != 4:
        raise ConfigError(
            f"{who}: features at feature_stage={stage} have shape {tuple(probe.shape)}, not (B, C, h, w); "
            "pick an earlier stage with a spatial map"
        )
    return int(probe.shape[1])
