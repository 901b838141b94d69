"""Policy Gradient-Driven Noise Mask: pre-train on image-conditional multiplicative masks, then fine-tune clean.

Reference:
    Yavuz and Yang, "Policy Gradient-Driven Noise Mask", 2024 (arXiv:2406.14568); reference code
    github.com/ogrenenmakine/Policy-Gradient-Driven-Noise-Mask (``_policy_gradient/create_model.py``:
    ``MaskGenerator``; ``_policy_gradient/train_one_epoch.py``: the mask and the objective).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.distributions import AnyGenerator, beta_per_element
from augbench.errors import ConfigError, InputValueError
from augbench.functional import gaussian_blur
from augbench.keyed import KeyedGenerator
from augbench.methods.base import METHODS, Method, Phase
from augbench.methods.spec import MethodContext, build_method
from augbench.random import seeded_init
from augbench.train.context import Batch, StepOutput, TrainContext

__all__ = [
    "NoiseMask",
    "NoiseMaskPolicy",
    "SURROGATES",
    "PRETRAIN_PHASE",
    "FINETUNE_PHASE",
    "sample_mask_cells",
    "render_masks",
    "beta_log_density",
    "noise_mask_loss",
]

PRETRAIN_PHASE = "pretrain"
FINETUNE_PHASE = "finetune"
SURROGATES = ("card", "joint_log_prob")
"""``card``: the reference's objective; ``joint_log_prob``: REINFORCE with the joint log-probability
and a batch-mean baseline (see :func:`noise_mask_loss`)."""

_MASK_VIEW = 1  # key view of the mask draws (view 0 stays free for an augmentation of the same batch)
_CELL_EPS = 1e-6  # mask cells are clamped to [eps, 1 - eps] so every log-density is finite


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _mlp_head(width: int, cells: int) -> nn.Sequential:
    """The reference's head: (Linear - BatchNorm1d - ReLU) x 2, then Linear to one logit per cell."""
    return nn.Sequential(
        nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Linear(width, cells),
    )


