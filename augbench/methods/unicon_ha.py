"""UniCon-HA: unilaterally aggregated contrastive learning with hierarchical augmentation.

Reference:
    Wang, Wang, Qin, Zhang, Bao and Huang, "Unilaterally Aggregated Contrastive Learning with
    Hierarchical Augmentation for Anomaly Detection", ICCV 2023 (arXiv:2308.10155). No public
    code was found; the scoring follows CSI (Tack et al., NeurIPS 2020), as the paper does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError, InputValueError
from augbench.methods.base import METHODS, Method, Phase
from augbench.models.heads import projection_head
from augbench.metrics.anomaly import nearest_cosine_score
from augbench.random import seeded_init
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform
from augbench.transforms.geometry import RandomResizedCrop

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["UniConHA", "aggregation_weights", "unilateral_contrastive_loss", "ROTATIONS"]

ROTATIONS = (0, 1, 2, 3)
"""Quarter turns of the views: 0 is the inlier, 1-3 (90, 180, 270 degrees) the virtual outliers."""

_KEY_VIEWS = 16  # key views 0..15 (augbench.keyed.KEY_VIEWS)
_SCORES = ("encoder", "heads")


def aggregation_weights(inliers: Tensor, temperature: float) -> Tensor:
    """Soft aggregation weights of the inlier views: a softmax over the views of their mean
    cosine similarity to the *other* inlier views, divided by ``temperature``.

    ``w_i = softmax_i( (1 / (n - 1)) * sum_{j != i} cos(z_i, z_j) / temperature )``, so views
    that drift away from the inlier cluster get less weight; the weights sum to 1.

    Args:
        inliers: embeddings of the ``n >= 2`` inlier views (normalised here).
        temperature: ``> 0``; small values concentrate the weight on the most typical views,
            large ones approach the uniform ``1 / n``.

    Shape:
        ``(n, D)`` float -> ``(n,)`` float, non-negative, summing to 1.
    """
    if inliers.ndim != 2 or inliers.shape[0] < 2:
        raise InputValueError(f"aggregation_weights: inliers must be (n, D) with n >= 2, got {tuple(inliers.shape)}")
    if not temperature > 0:
        raise InputValueError(f"aggregation_weights: temperature={temperature!r} must be > 0")
    z = nnf.normalize(inliers, dim=1)
    count = z.shape[0]
    similarity = z @ z.T
    mean_to_others = (similarity.sum(1) - similarity.diagonal()) / (count - 1)
    return (mean_to_others / temperature).softmax(0)


def unilateral_contrastive_loss(
    inliers: Tensor, outliers: Tensor, temperature: float, weight_temperature: float, outlier_weight: float = 1.0
) -> tuple[Tensor, Tensor, Tensor]:
    """UniCon's loss of one head: weighted SupCon aggregating every inlier view into one class,
    plus NT-Xent over the virtual outliers, each rotated image its own class.

    All ``n + m`` embeddings are L2-normalised and compared by ``s_ij = cos(z_i, z_j) / T``;
    every anchor's denominator runs over **all** other views, inliers and outliers alike, so
    inliers and outliers are negatives of each other and an outlier is never a positive of an
    inlier:

    - inliers: ``L_in = sum_{i != p} w_i w_p l_ip / sum_{i != p} w_i w_p`` over inlier pairs,
      ``l_ip = -log( exp(s_ip) / sum_{a != i} exp(s_ia) )`` and ``w`` the (stop-gradient)
      :func:`aggregation_weights` (uniform ``w`` gives plain SupCon with one class);
    - outliers: ``L_out = mean_i -log( exp(s_i,pos(i)) / sum_{a != i} exp(s_ia) )`` with
      ``pos(i)`` the other view of the same rotated image;
    - ``loss = L_in + outlier_weight * L_out`` (``L_out = 0`` without outliers).

    Args:
        inliers: the ``n = 2B`` views of the upright images, rows ``v * B + b`` (view ``v`` of
            image ``b``).
        outliers: ``m = 2BR`` rotated views, ``R`` blocks of ``2B`` rows laid out like
            ``inliers`` (one block per rotation); ``(0, D)`` for none.
        temperature: ``T > 0``.
        weight_temperature: temperature of :func:`aggregation_weights`.
        outlier_weight: weight of ``L_out``.

    Returns:
        ``(loss, L_in, L_out)``, scalars.

    Shape:
        ``inliers`` ``(2B, D)``, ``outliers`` ``(2BR, D)`` float, ``B >= 1``.
    """
    count, width = inliers.shape
    if count < 2 or count % 2 or outliers.ndim != 2 or outliers.shape[1] != width or outliers.shape[0] % count:
        raise InputValueError(
            f"unilateral_contrastive_loss: inliers {tuple(inliers.shape)} must be (2B, D) and outliers "
            f"{tuple(outliers.shape)} (2BR, D) with the same D"
        )
    if not temperature > 0:
        raise InputValueError(f"unilateral_contrastive_loss: temperature={temperature!r} must be > 0")
    z = nnf.normalize(torch.cat([inliers, outliers]), dim=1)
    total = z.shape[0]
    eye = torch.eye(total, dtype=torch.bool, device=z.device)
    log_prob = ((z @ z.T) / temperature).masked_fill(eye, float("-inf")).log_softmax(1)
    weights = aggregation_weights(z[:count].detach(), weight_temperature)
    pairs = (weights[:, None] * weights[None, :]).masked_fill(eye[:count, :count], 0.0)
    inlier_terms = log_prob[:count, :count].masked_fill(eye[:count, :count], 0.0)
    inlier_loss = -(pairs * inlier_terms).sum() / pairs.sum()
    if outliers.shape[0] == 0:
        outlier_loss = inlier_loss.new_zeros(())
    else:
        local = torch.arange(outliers.shape[0], device=z.device)
        half = count // 2
        partner = count + (local // count) * count + (local % count + half) % count
        outlier_loss = -log_prob[count + local, partner].mean()
    return inlier_loss + outlier_weight * outlier_loss, inlier_loss, outlier_loss


class FeatureBank(nn.Module):
    """Features of the training inliers for the anomaly score, as buffers (saved with the phase,
    so a cached run scores the same): ``features`` ``(N, D)`` float per scored feature set."""

    def __init__(self, widths: dict[str, int], size: int) -> None:
        super().__init__()
        for name, width in widths.items():
            self.register_buffer(name, torch.zeros(size, width))
        self.names = tuple(widths)


@METHODS.register("unicon_ha")
class UniConHA(Method):
    """Train an encoder for one-class anomaly detection with rotation outliers and heads at several depths.

    Algorithm, per step on the labeled stream's ``B`` images (all of the inlier class under the
    one-class protocol, ``inlier_class: k``; labels are never read), for every head ``h``:

    1. Views: one keyed engine call makes ``2R`` independent views of every image (``R`` = 4
       rotations, or 1 with ``rotations: false``): random resized crop with area in
       ``[crop_scales[h], 1]`` (back to the input size), key views ``h * 2R .. h * 2R + 2R - 1``
       (mod 16). Block ``r`` (rows ``2rB .. 2(r+1)B``) is then turned by ``r`` quarter turns,
       exactly, with ``torch.rot90``. The crop is drawn on the upright image; for square images
       and an aspect range symmetric under inversion this is the same distribution as rotating
       first.
    2. Hierarchical heads: head ``h`` sits after stage ``heads[h]`` of the staged encoder
       (``forward_features(x, stop_at=heads[h])``; global average pooling after an inner stage,
       the flattened features after the last, as SimCLR), and its projector
       ``Linear - BatchNorm1d - ReLU - Linear(projection_dim)`` is ``ctx.add_module("head{k}")``.
       Shallow heads see weak crops, deep heads strong ones: ``crop_scales`` must not increase.
    3. Loss of a head: :func:`unilateral_contrastive_loss` with the ``2B`` upright views as
       inliers (weighted SupCon, one class, weights :func:`aggregation_weights`) and the
       ``6B`` rotated views as outliers (NT-Xent, each rotated image its own class). The step's
       loss is the mean over heads.
    4. Score: after training, the features of every (unaugmented) training inlier are kept in
       a :class:`FeatureBank`; :meth:`anomaly_score` is ``-max_m cos(f(x), f(x_m))``
       (:func:`~augbench.metrics.anomaly.nearest_cosine_score`), with ``f`` the encoder's
       flattened features (``score: encoder``, the same formula and features as the
       SimCLR-feature kNN control) or the mean of that score over the heads' projections
       (``score: heads``).

    Logged per epoch (deepest head): ``inlier_loss``, ``outlier_loss``, ``inlier_nn_accuracy``
    (share of upright views whose most similar other view is upright), ``outlier_positive_accuracy``
    (share of rotated views whose most similar other view is their positive) and
    ``weight_spread`` (``n * max w``: 1 is uniform).

    Simplified relative to the paper (no public code; details not in the paper are choices):

    - a small CNN (the harness CNN's two stages) stands in for ResNet-18's four;
    - "augmentation strength" per depth is the crop's smallest area only (no colour jitter for
      grey digits, no flips: mirrored digits are not digits);
    - the soft aggregation weights pairs of inlier views by ``w_i w_p`` with one softmax over the
      batch's upright views (stop-gradient); the paper's exact weighting form is not verified;
    - no test-time ensemble over rotated copies and no norm factor in the score (CSI has both);
    - heads beyond the second reuse key views (16 in all): heads ``h`` and ``h + 2`` draw from
      the same keys, with different crop ranges.

    Args:
        temperature: contrastive temperature ``T > 0``.
        weight_temperature: temperature of the soft aggregation weights, ``> 0``.
        outlier_weight: weight of the rotated-view term, ``>= 0``.
        rotations: ``false`` drops the rotated views and the outlier term (the card's control).
        crop_scales: the smallest crop area of each head, shallow to deep, non-increasing, in
            ``(0, 1]``; their count is the number of heads.
        heads: the mixing points (stage indices ``1..K``) of the heads, increasing; ``None``: the
            last ``len(crop_scales)`` stages.
        projection_dim: output width of every head.
        hidden_dim: hidden width of the heads; ``None``: the head's input width.
        score: ``"encoder"`` or ``"heads"`` (see 4.).
        input_shape: one stored sample's shape (from the data).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, H, H)`` uint8 -> a scalar loss;
        :meth:`anomaly_score` ``(N, C, H, H)`` -> ``(N,)`` float.
    """

    streams = ("labeled",)
    evaluations = ("one_class_auroc",)

    def __init__(
        self,
        temperature: float = 0.5,
        weight_temperature: float = 0.5,
        outlier_weight: float = 1.0,
        rotations: bool = True,
        crop_scales: Sequence[float] = (0.6, 0.3),
        heads: Sequence[int] | None = None,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        score: str = "encoder",
        input_shape: tuple[int, ...] = (1, 8, 8),
    ) -> None:
        self.temperature = _positive("temperature", temperature, 0.5)
        self.weight_temperature = _positive("weight_temperature", weight_temperature, 0.5)
        if not _is_number(outlier_weight) or outlier_weight < 0:
            raise ConfigError(f"unicon_ha: outlier_weight={outlier_weight!r} must be a number >= 0, e.g. 1.0")
        self.outlier_weight = float(outlier_weight)
        if not isinstance(rotations, bool):
            raise ConfigError(f"unicon_ha: rotations={rotations!r} must be true or false")
        self.rotations = ROTATIONS if rotations else ROTATIONS[:1]
        scales = list(crop_scales) if isinstance(crop_scales, (list, tuple)) else []
        if not scales or not all(_is_number(s) and 0 < s <= 1 for s in scales) or any(
            deep > shallow for shallow, deep in zip(scales, scales[1:])
        ):
            raise ConfigError(
                f"unicon_ha: crop_scales={crop_scales!r} must be a non-empty list of areas in (0, 1] that do not "
                "increase with depth (weak views at shallow heads), e.g. [0.6, 0.3]"
            )
        self.crop_scales = tuple(float(s) for s in scales)
        if heads is not None and (
            not isinstance(heads, (list, tuple)) or len(heads) != len(scales)
            or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in heads)
            or list(heads) != sorted(set(heads))
        ):
            raise ConfigError(
                f"unicon_ha: heads={heads!r} must list {len(scales)} increasing stage indices >= 1 (one per crop "
                "scale), e.g. [1, 2]; or null for the last stages"
            )
        self.heads = None if heads is None else tuple(heads)
        self.projection_dim = _positive_int("projection_dim", projection_dim, 128)
        self.hidden_dim = None if hidden_dim is None else _positive_int("hidden_dim", hidden_dim, 256)
        if score not in _SCORES:
            raise ConfigError(f"unicon_ha: score={score!r} must be one of {', '.join(_SCORES)}")
        self.score = score
        self.input_shape = tuple(int(size) for size in input_shape)
        if len(self.input_shape) != 3 or self.input_shape[1] != self.input_shape[2]:
            raise ConfigError(
                f"unicon_ha: needs square images (C, H, H) for exact quarter turns, the data has samples of shape "
                f"{self.input_shape}; resize the dataset to a square (e.g. digits size: 16)"
            )
        self.augments: tuple[Transform, ...] = tuple(
            RandomResizedCrop(size=None, scale=(scale, 1.0)) for scale in self.crop_scales
        )
        views = 2 * len(self.rotations)
        self.key_views = tuple(
            tuple((h * views + i) % _KEY_VIEWS for i in range(views)) for h in range(len(self.crop_scales))
        )
        self.points: tuple[int, ...] = ()
        self.projectors: tuple[nn.Module, ...] = ()
        self.bank: FeatureBank | None = None

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``pretrain`` phase; its encoder (and the method's feature bank) is scored."""
        return [Phase("pretrain", self, self.spec)]

    def setup(self, ctx: TrainContext) -> None:
        """Register one projector per head (``head{k}``, seeded from ``ctx.generator``) and the
        feature bank (``feature_bank``, filled now and after the last epoch) when the context
        has the ``labeled`` pool."""
        model = ctx.model
        stages = getattr(model, "num_stages", None)
        if not callable(getattr(model, "forward_features", None)) or not isinstance(stages, int):
            raise ConfigError(
                f"unicon_ha: {type(model).__name__} is not a staged encoder; use one with stages "
                "(harness_cnn, convnet, lenet, preact_resnet18)"
            )
        points = self.heads or tuple(range(stages - len(self.crop_scales) + 1, stages + 1))
        if points[0] < 1 or points[-1] > stages:
            raise ConfigError(
                f"unicon_ha: {len(self.crop_scales)} heads at stages {list(points)} do not fit {type(model).__name__}'s "
                f"{stages} stages; give fewer crop_scales or heads within 1..{stages}"
            )
        self.points = points
        was_training = model.training
        model.eval()  # a shape probe must not move batch-norm statistics
        with torch.no_grad():
            probe = torch.zeros(2, *self.input_shape, device=ctx.device)
            widths = [self._pooled(model.forward_features(probe, stop_at=k), k, stages).shape[1] for k in points]
        model.train(was_training)
        projectors = []
        with seeded_init(ctx.generator):
            for k, width in zip(points, widths):
                hidden = self.hidden_dim or width
                projector = projection_head(width, hidden, self.projection_dim)
                projectors.append(ctx.add_module(f"head{k}", projector))
        self.projectors = tuple(projectors)
        self.bank = None
        if "labeled" in ctx.pools:
            scored = {"encoder": _flat_width(model, self.input_shape, ctx.device)} if self.score == "encoder" else {
                f"head{k}": self.projection_dim for k in points
            }
            self.bank = ctx.add_module("feature_bank", FeatureBank(scored, len(ctx.pools["labeled"])), trainable=False)
            self._fill_bank(ctx)

    @staticmethod
    def _pooled(hidden: Tensor, point: int, stages: int) -> Tensor:
        """A head's input: the flattened features after the last stage, else global average pooling."""
        if point == stages or hidden.ndim <= 2:
            return hidden.flatten(1)
        return hidden.flatten(2).mean(2)

    def keyed_views(self) -> list[KeyedView]:
        """Each head's ``2R`` views of the labeled batch from one keyed call."""
        return [KeyedView(augment, "labeled", keys) for augment, keys in zip(self.augments, self.key_views)]

    def views(self, ctx: TrainContext, head: int) -> Tensor:
        """Head ``head``'s views of the current batch: ``2R`` keyed crops per image in one engine
        call, block ``r`` of ``2B`` rows then turned by ``r`` quarter turns (``torch.rot90``).

        Shape:
            ``(B, C, H, H)`` stored images -> ``(2RB, C, H, H)``, same dtype; rows
            ``(2r + v) * B + b`` are view ``v`` of image ``b`` at rotation ``r``.
        """
        views = ctx.augment(self.augments[head], "labeled", self.key_views[head])
        blocks = views.chunk(len(self.rotations))
        return torch.cat([torch.rot90(block, turns, dims=(-2, -1)) for block, turns in zip(blocks, self.rotations)])

    def embed(self, model: nn.Module, images: Tensor, head: int) -> Tensor:
        """Head ``head``'s projection of normalised images: ``(N, C, H, W)`` -> ``(N, projection_dim)``."""
        stages = model.num_stages
        hidden = model.forward_features(images, stop_at=self.points[head])
        return self.projectors[head](self._pooled(hidden, self.points[head], stages))

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        losses = []
        for head in range(len(self.projectors)):
            z = self.embed(ctx.model, ctx.normalize(self.views(ctx, head)), head)
            count = 2 * len(batch["labeled"])
            loss, inlier_loss, outlier_loss = unilateral_contrastive_loss(
                z[:count], z[count:], self.temperature, self.weight_temperature, self.outlier_weight
            )
            losses.append(loss)
        detached = z.detach()
        ctx.log.add("inlier_loss", inlier_loss.detach())
        ctx.log.add("outlier_loss", outlier_loss.detach())
        _log_structure(ctx, detached, count, self.weight_temperature)
        return StepOutput(torch.stack(losses).mean())

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """After the last epoch, refill the feature bank with the trained encoder."""
        if ctx.step >= ctx.total_steps:
            self._fill_bank(ctx)

    @torch.no_grad()
    def _features(self, model: nn.Module, images: Tensor, name: str) -> Tensor:
        if name == "encoder":
            return model.forward_features(images).flatten(1)
        return self.embed(model, images, self.points.index(int(name[4:])))

    @torch.no_grad()
    def _fill_bank(self, ctx: TrainContext) -> None:
        """The unaugmented training inliers' features, in eval mode (batch norm uses its statistics)."""
        if self.bank is None:
            return
        modules = [ctx.model, *self.projectors]
        modes = [module.training for module in modules]
        for module in modules:
            module.eval()
        try:
            start = 0
            for part in ctx.pool_batches("labeled"):
                images = ctx.normalize(part.inputs)
                for name in self.bank.names:
                    getattr(self.bank, name)[start : start + len(part)] = self._features(ctx.model, images, name)
                start += len(part)
        finally:
            for module, mode in zip(modules, modes):
                module.train(mode)

    @torch.no_grad()
    def anomaly_score(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """``(N, ...)`` stored samples -> ``(N,)`` float anomaly scores (larger: more anomalous):
        ``-max cos`` to the training inliers' features (mean over the heads with ``score: heads``).

        Raises:
            ConfigError: no feature bank (the method was set up without the labeled pool).
        """
        if self.bank is None:
            raise ConfigError(
                "unicon_ha.anomaly_score: no training features; train it through a phase (setup needs the "
                "context's labeled pool, TrainContext(pools={'labeled': ...}))"
            )
        modes = [module.training for module in self.projectors]
        for module in self.projectors:
            module.eval()
        try:
            images = normalize(inputs)
            scores = [
                nearest_cosine_score(self._features(model, images, name), getattr(self.bank, name))
                for name in self.bank.names
            ]
        finally:
            for module, mode in zip(self.projectors, modes):
                module.train(mode)
        return torch.stack(scores).mean(0)

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Refused: pretraining never trains the model's classifier head."""
        raise ConfigError(
            "unicon_ha trains an encoder for anomaly detection, not a classifier; evaluate it with one_class_auroc "
            "(data key inlier_class) or auroc"
        )


def _log_structure(ctx: TrainContext, z: Tensor, count: int, weight_temperature: float) -> None:
    """Per-step diagnostics of the deepest head's embeddings (see the class docstring)."""
    z = nnf.normalize(z, dim=1)
    similarity = (z @ z.T).fill_diagonal_(float("-inf"))
    nearest = similarity.argmax(1)
    ctx.log.add("inlier_nn_accuracy", (nearest[:count] < count).float().mean())
    if z.shape[0] > count:
        local = torch.arange(z.shape[0] - count, device=z.device)
        partner = count + (local // count) * count + (local % count + count // 2) % count
        ctx.log.add("outlier_positive_accuracy", (nearest[count:] == partner).float().mean())
    ctx.log.add("weight_spread", count * aggregation_weights(z[:count], weight_temperature).max())


def _flat_width(model: nn.Module, input_shape: tuple[int, ...], device: torch.device) -> int:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        width = model.forward_features(torch.zeros(2, *input_shape, device=device)).flatten(1).shape[1]
    model.train(was_training)
    return width


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(option: str, value: Any, example: float) -> float:
    if not _is_number(value) or value <= 0:
        raise ConfigError(f"unicon_ha: {option}={value!r} must be a positive number, e.g. {example}")
    return float(value)


def _positive_int(option: str, value: Any, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"unicon_ha: {option}={value!r} must be a positive integer, e.g. {example}")
    return value
