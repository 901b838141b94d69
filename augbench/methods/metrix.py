"""Metrix (mixup for deep metric learning) and its baseline, the contrastive loss alone.

Reference:
    Venkataramanan, Psomas, Kijak, Amsaleg, Karantzalos and Avrithis, "It Takes Two to Tango:
    Mixup for Deep Metric Learning", ICLR 2022 (arXiv:2106.04990); official code
    github.com/billpsomas/metrix (``train.py``: ``feature_metrix_contrastive``,
    ``mixup/losses.py``: ``loss_posneg_mixup``, ``mixup/utils.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from augbench.distributions import beta, rand
from augbench.errors import ConfigError
from augbench.losses import contrastive_pair_loss, mixed_pair_loss
from augbench.methods.base import METHODS, Method
from augbench.policies.build import build_transform
from augbench.random import seeded_init
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = ["ContrastiveMetric", "EmbeddingHead", "Metrix", "Triplets", "metrix_triplets", "MODES", "MIXINGS"]

MODES = ("feature", "input", "embedding")
"""Where Metrix interpolates: the last feature map, the (normalised) input, or the embedding."""

MIXINGS = ("alternate", "positive_negative", "anchor_negative")
"""Which pairs are mixed: 50/50 per step (the paper), or always one kind."""


@METHODS.register("contrastive_metric")
class ContrastiveMetric(Method):
    """Deep metric learning with the contrastive loss on an embedding head (Metrix's baseline).

    Per step on the labeled stream's ``B`` samples (the labels define the pairs):

    1. ``h = model.forward_features(normalize(x))``, the encoder's last feature map (the harness
       CNN: ``(B, 64, 4, 4)`` after its last conv, ReLU and 2x2 max-pool), and the embedding
       ``e = W (avgpool(h) + maxpool(h)) + b`` of ``embedding_dim`` (16) dimensions with global
       average and global max pooling over the spatial axes, the official code's head
       (:class:`EmbeddingHead`, registered as ``ctx.add_module("embedding", ...)``); the model's
       own classifier head is never used.
    2. :func:`augbench.losses.contrastive_pair_loss` over every pair of the batch: Euclidean
       distance ``d`` of the L2-normalised embeddings, positives ``d``, negatives
       ``[margin - d]_+`` (margin 0.5), each part averaged over its non-zero terms.

    Batches: pairs are all pairs of the loop's random batch; there is no class-balanced
    sampler. With the shipped protocol (5 training classes, batch 50) a class has about 10
    samples per batch, so every anchor has positives in practice; a batch without any positive
    pair simply has no positive part.

    Evaluation: ``retrieval`` (Recall@1/2/4/8 and MAP@R among the test split's samples) of
    :meth:`embed`, the L2-normalised embedding, as metric learning evaluates it. Use the data
    spec's ``train_classes``/``test_classes`` so that retrieval runs on classes never trained on.

    Args:
        embedding_dim: size of the embedding (512 in the paper, 16 in the digits check).
        margin: the negative margin in (0, 2] (0.5).
        augment: an optional keyed transform of the labeled batch (key view 0), e.g. the
            paper's crop and flip; ``None``: the stored samples (the digits check).
        input_shape: one stored sample's shape (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, *input_shape)`` (uint8 images) and ``labels`` ``(B,)``
        int64 -> a scalar loss; :meth:`embed` ``(N, *input_shape)`` -> ``(N, embedding_dim)`` float32
        unit rows.

    Raises:
        ConfigError: an option out of range, a model without ``forward_features``, or a request
            for class predictions (:meth:`predict`).
    """

    streams = ("labeled",)
    evaluations = ("retrieval",)
    spec_fields = {"augment": "transform"}
    _who = "contrastive_metric"

    def __init__(
        self,
        embedding_dim: int = 16,
        margin: float = 0.5,
        augment: Spec | Transform | None = None,
        input_shape: tuple[int, ...] = (1, 8, 8),
    ) -> None:
        who = self._who
        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise ConfigError(f"{who}: embedding_dim={embedding_dim!r} must be a positive integer, e.g. 16")
        if not _is_number(margin) or not 0 < margin <= 2:
            raise ConfigError(
                f"{who}: margin={margin!r} must be in (0, 2] (unit embeddings are at most 2 apart), e.g. 0.5"
            )
        self.embedding_dim = embedding_dim
        self.margin = float(margin)
        self.augment = build_transform(augment)
        self.input_shape = tuple(int(size) for size in input_shape)
        self._head: nn.Module | None = None

    def setup(self, ctx: TrainContext) -> None:
        """Register the embedding head ``embedding`` (:class:`EmbeddingHead`), sized from the
        encoder's feature map and initialised from a seed drawn from ``ctx.generator``."""
        model = ctx.model
        if not callable(getattr(model, "forward_features", None)):
            raise ConfigError(
                f"{self._who}: {type(model).__name__} has no forward_features(); "
                "use an encoder model (harness_cnn, lenet, convnet, preact_resnet18)"
            )
        was_training = model.training
        model.eval()  # a shape probe must not move batch-norm statistics
        with torch.no_grad():
            width = model.forward_features(torch.zeros(2, *self.input_shape, device=ctx.device)).shape[1]
        model.train(was_training)
        with seeded_init(ctx.generator):
            head = EmbeddingHead(width, self.embedding_dim)
        self._head = ctx.add_module("embedding", head)

    def keyed_views(self) -> list[KeyedView]:
        """The augmented labeled batch (key view 0) when ``augment`` is set."""
        return [] if self.augment is None else [KeyedView(self.augment, "labeled", 0)]

    def head(self) -> nn.Module:
        """The embedding head (after :meth:`setup`)."""
        if self._head is None:
            raise ConfigError(f"{self._who}: the embedding head exists after setup(ctx); call method.setup(ctx) first")
        return self._head

    def clean_step(self, batch: Batch, ctx: TrainContext) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The clean part of a step: ``(inputs, h, e, loss)`` with the normalised (augmented)
        inputs, the feature maps ``h``, the embeddings ``e`` and the contrastive loss."""
        inputs = ctx.normalize(ctx.augment(self.augment, "labeled"))
        features = ctx.model.forward_features(inputs)
        embeddings = self.head()(features)
        labels = batch["labeled"].labels
        loss = contrastive_pair_loss(embeddings, labels, self.margin)
        _log_distances(ctx, embeddings.detach(), labels)
        return inputs, features, embeddings, loss

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        loss = self.clean_step(batch, ctx)[3]
        ctx.log.add("clean_loss", loss.detach())
        return StepOutput(loss)

    @torch.no_grad()
    def embed(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """``(N, embedding_dim)`` float L2-normalised embeddings of a stored batch (what retrieval ranks)."""
        return nn.functional.normalize(self.head()(model.forward_features(normalize(inputs))), dim=1)

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Refused: metric learning never trains the model's classifier head."""
        raise ConfigError(
            f"{self._who} learns an embedding, not a classifier; evaluate it with "
            "retrieval (set the experiment's evaluations: [] and metric: test_recall_at_1)"
        )


class EmbeddingHead(nn.Module):
    """Global average + global max pooling of a feature map, then a linear layer (Metrix's head).

    Shape:
        ``(N, C, *spatial)`` float feature maps (or ``(N, C)`` vectors, used as they are) ->
        ``(N, embedding_dim)`` float, not normalised (the losses and :meth:`ContrastiveMetric.embed`
        normalise).
    """

    def __init__(self, channels: int, embedding_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, embedding_dim)

    def forward(self, features: Tensor) -> Tensor:
        if features.ndim > 2:
            cells = features.flatten(2)
            features = cells.mean(2) + cells.amax(2)
        return self.linear(features)


class Triplets(NamedTuple):
    """The mixed pairs of one step, as batch indices ``(T,)`` int64 each.

    Row ``t`` mixes ``positives[t]`` (weight ``lam``) with ``negatives[t]`` (weight ``1 - lam``)
    and compares the result with the clean embedding of ``anchors[t]``. In anchor-negative
    mixing ``positives`` is ``anchors`` (the anchor itself is the positive side).
    """

    anchors: Tensor
    positives: Tensor
    negatives: Tensor


def metrix_triplets(
    labels: Tensor,
    kind: str,
    generator: torch.Generator,
    distances: Tensor | None = None,
    hardest: int | None = None,
) -> Triplets:
    """The pairs Metrix mixes in one step, without a loop over samples.

    - ``positive_negative``: every anchor with a positive in the batch gets one positive, drawn
      uniformly among its same-label samples (other than itself) with ``generator``, and is
      paired with each of its negatives (different label): triplets ``(a, p(a), n)``.
    - ``anchor_negative``: every anchor with each of its negatives: ``(a, a, n)``; a sample of
      the anchor's own class is never the negative side.

    With ``hardest = k`` only each anchor's ``k`` nearest negatives by ``distances`` (the clean
    embedding distances) are kept, the reference code's ``top_k`` for input mixing.

    Args:
        labels: ``(B,)`` integer labels of the batch.
        kind: ``"positive_negative"`` or ``"anchor_negative"``.
        generator: draws the positives.
        distances: ``(B, B)`` float clean distances; needed with ``hardest``.
        hardest: ``None`` for every negative, else ``k >= 1``.

    Returns:
        :class:`Triplets`, anchors in increasing order, each anchor's negatives in increasing
        index order.
    """
    if kind not in ("positive_negative", "anchor_negative"):
        raise ConfigError(f"metrix_triplets: kind={kind!r}; use 'positive_negative' or 'anchor_negative'")
    count = labels.shape[0]
    same = labels[:, None] == labels[None, :]
    others = ~torch.eye(count, dtype=torch.bool, device=labels.device)
    chosen = ~same
    if hardest is not None:
        if distances is None:
            raise ConfigError("metrix_triplets: hardest negatives need the clean distances; pass distances=(B, B)")
        ranked = distances.detach().masked_fill(same, float("inf"))
        nearest = ranked.topk(min(hardest, count), dim=1, largest=False).indices
        chosen = chosen & torch.zeros_like(chosen).scatter_(1, nearest, True)
    if kind == "positive_negative":
        positive = same & others
        scores = rand((count, count), generator).to(labels.device).masked_fill(~positive, -1.0)
        partner = scores.argmax(1)
        chosen = chosen & positive.any(1, keepdim=True)
    anchors, negatives = chosen.nonzero(as_tuple=True)
    positives = anchors if kind == "anchor_negative" else partner[anchors]
    return Triplets(anchors, positives, negatives)


@METHODS.register("metrix")
class Metrix(ContrastiveMetric):
    """Metrix: the contrastive loss plus mixed pairs with interpolated pair targets.

    Per step, on top of :class:`ContrastiveMetric`'s clean loss ``L_clean``:

    1. Which pairs (``mixing: alternate``, the paper: 50/50 per step, one draw from
       ``ctx.generator`` read back to pick the code path): *positive-negative* triplets
       ``(a, p(a), n)`` for every anchor with a positive, or *anchor-negative* pairs ``(a, a, n)``,
       over all of an anchor's negatives (see :func:`metrix_triplets`).
    2. ``lam ~ Beta(alpha, alpha)`` (alpha 2), one per step as in the reference code, drawn
       with :func:`augbench.distributions.beta` from ``ctx.generator``.
    3. Mixing, ``m = lam * z[p] + (1 - lam) * z[n]`` for all triplets at once, where ``z`` is
       by ``mode``: ``feature`` (default, the paper's best) the feature maps ``h`` then the
       embedding head (its global max pooling makes this differ from mixing embeddings);
       ``input`` the normalised inputs then the whole encoder and head; ``embedding`` the
       L2-normalised embeddings (the official code mixes its normalised outputs).
    4. ``L_mix = mixed_pair_loss(e[a], embed(m), lam)``: against the *clean* anchor embedding,
       ``lam * d`` and ``(1 - lam) * [0.5 - d]_+``, each averaged over its non-zero terms
       (:func:`augbench.losses.mixed_pair_loss`); at ``lam = 1`` it is the clean positive term.
    5. ``L = L_clean + w * L_mix`` with ``w = mix_weight`` (0.4), or ``anchor_negative_weight``
       on anchor-negative steps (default: 0.3 in embedding mode, as the reference, else 0.4).

    Logged per epoch: ``clean_loss``, ``mixed_loss``, ``mean_lam``, ``positive_negative_steps``
    (the share of steps that mixed positives with negatives), ``mixed_pairs``,
    ``positive_distance`` and ``negative_distance`` (clean mean distances).

    Simplified relative to the paper and its code:

    - the encoder is the run's model (the harness CNN on 8x8 digits), trained from scratch
      with the run's optimiser, not an ImageNet-pretrained ResNet-50 with frozen batch norm,
      Adam and gradient clipping;
    - the harness CNN's last stage ends in a 2x2 max-pool, so feature mixing blends the 4x4 map
      after it (then the head's global pooling), where ResNet-50's layer4 has no pooling;
    - anchor-negative mixing uses every anchor; the reference uses only anchors without a
      positive in the batch, which a batch holding ~10 samples of each class almost never has;
    - an anchor's positive is drawn at random among its same-class samples (the reference
      takes the first one, once per positive pair);
    - random batches instead of a class-balanced sampler (see :class:`ContrastiveMetric`);
    - input mixing keeps each anchor's ``negatives: 1`` nearest negative (the reference's
      ``top_k = 1``) to bound the extra forward passes; feature and embedding mixing use all.

    Args:
        mode: ``"feature"``, ``"input"`` or ``"embedding"``.
        alpha: Beta parameter ``> 0`` (2).
        mix_weight: weight of ``L_mix``, ``>= 0`` (0.4); 0 trains exactly the contrastive
            baseline (with the mixing computed and discarded).
        anchor_negative_weight: weight on anchor-negative steps; ``None``: 0.3 in embedding
            mode, ``mix_weight`` otherwise.
        mixing: ``"alternate"`` (50/50 per step), ``"positive_negative"`` or ``"anchor_negative"``.
        negatives: ``None`` (mode default: every negative, 1 in input mode), ``"all"``, or the
            ``k >= 1`` nearest negatives of each anchor.
        embedding_dim, margin, augment, input_shape: as :class:`ContrastiveMetric`.

    Shape:
        as :class:`ContrastiveMetric`; ``T`` mixed pairs per step (``B (B - B / C)`` for ``C``
        equally frequent classes with every negative).
    """

    _who = "metrix"

    def __init__(
        self,
        mode: str = "feature",
        alpha: float = 2.0,
        mix_weight: float = 0.4,
        anchor_negative_weight: float | None = None,
        mixing: str = "alternate",
        negatives: int | str | None = None,
        embedding_dim: int = 16,
        margin: float = 0.5,
        augment: Spec | Transform | None = None,
        input_shape: tuple[int, ...] = (1, 8, 8),
    ) -> None:
        super().__init__(embedding_dim, margin, augment, input_shape)
        if mode not in MODES:
            raise ConfigError(f"metrix: mode={mode!r}; use one of {', '.join(MODES)}")
        if mixing not in MIXINGS:
            raise ConfigError(f"metrix: mixing={mixing!r}; use one of {', '.join(MIXINGS)}")
        if not _is_number(alpha) or alpha <= 0:
            raise ConfigError(f"metrix: alpha={alpha!r} must be a number > 0 (Beta(alpha, alpha)), e.g. 2.0")
        for name, value in (("mix_weight", mix_weight), ("anchor_negative_weight", anchor_negative_weight)):
            if value is not None and (not _is_number(value) or value < 0):
                raise ConfigError(f"metrix: {name}={value!r} must be a number >= 0, e.g. 0.4")
        if negatives is not None and negatives != "all" and (
            isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 1
        ):
            raise ConfigError(
                f"metrix: negatives={negatives!r}; use 'all', a count >= 1 or null (1 in input mode, else all)"
            )
        self.mode = mode
        self.alpha = float(alpha)
        self.mix_weight = float(mix_weight)
        default_an = 0.3 if mode == "embedding" else self.mix_weight
        self.anchor_negative_weight = default_an if anchor_negative_weight is None else float(anchor_negative_weight)
        self.mixing = mixing
        if negatives is None:
            negatives = 1 if mode == "input" else "all"
        self.hardest = None if negatives == "all" else negatives

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        inputs, features, embeddings, clean = self.clean_step(batch, ctx)
        labels = batch["labeled"].labels
        kind = self.mixing
        if kind == "alternate":
            kind = "positive_negative" if bool(rand((1,), ctx.generator)[0] < 0.5) else "anchor_negative"
        lam = beta(self.alpha, self.alpha, (1,), ctx.generator)[0].to(embeddings.device)
        with ctx.timer.augmentation():  # choosing the pairs and interpolating are the augmentation
            distances = None
            if self.hardest is not None:
                unit = nn.functional.normalize(embeddings.detach(), dim=1)
                distances = torch.cdist(unit, unit)
            triplets = metrix_triplets(labels, kind, ctx.generator, distances, self.hardest)
        weight = self.mix_weight if kind == "positive_negative" else self.anchor_negative_weight
        ctx.log.add("clean_loss", clean.detach())
        ctx.log.add("positive_negative_steps", float(kind == "positive_negative"))
        ctx.log.add("mixed_pairs", float(triplets.anchors.shape[0]))
        ctx.log.add("mean_lam", lam)
        if triplets.anchors.shape[0] == 0:  # one class in the batch: nothing to mix
            return StepOutput(clean)
        mixed = self.mixed_embeddings(ctx, triplets, lam, inputs, features, embeddings)
        mixed_loss = mixed_pair_loss(embeddings[triplets.anchors], mixed, lam, self.margin)
        ctx.log.add("mixed_loss", mixed_loss.detach())
        return StepOutput(clean + weight * mixed_loss)

    def mixed_embeddings(
        self, ctx: TrainContext, triplets: Triplets, lam: Tensor, inputs: Tensor, features: Tensor, embeddings: Tensor
    ) -> Tensor:
        """``(T, embedding_dim)`` embeddings of ``lam * z[p] + (1 - lam) * z[n]`` with ``z`` the
        ``mode``'s tensor (normalised inputs, feature maps or embeddings), mixed in one call
        (timed as augmentation, like the choice of the pairs; the forward pass of the mixed
        samples is not)."""
        if self.mode == "embedding":
            embeddings = nn.functional.normalize(embeddings, dim=1)
        source = {"input": inputs, "feature": features, "embedding": embeddings}[self.mode]
        weight = lam.to(source.dtype).reshape(1, *([1] * (source.ndim - 1)))
        with ctx.timer.augmentation():
            mixed = torch.lerp(source[triplets.negatives], source[triplets.positives], weight)
        if self.mode == "embedding":
            return mixed
        if self.mode == "input":
            mixed = ctx.model.forward_features(mixed)
        return self.head()(mixed)


def _log_distances(ctx: TrainContext, embeddings: Tensor, labels: Tensor) -> None:
    """Log the batch's mean clean distance of positive and of negative pairs (no host sync)."""
    unit = nn.functional.normalize(embeddings, dim=1)
    distances = torch.cdist(unit, unit)
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    ctx.log.add("positive_distance", (distances * positive).sum() / positive.sum().clamp_min(1))
    ctx.log.add("negative_distance", (distances * ~same).sum() / (~same).sum().clamp_min(1))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