class NoiseMaskPolicy(nn.Module):
    """The policy: a small CNN feature extractor, two MLP heads and the smoothed Beta log-concentrations.

    Feature extractor (an in-project stand-in for the reference's timm ResNet-10t, whose 512
    features are far more than 8x8 digits need): conv(C -> width/2, 3x3) - BN - ReLU -
    conv(width/2 -> width, 3x3, stride 2) - BN - ReLU - global average pool -> ``(B, width)``.
    Heads ``a``, ``b``: :func:`_mlp_head` (the reference's), ``(B, width) -> (B, G*G)``.

    Forward, as ``MaskGenerator.forward``::

        alpha_log = smoothing * alpha_base + (1 - smoothing) * a(x)      # (B, G*G), with gradient
        beta_log  = smoothing * beta_base  + (1 - smoothing) * b(x)
        alpha_base <- base_momentum * alpha_base + (1 - base_momentum) * mean_b a(x).detach()
        beta_base  <- base_momentum * beta_base  + (1 - base_momentum) * mean_b b(x).detach()

    The log-concentrations use the bases from *before* the update; the bases are updated only in
    training mode. ``alpha_base``, ``beta_base`` ``(1, G*G)`` are buffers (saved with the phase),
    initialised ``U(0, 1)`` from ``generator``.

    Args:
        in_channels: image channels.
        grid: ``G``, cells per side of the mask grid.
        width: feature and MLP width (the reference: 512).
        smoothing: weight of the base in the log-concentrations (the reference: 0.9).
        base_momentum: momentum of the bases' running mean (the reference: 0.99).
        generator: draws the initial bases.

    Shape:
        ``(B, C, H, W)`` float (normalised images), ``B >= 2`` in training mode (batch norm) ->
        ``alpha_log``, ``beta_log`` ``(B, G*G)`` float.
    """

    def __init__(
        self, in_channels: int, grid: int, width: int, smoothing: float, base_momentum: float,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        half = max(1, width // 2)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, half, 3, padding=1), nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.alpha_head = _mlp_head(width, grid * grid)
        self.beta_head = _mlp_head(width, grid * grid)
        self.smoothing = smoothing
        self.base_momentum = base_momentum
        self.register_buffer("alpha_base", torch.rand((1, grid * grid), generator=generator))
        self.register_buffer("beta_base", torch.rand((1, grid * grid), generator=generator))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(images)
        a, b = self.alpha_head(features), self.beta_head(features)
        alpha_log = self.smoothing * self.alpha_base + (1 - self.smoothing) * a
        beta_log = self.smoothing * self.beta_base + (1 - self.smoothing) * b
        if self.training:
            with torch.no_grad():
                keep = self.base_momentum
                self.alpha_base.mul_(keep).add_(a.detach().mean(0, keepdim=True), alpha=1 - keep)
                self.beta_base.mul_(keep).add_(b.detach().mean(0, keepdim=True), alpha=1 - keep)
        return alpha_log, beta_log


def sample_mask_cells(alpha_log: Tensor, beta_log: Tensor, generator: AnyGenerator) -> Tensor:
    """Mask cells ``m ~ Beta(exp alpha_log, exp beta_log)``, one per cell and sample, no gradient.

    Drawn with :func:`augbench.distributions.beta_per_element` (keyed draws work: a sample's
    cells depend on its key, the seed and its concentrations only), then clamped to
    ``[1e-6, 1 - 1e-6]`` so that their log-densities are finite. No reparameterisation: the
    policy learns through the log-density (:func:`beta_log_density`).

    Shape:
        ``(B, G*G)`` float each -> ``(B, G*G)`` float32 in ``(0, 1)``.
    """
    with torch.no_grad():
        cells = beta_per_element(alpha_log.exp(), beta_log.exp(), generator)
    return cells.clamp_(_CELL_EPS, 1 - _CELL_EPS)


def render_masks(cells: Tensor, grid: int, size: tuple[int, int], blur_kernel: int, blur_sigma: float) -> Tensor:
    """The multiplicative image masks: the cells as a ``G x G`` grid, upsampled, then blurred.

    Upsampling is nearest-neighbour (``interpolate``'s default, as the reference); the blur is
    :func:`augbench.functional.gaussian_blur` (torchvision's kernel and reflect padding), one
    batched call.

    Shape:
        ``cells`` ``(B, G*G)`` float in [0, 1] -> ``(B, 1, H, W)`` float in [0, 1] (broadcasts over
        the image channels).
    """
    grid_cells = cells.reshape(-1, 1, grid, grid)
    upsampled = nnf.interpolate(grid_cells, size=size)
    return gaussian_blur(upsampled, blur_kernel, blur_sigma)


def beta_log_density(cells: Tensor, alpha_log: Tensor, beta_log: Tensor) -> Tensor:
    """``log p(m)`` of every cell under ``Beta(exp alpha_log, exp beta_log)``, differentiable in the policy.

    ``log p(m) = (a - 1) log m + (b - 1) log(1 - m) - [lgamma(a) + lgamma(b) - lgamma(a + b)]``
    with ``a = exp(alpha_log)``, ``b = exp(beta_log)``.

    Shape:
        ``(B, G*G)`` float each -> ``(B, G*G)`` float.
    """
    a, b = alpha_log.exp(), beta_log.exp()
    log_beta_function = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    return (a - 1) * torch.log(cells) + (b - 1) * torch.log1p(-cells) - log_beta_function


def noise_mask_loss(
    log_density: Tensor, logits: Tensor, labels: Tensor, surrogate: str = "card"
) -> tuple[Tensor, Tensor]:
    """The objective that trains the classifier and the policy in one backward pass.

    ``card`` (the reference's ``train_one_epoch``)::

        loss = mean_b[ log sum_j p(m_bj) ] * CE_batch         # CE_batch = mean_b CE(f(x_b * mask_b), y_b)

    ``log sum_j`` is the log of the *sum* of the per-cell densities (not the joint
    log-probability), there is no reward baseline, and the factor also rescales the classifier's
    gradient (``d loss / d theta = factor * d CE / d theta``; a factor below 0 would reverse it).
    For the policy it is REINFORCE on the summed density with reward ``-CE_batch``.

    ``joint_log_prob`` (the "fixed" variant): REINFORCE on the joint log-probability of each
    sample's mask, reward ``-CE_b`` and the batch mean as baseline, plus plain cross-entropy for
    the classifier::

        loss = CE_batch + mean_b[ (CE_b - CE_batch).detach() * sum_j log p(m_bj) ]

    so the classifier's gradient is plain CE's and the policy's is the baselined score function.

    Args:
        log_density: ``(B, G*G)`` per-cell log-densities of the sampled masks (policy gradient).
        logits: ``(B, K)`` classifier outputs on the masked images.
        labels: ``(B,)`` int64.
        surrogate: ``card`` or ``joint_log_prob``.

    Returns:
        ``(loss, factor)``: the scalar loss and the ``(B,)`` log-sum-density factor
        ``log sum_j p(m_bj)`` (logged for both variants; the card's collapse falsifier).
    """
    factor = torch.logsumexp(log_density, dim=1)
    if surrogate == "card":
        return factor.mean() * nnf.cross_entropy(logits, labels), factor
    if surrogate == "joint_log_prob":
        per_sample = nnf.cross_entropy(logits, labels, reduction="none")
        ce = per_sample.mean()
        advantage = (per_sample - ce).detach()
        return ce + (advantage * log_density.sum(1)).mean(), factor
    raise ConfigError(f"noise_mask: surrogate={surrogate!r} is unknown; use one of {', '.join(SURROGATES)}")


@METHODS.register("noise_mask")
class NoiseMask(Method):
    """Policy Gradient-Driven Noise Mask (Yavuz & Yang, 2024) in two phases: ``pretrain``, then ``finetune``.

    Algorithm (the reference code's ``_policy_gradient``):

    1. Phase ``pretrain`` (cached; its identity leaves out ``finetune_epochs``). Per step, with
       the labeled batch ``x`` normalised:

       - the policy (:class:`NoiseMaskPolicy`, module ``"policy"``, learning rate
         ``policy_lr_scale`` times the classifier's, same optimiser and schedule) gives
         smoothed log-concentrations ``alpha_log``, ``beta_log`` ``(B, G*G)`` and updates its
         bases;
       - mask cells ``m ~ Beta(exp alpha_log, exp beta_log)`` per cell and sample, drawn with
         keyed draws (``ctx.keys("labeled", 1)``), no reparameterisation
         (:func:`sample_mask_cells`);
       - masks: the cells as a ``G x G`` grid, nearest-upsampled to ``H x W``, Gaussian-blurred
         (``blur_kernel``, ``blur_sigma``) (:func:`render_masks`);
       - the classifier sees ``x * mask`` (normalised image times mask, as the reference, so a
         masked pixel tends to the training mean);
       - the loss (:func:`noise_mask_loss`): the card's ``mean_b[log sum_j p(m_bj)] * CE_batch``
         or, with ``surrogate: joint_log_prob``, REINFORCE with the joint log-probability and a
         batch-mean baseline; one backward pass updates both networks.

    2. Phase ``finetune``: the policy is discarded; the classifier starts from the pre-trained
       weights (``init_from``) and is trained with plain cross-entropy on clean images
       (``{type: supervised}``), fresh optimiser and schedule. The evaluations score it; the
       ``pretrain`` phase's own clean accuracy is stored with that phase.

    Logged per pre-training epoch: ``mask_mean`` (mean cell value), ``mask_high_fraction`` and
    ``mask_low_fraction`` (cells > 0.9 and < 0.1: collapse to all-ones or to near-zero
    images), ``log_sum_density`` (batch mean of ``log sum_j p(m_bj)``, the card's factor; a
    large value is the loss-scale falsifier), ``joint_log_prob`` (batch mean of
    ``sum_j log p(m_bj)``), ``ce_loss`` (CE on the masked batch), ``concentration_alpha`` and
    ``concentration_beta`` (mean ``exp alpha_log``, ``exp beta_log``). The policy forward, the
    draws and the rendering are timed as augmentation.

    Reference: Yavuz and Yang, "Policy Gradient-Driven Noise Mask", arXiv:2406.14568 (2024); code
    github.com/ogrenenmakine/Policy-Gradient-Driven-Noise-Mask (``_policy_gradient/``).

    Simplified relative to the paper:

    - the policy's feature extractor is a two-convolution CNN (:class:`NoiseMaskPolicy`), not
      timm's ResNet-10t, and its MLP width is ``policy_width`` (the reference: 512);
    - both networks use the run's optimiser and schedule (the reference: SGD with StepLR for the
      classifier, cosine for the policy, 90 epochs, ResNet-50 on RadImageNet); the policy's
      learning rate is ``policy_lr_scale`` times the classifier's at every step;
    - no base augmentation (the reference's random-resized-crop / flip pipeline), no mixed
      precision, no gradient clipping;
    - mask cells are clamped to ``[1e-6, 1 - 1e-6]`` (finite log-densities); the Beta draws are
      augbench's keyed Marsaglia-Tsang draws, not ``torch.distributions.Beta.sample``;
    - fine-tuning is plain supervised training for ``finetune_epochs`` with a fresh optimiser
      and schedule from the run's settings (the paper fine-tunes and transfers on RadImageNet);
    - ``joint_log_prob`` is our "fixed" variant, not in the paper.

    Args:
        grid: ``G`` > 0, cells per mask side, at most the image side (the paper: 64 at 224 px;
            digits: 4).
        blur_kernel: odd Gaussian kernel size, half-width below the image side (the paper: 13).
        blur_sigma: Gaussian sigma in pixels > 0 (the paper: 6).
        smoothing: in [0, 1], the base's weight in the log-concentrations (the paper: 0.9).
        base_momentum: in [0, 1], the bases' running-mean momentum (the paper: 0.99).
        policy_lr_scale: > 0, the policy's learning rate over the classifier's (the paper: 0.1).
        policy_width: feature and MLP width of the policy, an int >= 2.
        surrogate: ``card`` (default) or ``joint_log_prob``.
        pretrain_epochs, finetune_epochs: epochs of each phase; ``None`` uses the run's epochs.
        input_shape, modality: from the run's data (images only; the policy needs ``input_shape``).
    """

    def __init__(
        self,
        grid: int = 64,
        blur_kernel: int = 13,
        blur_sigma: float = 6.0,
        smoothing: float = 0.9,
        base_momentum: float = 0.99,
        policy_lr_scale: float = 0.1,
        policy_width: int = 64,
        surrogate: str = "card",
        pretrain_epochs: int | None = None,
        finetune_epochs: int | None = None,
        input_shape: Sequence[int] | None = None,
        modality: str = "image",
    ) -> None:
        if modality != "image" or (input_shape is not None and len(tuple(input_shape)) != 3):
            shape = "" if input_shape is None else f" with samples {tuple(input_shape)}"
            raise ConfigError(
                f"noise_mask: masks multiply (C, H, W) images; got modality {modality!r}{shape}; use image data"
            )
        if not _count(grid) or grid < 1:
            raise ConfigError(f"noise_mask: grid={grid!r} must be an int >= 1 (cells per side; the paper: 64)")
        if not _count(blur_kernel) or blur_kernel < 1 or blur_kernel % 2 == 0:
            raise ConfigError(f"noise_mask: blur_kernel={blur_kernel!r} must be an odd int >= 1 (the paper: 13)")
        if not _number(blur_sigma) or blur_sigma <= 0:
            raise ConfigError(f"noise_mask: blur_sigma={blur_sigma!r} must be a number > 0 in pixels (the paper: 6)")
        for name, value, paper in (("smoothing", smoothing, 0.9), ("base_momentum", base_momentum, 0.99)):
            if not _number(value) or not 0 <= value <= 1:
                raise ConfigError(f"noise_mask: {name}={value!r} must be a number in [0, 1] (the paper: {paper})")
        if not _number(policy_lr_scale) or policy_lr_scale <= 0:
            raise ConfigError(f"noise_mask: policy_lr_scale={policy_lr_scale!r} must be a number > 0 (the paper: 0.1)")
        if not _count(policy_width) or policy_width < 2:
            raise ConfigError(f"noise_mask: policy_width={policy_width!r} must be an int >= 2")
        if surrogate not in SURROGATES:
            raise ConfigError(f"noise_mask: surrogate={surrogate!r} is unknown; use one of {', '.join(SURROGATES)}")
        for name, value in (("pretrain_epochs", pretrain_epochs), ("finetune_epochs", finetune_epochs)):
            if value is not None and (not _count(value) or value < 1):
                raise ConfigError(f"noise_mask: {name}={value!r} must be a positive int, or null for the run's epochs")
        if input_shape is not None:
            _, height, width = tuple(input_shape)
            if grid > min(height, width):
                raise ConfigError(
                    f"noise_mask: grid={grid} exceeds the {height}x{width} images; use grid <= {min(height, width)} "
                    "(the card's digits check uses 4)"
                )
            if blur_kernel // 2 >= min(height, width):
                raise ConfigError(
                    f"noise_mask: blur_kernel={blur_kernel} is too large for {height}x{width} images; "
                    f"use an odd kernel below {2 * min(height, width)}"
                )
        self.grid = grid
        self.blur_kernel = blur_kernel
        self.blur_sigma = float(blur_sigma)
        self.smoothing = float(smoothing)
        self.base_momentum = float(base_momentum)
        self.policy_lr_scale = float(policy_lr_scale)
        self.policy_width = policy_width
        self.surrogate = surrogate
        self.pretrain_epochs = pretrain_epochs
        self.finetune_epochs = finetune_epochs
        self.input_shape = None if input_shape is None else tuple(input_shape)

    def phases(self, context: MethodContext) -> list[Phase]:
        """``pretrain`` (masks and policy, cached), then ``finetune`` (clean supervised, from its weights)."""
        finetune = build_method({"type": "supervised"}, context)
        pretrain_spec: dict[str, Any] = {k: v for k, v in self.spec.items() if k != "finetune_epochs"}
        return [
            Phase(PRETRAIN_PHASE, self, pretrain_spec, epochs=self.pretrain_epochs, evaluations=("accuracy",)),
            Phase(FINETUNE_PHASE, finetune, finetune.spec, init_from=PRETRAIN_PHASE, epochs=self.finetune_epochs),
        ]

    def setup(self, ctx: TrainContext) -> None:
        """Create the policy (module ``"policy"``, seeded from the run) at ``policy_lr_scale`` times the lr."""
        if self.input_shape is None:
            raise ConfigError(
                "noise_mask: the policy needs the image shape; build the method with the run's data "
                "(build_method(spec, MethodContext(num_classes, input_shape)))"
            )
        with seeded_init(ctx.generator):
            policy = NoiseMaskPolicy(self.input_shape[0], self.grid, self.policy_width, self.smoothing,
                                     self.base_momentum, generator=ctx.generator)
        ctx.add_module("policy", policy)
        ctx.optimizer.param_groups[-1]["lr"] = ctx.optimizer.param_groups[0]["lr"] * self.policy_lr_scale

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        images = labeled.inputs
        if images.ndim != 4 or len(images) < 2:
            raise InputValueError(
                f"noise_mask: needs a batch of >= 2 images (B, C, H, W) (the policy uses batch norm), "
                f"got shape {tuple(images.shape)}; use image data and a batch size that leaves no batch of 1"
            )
        inputs = ctx.normalize(images)
        with ctx.timer.augmentation():
            alpha_log, beta_log = self._policy(ctx)(inputs)
            cells = sample_mask_cells(alpha_log, beta_log, KeyedGenerator(ctx.keys("labeled", _MASK_VIEW), ctx.seed))
            masks = render_masks(cells, self.grid, tuple(images.shape[-2:]), self.blur_kernel, self.blur_sigma)
        logits = ctx.model(inputs * masks)
        log_density = beta_log_density(cells, alpha_log, beta_log)
        loss, factor = noise_mask_loss(log_density, logits, labeled.labels, self.surrogate)
        with torch.no_grad():
            ctx.log.add("mask_mean", cells.mean())
            ctx.log.add("mask_high_fraction", (cells > 0.9).float().mean())
            ctx.log.add("mask_low_fraction", (cells < 0.1).float().mean())
            ctx.log.add("log_sum_density", factor.mean())
            ctx.log.add("joint_log_prob", log_density.sum(1).mean())
            ctx.log.add("ce_loss", nnf.cross_entropy(logits, labeled.labels))
            ctx.log.add("concentration_alpha", alpha_log.exp().mean())
            ctx.log.add("concentration_beta", beta_log.exp().mean())
        return StepOutput(loss)

    @staticmethod
    def _policy(ctx: TrainContext) -> NoiseMaskPolicy:
        policy = ctx.modules.get("policy")
        if not isinstance(policy, NoiseMaskPolicy):
            raise ConfigError(
                "noise_mask: no policy in ctx.modules; setup(ctx) creates it when the pretrain phase starts"
            )
        return policy
