"""AutoTCL: a learned, parametric augmentation for time-series contrastive learning, and the
TS2Vec-style fixed-augmentation baseline it is compared with.

References:
    Zheng, Ding, Hu, Wang, Pan and Zhang, "Parametric Augmentation for Time Series Contrastive
    Learning", ICLR 2024 (arXiv:2402.10434); official code AslanDing/AutoTCL
    (``AutoTCL_CoST.py``: ``_sample_graph``, ``get_features``, ``fit``; ``models/losses.py``) and
    flyingdoog/AutoTCL (classification).
    Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022
    (arXiv:2106.10466) for the fixed augmentations and the temporal contrast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

import augbench.functional.timeseries as F
from augbench.errors import ConfigError
from augbench.keyed import KeyedGenerator
from augbench.losses import cross_view_info_nce, gaussian_mmd, temporal_info_nce
from augbench.methods.base import METHODS, Method, Phase
from augbench.models.ema import MomentumEncoder
from augbench.models.staged import StagedModel
from augbench.policies.build import build_transform
from augbench.random import seeded_init
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["AutoTCL", "TSContrastive", "MaskAugmenter", "AugmentedSeries", "hard_concrete", "TS2VEC_VIEWS"]

TS2VEC_VIEWS: dict[str, Any] = {
    "type": "Compose",
    "transforms": [
        {"type": "SeriesWindowSlice", "size": [0.5, 1.0]},
        {"type": "SeriesJitter", "sigma": 0.05},
        {"type": "SeriesTimeMask", "size": [0.0, 0.3], "fill": "mean"},
    ],
}
"""The fixed views of ``ts_contrastive``, a stand-in for TS2Vec's built from engine transforms:
a random window of 50-100 % of the series stretched back to its length (two such windows of one
series always overlap: TS2Vec's "crop with overlap"), Gaussian jitter of 0.05 channel std, and
one span of up to 30 % of the steps set to the channel mean (TS2Vec masks a random half of the
time steps of the *latent* sequence instead)."""

_FIXED_VIEWS = (1, 2)  # key views of ts_contrastive's two views
_AUGMENTER_NOISE_VIEW = 3  # the relaxation noise of AutoTCL's augmenter step
_ENCODER_NOISE_VIEW = 4  # the relaxation noise of the view the encoder step contrasts


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(who: str, option: str, value: object, low: float, high: float, example: float,
            *, open_low: bool = False) -> float:
    ok = _is_number(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
        raise ConfigError(f"{who}: {option}={value!r} must be a number in {bound}, e.g. {example}")
    return float(value)


def _whole(who: str, option: str, value: object, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{who}: {option}={value!r} must be a whole number >= 1, e.g. {example}")
    return value


# -- the augmenter --------------------------------------------------------------------------------


def hard_concrete(
    locations: Tensor, uniform: Tensor | None, stretch: tuple[float, float] = (-0.05, 1.0), temperature: float = 1.0
) -> tuple[Tensor, Tensor]:
    """A binary gate per element by the stretched, clipped (hard-)concrete relaxation, hard forward.

    ``s = sigmoid((locations + log u - log(1 - u)) / temperature)`` (logistic noise from the
    uniform draws ``u``; ``u = None``: no noise, ``s = sigmoid(locations / temperature)``),
    stretched to ``s' = clip(s * (high - low) + low, 0, 1)`` (Louizos et al. 2018, with AutoTCL's
    ``(low, high) = (-0.05, 1)``), then binarised straight through: the forward value is
    ``1[s' > 0.5]`` and the gradient is that of ``s'`` (zero where the clip is active).

    Args:
        locations: the relaxation's location per element (the usual hard concrete: a logit;
            AutoTCL: a probability, see :class:`AutoTCL`).
        uniform: draws in (0, 1) of the same shape, or ``None``.
        stretch: ``(low, high)`` with ``low <= 0 < 1 <= high``.
        temperature: relaxation temperature, > 0.

    Shape:
        any float shape -> ``(gate, soft)``: ``gate`` in {0, 1} with the gradient of ``soft``,
        ``soft`` the stretched, clipped relaxation in [0, 1]; both the shape and dtype of ``locations``.

    >>> gate, soft = hard_concrete(torch.tensor([-3.0, 3.0], requires_grad=True), None)
    >>> gate.tolist(), bool(soft.requires_grad)
    ([0.0, 1.0], True)
    """
    low, high = stretch
    noisy = locations if uniform is None else locations + torch.log(uniform) - torch.log1p(-uniform)
    soft = (torch.sigmoid(noisy / temperature) * (high - low) + low).clamp(0.0, 1.0)
    hard = (soft > 0.5).to(soft.dtype)
    return hard + (soft - soft.detach()), soft


class MaskAugmenter(nn.Module):
    """AutoTCL's augmentation network: per-step mask weights and smooth scales of a series.

    ``e = Encoder(x)``: a 1x1 convolution to ``hidden`` channels, then ``depth`` residual blocks
    ``e + GELU(conv1d_k3(e, dilation 2^i))`` (TS2Vec-style dilated convolutions, "same" padding),
    so each step sees ``1 + 2 (2^depth - 1)`` steps around it. Heads (1x1 convolutions, one
    output channel shared by every input channel, the official ``agu_channel=1``): the mask
    weights ``p(x) = sigmoid(conv(e))`` and the scales ``g(x) = sigmoid(conv(e))``, both in (0, 1).

    Args:
        in_channels: channels ``C`` of the series.
        hidden: width of the embedding (16 in the paper).
        depth: dilated residual blocks (3 in the paper).

    Shape:
        ``(B, C, L)`` float (normalised series) -> ``(weights, scales)``, each ``(B, L)`` float in (0, 1).
    """

    def __init__(self, in_channels: int, hidden: int = 16, depth: int = 3) -> None:
        super().__init__()
        self.input = nn.Conv1d(in_channels, hidden, 1)
        self.blocks = nn.ModuleList(
            nn.Conv1d(hidden, hidden, 3, padding=2**index, dilation=2**index) for index in range(depth)
        )
        self.mask_head = nn.Conv1d(hidden, 1, 1)
        self.scale_head = nn.Conv1d(hidden, 1, 1)

    def forward(self, series: Tensor) -> tuple[Tensor, Tensor]:
        embedding = self.input(series)
        for block in self.blocks:
            embedding = embedding + nnf.gelu(block(embedding))
        return torch.sigmoid(self.mask_head(embedding)).squeeze(1), torch.sigmoid(self.scale_head(embedding)).squeeze(1)


@dataclass(frozen=True)
class AugmentedSeries:
    """One pass of the augmenter over a batch.

    Attributes:
        view: ``(B, C, L)`` float, ``x' = g * h * x`` on the valid steps, the padding unchanged.
        mask: ``(B, L)`` float in {0, 1}, the hard gate ``h`` (gradient of its relaxation).
        weights: ``(B, L)`` float in (0, 1), the mask weights ``p`` (the regularisers' target).
        scales: ``(B, L)`` float in (0, 1), ``g``.
        valid: ``(B, L)`` bool, the steps before each series' trailing zero padding.
    """

    view: Tensor
    mask: Tensor
    weights: Tensor
    scales: Tensor
    valid: Tensor


# -- the shared contrastive part ------------------------------------------------------------------


class _SeriesContrastive(Method):
    """What ``autotcl`` and ``ts_contrastive`` share: the encoder, the loss, the averaged copy.

    The encoder is the run's :class:`~augbench.models.staged.StagedModel` before its head whose
    last stage pools a ``(B, D, L)`` per-step map into the ``(B, D)`` representation the probes
    read (``timeseries_cnn``: conv3, then global average pooling). The loss of two views
    is :func:`~augbench.losses.cross_view_info_nce` of their pooled representations plus
    ``local_weight`` times :func:`~augbench.losses.temporal_info_nce` of their per-step maps
    (only for time-aligned views). Both views go through the encoder in one forward pass, so
    batch norm sees both.

    Evaluation reads an SWA copy: the running mean of the encoder's weights after every step
    (the official ``torch.optim.swa_utils.AveragedModel``, starting from the initialisation),
    whose batch-norm statistics are re-estimated on the clean training series after the last
    step (``swa_utils.update_bn``); it is module ``"swa"``, saved with the phase.
    """

    streams = ("labeled",)
    evaluations = ("linear_probe", "knn")
    name = "series_contrastive"

    def __init__(self, temperature: float, local_weight: float, input_shape: tuple[int, ...]) -> None:
        who = self.name
        self.temperature = _number(who, "temperature", temperature, 0.0, math.inf, 1.0, open_low=True)
        self.local_weight = _number(who, "local_weight", local_weight, 0.0, math.inf, 0.1)
        self.input_shape = tuple(int(size) for size in input_shape)
        if len(self.input_shape) != 2:
            raise ConfigError(
                f"{who}: the data has samples of shape {self.input_shape}; it needs time series (C, L) "
                "(datasets such as gunpoint, arrowhead, basic_motions)"
            )
        self._average: MomentumEncoder[StagedModel] | None = None
        self._averaged_steps = 0

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``pretrain`` phase; its averaged encoder is what the probes read."""
        return [Phase("pretrain", self, self.spec)]

    def setup(self, ctx: TrainContext) -> None:
        """Check the encoder, and create the SWA copy (module ``"swa"``)."""
        model = ctx.model
        if not isinstance(model, StagedModel) or model.num_stages < 2:
            raise ConfigError(
                f"{self.name}: the model is a {type(model).__name__}, which exposes no per-step feature map; "
                "use timeseries_cnn"
            )
        was_training = model.training
        model.eval()
        with torch.no_grad():
            steps = model.forward_features(torch.zeros(2, *self.input_shape, device=ctx.device), model.num_stages - 1)
        model.train(was_training)
        if steps.ndim != 3 or steps.shape[-1] != self.input_shape[-1]:
            raise ConfigError(
                f"{self.name}: {type(model).__name__}'s last stage reads a map of shape {tuple(steps.shape)}, not "
                f"(B, D, {self.input_shape[-1]}) steps; use a model whose last stage pools over time (timeseries_cnn)"
            )
        self._average = MomentumEncoder(model)
        self._averaged_steps = 0
        ctx.add_module("swa", self._average.model, trainable=False)

    def encode(self, model: StagedModel, series: Tensor) -> tuple[Tensor, Tensor]:
        """``(steps, pooled)`` of normalised series: ``(B, L, D)`` per-step and ``(B, D)`` pooled features."""
        steps = model.forward_features(series, model.num_stages - 1)
        pooled = model.stages[model.stage_names[-1]](steps).flatten(1)
        return steps.transpose(1, 2), pooled

    def contrast(self, model: StagedModel, first: Tensor, second: Tensor, ctx: TrainContext) -> Tensor:
        """The encoder's loss for two views ``(B, C, L)`` (normalised), logged as ``info_nce``,
        ``local_info_nce`` (when used) and ``positive_accuracy`` (chance ``1 / B``)."""
        steps, pooled = self.encode(model, torch.cat([first, second]))
        anchors, candidates = pooled.chunk(2)
        loss = cross_view_info_nce(anchors, candidates, self.temperature)
        ctx.log.add("info_nce", loss.detach())
        if self.local_weight > 0:
            local = temporal_info_nce(*steps.chunk(2), temperature=self.temperature)
            ctx.log.add("local_info_nce", local.detach())
            loss = loss + self.local_weight * local
        with torch.no_grad():
            similarity = nnf.normalize(anchors, dim=1) @ nnf.normalize(candidates, dim=1).T
            hits = similarity.argmax(1) == torch.arange(len(anchors), device=similarity.device)
            ctx.log.add("positive_accuracy", hits.float().mean())
        return loss

    def on_after_step(self, ctx: TrainContext) -> None:
        """SWA update: the copy becomes the mean of the initialisation and every step's weights."""
        average = self._averaged(ctx)
        self._averaged_steps += 1
        average.update(ctx.model, self._averaged_steps / (self._averaged_steps + 1))

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """After the last step: re-estimate the SWA copy's batch-norm statistics on the clean training series."""
        if ctx.step >= ctx.total_steps:
            _update_batch_norm(self._averaged(ctx).model, ctx)

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The SWA copy (the official code evaluates its ``AveragedModel``)."""
        if self._average is None:
            raise ConfigError(f"{self.name}: eval_model() before setup(); train the phase first")
        return self._average.model

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Refused: pretraining never trains the model's classifier head."""
        raise ConfigError(
            f"{self.name} trains an encoder, not a classifier; evaluate it with linear_probe or knn "
            "(set the experiment's evaluations: [linear_probe, knn])"
        )

    def _averaged(self, ctx: TrainContext) -> MomentumEncoder[StagedModel]:
        if self._average is None:
            raise ConfigError(f"{self.name}: a step before setup(); call method.setup(ctx) first")
        return self._average


def _update_batch_norm(model: nn.Module, ctx: TrainContext) -> None:
    """Batch-norm statistics of ``model`` as the plain mean over the clean labeled pool
    (``torch.optim.swa_utils.update_bn``), then eval mode."""
    with torch.no_grad():
        batches = [ctx.normalize(part.inputs) for part in ctx.pool_batches("labeled")]
    torch.optim.swa_utils.update_bn(batches, model)
    model.eval()


# -- AutoTCL --------------------------------------------------------------------------------------


@METHODS.register("autotcl")
class AutoTCL(_SeriesContrastive):
    """AutoTCL (Zheng et al., ICLR 2024): contrast each series with its learned augmentation.

    An augmentation network (:class:`MaskAugmenter`) factorises the view as
    ``x' = g(x) * h(x) * x`` on the normalised series: ``h`` is a hard 0/1 mask over time steps
    (:func:`hard_concrete` located at the mask weights ``p = sigmoid(a(x))``, stretch
    ``(-0.05, 1)``, logistic noise from uniform draws in ``[0.001, 0.999]``, hard forward, soft
    gradient), shared by the channels; ``g`` in (0, 1) a smooth per-step scale. As in the
    official ``AutoTCL_CoST.py`` the noise is added to the *probability* ``p``, not to a logit,
    so ``P(h = 1) = sigmoid(p - 0.095)`` stays within about [0.48, 0.71]: the augmenter can
    shape *where* the mask keeps steps but can neither keep everything nor drop everything.
    (With the noise on the logit ``a``, the usual hard concrete, a pilot on GunPoint drove the
    mask to all ones and ``g`` to 1 within 10 epochs: MMD is smallest for ``x' = x``, and the
    0.001-weighted budget does not resist it.) Each step on the labeled batch ``x`` (labels never
    read) alternates, as the official ``fit``:

    1. Augmenter update, encoder frozen (eval mode, its weights and gradients untouched):
       ``MMD(f(x), f(x')) + budget_weight * relu(mean p - budget) + smooth_weight * mean_t |p_t -
       p_{t-1}|`` with :func:`~augbench.losses.gaussian_mmd` on the pooled representations, the
       budget and the consistency on the mask weights ``p``; one AdamW step (``aug_lr``) of
       the augmenter only, inside ``training_step``.
    2. Encoder update, augmenter frozen (``x'`` made without gradient, fresh noise, the updated
       augmenter): the shared contrastive loss of ``(x, x')`` (``cross_view_info_nce`` with ``x``
       as anchors + ``local_weight`` x ``temporal_info_nce``; ``x`` and ``x'`` are aligned in time),
       returned to the loop, which steps the run's optimiser (the encoder only).

    The relaxation noise is a keyed draw (``ctx.keys("labeled", 3)`` for step 1, ``4`` for step 2),
    so a sample's noise depends on the seed, its id and the epoch only. The whole of step 1 and
    the making of ``x'`` are timed as augmentation. Logged per epoch: ``mask_mean`` (share of
    kept steps; near 0 or 1 means the mask collapsed), ``mask_weight`` (mean ``p``),
    ``scale_mean`` (mean ``g``), ``mmd``, ``augmenter_loss`` and the contrastive terms.

    Simplified relative to the paper and its code:

    - the augmenter is a small dilated CNN of our own (hidden 16, 3 blocks), not the official
      TS2Vec dilated encoder with its input projection and latent masking;
    - the temporal-consistency term is the mean absolute difference of ``p`` between adjacent
      steps (the official ``regular_consistency`` compares randomly picked steps across the batch);
    - the local loss is TS2Vec's temporal contrast of aligned steps (the official
      ``local_infoNCE`` contrasts max-pooled segments of one view);
    - representations are the encoder's mean-pooled features (the official code max-pools over
      time), and the probe is the registry's ``linear_probe`` (plus ``knn``), not an SVM;
    - ``x`` and ``x'`` pass the encoder in one forward pass, so batch norm sees both (the official
      encoder has no batch norm and runs them apart);
    - padding: steps after a series' valid length are left as they are and excluded from the
      mask statistics.

    Args:
        temperature: temperature of both contrastive terms, > 0 (1 in the official code).
        local_weight: weight of the temporal (per-step) contrast, >= 0 (0.1).
        aug_lr: AdamW learning rate of the augmenter, > 0 (0.01).
        aug_weight_decay: AdamW weight decay of the augmenter, >= 0 (0.01, torch's default).
        hidden: augmenter width, >= 1 (16).
        depth: augmenter dilated blocks, >= 1 (3).
        budget: budget of the mean mask weight ``p`` in [0, 1] above which the sparsity term acts (0.4).
        budget_weight: weight of ``relu(mean p - budget)``, >= 0 (0.001).
        smooth_weight: weight of the temporal consistency of ``p``, >= 0 (0.001).
        noise_bias: the uniform draws lie in ``[noise_bias, 1 - noise_bias]``, in (0, 0.5) (0.001).
        input_shape: one sample's shape ``(C, L)`` (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, L)`` float series -> a scalar loss.

    Raises:
        ConfigError: an option out of range, data that are not time series, or a model without a
            per-step feature map before its pooling stage.
    """

    name = "autotcl"

    def __init__(
        self,
        temperature: float = 1.0,
        local_weight: float = 0.1,
        aug_lr: float = 0.01,
        aug_weight_decay: float = 0.01,
        hidden: int = 16,
        depth: int = 3,
        budget: float = 0.4,
        budget_weight: float = 0.001,
        smooth_weight: float = 0.001,
        noise_bias: float = 0.001,
        input_shape: tuple[int, ...] = (1, 150),
    ) -> None:
        super().__init__(temperature, local_weight, input_shape)
        who = self.name
        self.aug_lr = _number(who, "aug_lr", aug_lr, 0.0, math.inf, 0.01, open_low=True)
        self.aug_weight_decay = _number(who, "aug_weight_decay", aug_weight_decay, 0.0, math.inf, 0.01)
        self.hidden = _whole(who, "hidden", hidden, 16)
        self.depth = _whole(who, "depth", depth, 3)
        self.budget = _number(who, "budget", budget, 0.0, 1.0, 0.4)
        self.budget_weight = _number(who, "budget_weight", budget_weight, 0.0, math.inf, 0.001)
        self.smooth_weight = _number(who, "smooth_weight", smooth_weight, 0.0, math.inf, 0.001)
        if not _is_number(noise_bias) or not 0.0 < noise_bias < 0.5:
            raise ConfigError(f"{who}: noise_bias={noise_bias!r} must be a number in (0, 0.5), e.g. 0.001")
        self.noise_bias = float(noise_bias)
        self.stretch = (-0.05, 1.0)
        self.augmenter: MaskAugmenter | None = None
        self._aug_optimizer: torch.optim.Optimizer | None = None

    def setup(self, ctx: TrainContext) -> None:
        """The shared setup, then the augmenter (module ``"augmenter"``, seeded from the run) and its AdamW."""
        super().setup(ctx)
        with seeded_init(ctx.generator):
            augmenter = MaskAugmenter(self.input_shape[0], self.hidden, self.depth)
        self.augmenter = ctx.add_module("augmenter", augmenter, trainable=False)
        self._aug_optimizer = torch.optim.AdamW(
            self.augmenter.parameters(), lr=self.aug_lr, weight_decay=self.aug_weight_decay
        )

    def augment(self, series: Tensor, valid: Tensor, uniform: Tensor | None) -> AugmentedSeries:
        """``x' = g(x) * h(x) * x`` of normalised series ``(B, C, L)`` on the ``valid`` ``(B, L)`` steps;
        ``uniform`` ``(B, L)`` are the relaxation's draws (``None``: no noise)."""
        augmenter = self._augmenter()
        weights, scales = augmenter(series)
        mask, _ = hard_concrete(weights, uniform, self.stretch)
        factor = torch.where(valid, scales * mask, torch.ones_like(mask))
        return AugmentedSeries(series * factor[:, None, :], mask, weights, scales, valid)

    def noise(self, ctx: TrainContext, view: int, shape: tuple[int, int]) -> Tensor:
        """Keyed uniform draws ``(B, L)`` in ``[noise_bias, 1 - noise_bias]`` for the batch's samples."""
        uniform = KeyedGenerator(ctx.keys("labeled", view), ctx.seed).rand(shape).to(ctx.device)
        return self.noise_bias + (1.0 - 2.0 * self.noise_bias) * uniform

    def augmenter_loss(self, model: StagedModel, series: Tensor, augmented: AugmentedSeries) -> dict[str, Tensor]:
        """The augmenter's objective and its parts for a view of ``series`` (the encoder in eval mode).

        Returns ``{"loss", "mmd", "budget", "smooth"}`` 0-d tensors; only ``loss`` carries a graph.
        """
        with torch.no_grad():
            _, clean = self.encode(model, series)
        _, view = self.encode(model, augmented.view)
        mmd = gaussian_mmd(clean, view)
        valid = augmented.valid.to(series.dtype)
        probability = augmented.weights
        budget = torch.relu((probability * valid).sum() / valid.sum().clamp(min=1.0) - self.budget)
        pairs = valid[:, 1:] * valid[:, :-1]
        smooth = ((probability[:, 1:] - probability[:, :-1]).abs() * pairs).sum() / pairs.sum().clamp(min=1.0)
        loss = mmd + self.budget_weight * budget + self.smooth_weight * smooth
        return {"loss": loss, "mmd": mmd.detach(), "budget": budget.detach(), "smooth": smooth.detach()}

    def augmenter_step(self, series: Tensor, valid: Tensor, ctx: TrainContext) -> dict[str, Tensor]:
        """One augmenter update on normalised ``series``; the encoder's weights, gradients and
        batch-norm statistics are left as they were. Returns the detached loss parts."""
        model = _staged(ctx.model)
        augmenter, optimizer = self._augmenter(), self._optimizer()
        was_training = model.training
        model.eval()
        try:
            augmented = self.augment(series, valid, self.noise(ctx, _AUGMENTER_NOISE_VIEW, tuple(valid.shape)))
            parts = self.augmenter_loss(model, series, augmented)
            parameters = list(augmenter.parameters())
            for parameter, grad in zip(parameters, torch.autograd.grad(parts["loss"], parameters)):
                parameter.grad = grad
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        finally:
            model.train(was_training)
        parts["loss"] = parts["loss"].detach()
        return parts

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        inputs = batch["labeled"].inputs
        series = ctx.normalize(inputs)
        valid = _valid_steps(inputs)
        with ctx.timer.augmentation():
            parts = self.augmenter_step(series, valid, ctx)
            with torch.no_grad():
                augmented = self.augment(series, valid, self.noise(ctx, _ENCODER_NOISE_VIEW, tuple(valid.shape)))
        loss = self.contrast(_staged(ctx.model), series, augmented.view, ctx)
        counts = valid.sum().clamp(min=1)
        ctx.log.add("mask_mean", (augmented.mask * valid).sum() / counts)
        ctx.log.add("mask_weight", (augmented.weights * valid).sum() / counts)
        ctx.log.add("scale_mean", (augmented.scales * valid).sum() / counts)
        ctx.log.add("augmenter_loss", parts["loss"])
        ctx.log.add("mmd", parts["mmd"])
        return StepOutput(loss)

    def _augmenter(self) -> MaskAugmenter:
        if self.augmenter is None:
            raise ConfigError("autotcl: the augmenter is built by setup(ctx); call it before a step")
        return self.augmenter

    def _optimizer(self) -> torch.optim.Optimizer:
        if self._aug_optimizer is None:
            raise ConfigError("autotcl: the augmenter's optimiser is built by setup(ctx); call it before a step")
        return self._aug_optimizer


def _valid_steps(inputs: Tensor) -> Tensor:
    """``(B, L)`` bool: the steps before each stored series' trailing zero padding (the UCR/UEA loader's)."""
    lengths = F.valid_lengths(inputs, 0.0)
    return torch.arange(inputs.shape[-1], device=inputs.device)[None, :] < lengths[:, None]


def _staged(model: nn.Module) -> StagedModel:
    if not isinstance(model, StagedModel):
        raise ConfigError(f"the model is a {type(model).__name__}; series contrastive methods need timeseries_cnn")
    return model


# -- the fixed-augmentation baseline --------------------------------------------------------------


@METHODS.register("ts_contrastive")
class TSContrastive(_SeriesContrastive):
    """Contrastive pretraining with fixed, TS2Vec-style augmentations: AutoTCL's baseline.

    Per step on the labeled batch (labels never read): both views of every series come from
    **one** keyed call of the pipeline ``augment`` (default :data:`TS2VEC_VIEWS`: a random
    50-100 % window stretched back, jitter, a span set to the channel mean) with keys
    ``[ctx.keys("labeled", 1); ctx.keys("labeled", 2)]``; the encoder is trained with the
    :func:`~augbench.losses.cross_view_info_nce` of their pooled representations (first view as
    anchors), the instance term AutoTCL uses; evaluation reads the same SWA copy. Everything but
    the views is shared with ``autotcl``, so the two differ in where the views come from (and
    ``autotcl``'s optional temporal term).

    Simplified relative to TS2Vec: the crops are stretched back to the series length by the
    engine's window slice (TS2Vec crops two overlapping windows at the original scale and
    contrasts the overlap step by step), the timestamp masking acts on one span of the input,
    not on random latent steps, and there is no hierarchical (multi-scale) pooling of the
    loss. There is no per-step loss: the two windows are not aligned in time.

    Args:
        augment: the views' pipeline, an engine transform spec of the ``timeseries`` modality
            that keeps the series shape.
        temperature: InfoNCE temperature, > 0 (1, as AutoTCL's).
        input_shape: one sample's shape ``(C, L)`` (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, L)`` float series -> a scalar loss.
    """

    name = "ts_contrastive"
    spec_fields = {"augment": "transform"}

    def __init__(
        self,
        augment: Spec | Transform = TS2VEC_VIEWS,
        temperature: float = 1.0,
        input_shape: tuple[int, ...] = (1, 150),
    ) -> None:
        super().__init__(temperature, 0.0, input_shape)
        self.augment = build_transform(augment)

    def keyed_views(self) -> list[KeyedView]:
        """Both views of the labeled batch from one keyed call (key views 1 and 2)."""
        return [KeyedView(self.augment, "labeled", _FIXED_VIEWS)]

    def views(self, ctx: TrainContext) -> Tensor:
        """The ``2B`` views ``(2B, C, L)`` of the current batch, rows ``b`` and ``B + b`` the two of series ``b``."""
        return ctx.augment(self.augment, "labeled", _FIXED_VIEWS)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        first, second = ctx.normalize(self.views(ctx)).chunk(2)
        return StepOutput(self.contrast(_staged(ctx.model), first, second, ctx))
