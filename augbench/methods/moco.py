"""MoCo v2: contrastive pretraining against a momentum key encoder and a queue of past keys.

References:
    He, Fan, Wu, Xie and Girshick, "Momentum Contrast for Unsupervised Visual Representation
    Learning", CVPR 2020 (arXiv:1911.05722); Chen, Fan, Girshick and He, "Improved Baselines with
    Momentum Contrastive Learning", 2020 (arXiv:2003.04297, MoCo v2: MLP head, SimCLR's colour
    augmentation, tau 0.2); official code facebookresearch/moco (``moco/builder.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.losses import info_nce
from augbench.methods.base import METHODS, Method, Phase
from augbench.methods.simclr import SimCLR
from augbench.models.ema import MomentumEncoder
from augbench.models.heads import encoder_width
from augbench.random import seeded_init
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["MoCo", "KeyQueue", "ProjectedEncoder", "MOCO_AUGMENT"]

MOCO_AUGMENT: dict[str, Any] = {
    "type": "Compose",
    "transforms": [
        {"type": "RandomResizedCrop", "size": None, "scale": [0.2, 1.0]},
        {"type": "HorizontalFlip", "p": 0.5},
    ],
}
"""MoCo v2's geometric part: random resized crop (area 20-100 %, back to the input size) and a
horizontal flip with p 0.5; the colour part comes from the ``color_*`` options. Read-only."""

_QUERY_VIEW, _KEY_VIEW = 1, 2  # key views of a sample's query and key images
_KEY_VIEWS = (_QUERY_VIEW, _KEY_VIEW)


class KeyQueue(nn.Module):
    """A FIFO of the ``size`` most recent keys: the shared negatives of MoCo's InfoNCE.

    The keys live in the buffer ``keys`` ``(size, dim)`` float (so they are saved with the
    phase); it starts as random unit vectors (seeded by ``generator``), as in the official code,
    and :meth:`enqueue` overwrites the oldest rows. ``pointer`` (a 0-d int64 buffer) is the slot
    written next, ``filled`` how many slots hold enqueued keys (at most ``size``). Writes wrap
    around modulo ``size``, so a short last batch of an epoch keeps the order; no host sync.

    Args:
        size: number of keys ``K >= 1``.
        dim: key dimension ``D >= 1``.
        generator: the generator of the initial random keys.

    >>> queue = KeyQueue(4, 2, torch.Generator().manual_seed(0))
    >>> queue.enqueue(torch.eye(2)); queue.enqueue(-torch.eye(2)); queue.enqueue(2 * torch.eye(2))
    >>> queue.oldest_first().tolist()
    [[-1.0, -0.0], [-0.0, -1.0], [2.0, 0.0], [0.0, 2.0]]
    >>> int(queue.filled), int(queue.pointer)
    (4, 2)
    """

    keys: Tensor
    pointer: Tensor
    filled: Tensor

    def __init__(self, size: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        start = nnf.normalize(torch.randn(size, dim, generator=generator), dim=1)
        self.register_buffer("keys", start)
        self.register_buffer("pointer", torch.zeros((), dtype=torch.int64))
        self.register_buffer("filled", torch.zeros((), dtype=torch.int64))

    @property
    def size(self) -> int:
        return self.keys.shape[0]

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` ``(B, D)`` (``B <= size``, detached) over the ``B`` oldest rows."""
        count = keys.shape[0]
        slots = (self.pointer + torch.arange(count, device=self.keys.device)) % self.size
        self.keys.index_copy_(0, slots, keys.detach().to(self.keys.dtype))
        self.pointer.copy_((self.pointer + count) % self.size)
        self.filled.copy_((self.filled + count).clamp(max=self.size))

    def oldest_first(self) -> Tensor:
        """The keys ``(size, D)`` from the oldest to the newest write (a gather, no host sync)."""
        order = (self.pointer + torch.arange(self.size, device=self.keys.device)) % self.size
        return self.keys[order]

    def fill(self) -> Tensor:
        """Fraction of the slots that hold enqueued keys (0-d float; the rest are the random start)."""
        return self.filled.float() / self.size


class ProjectedEncoder(nn.Module):
    """``normalize(projector(encoder.forward_features(x).flatten(1)))``: unit embeddings ``(B, D)``.

    The query network of MoCo (the run's model plus the MLP head); its deep copy is the key
    network. Holds references to both parts, so the parameters stay those of the run's model
    and of the ``projector`` module registered with the phase.
    """

    def __init__(self, encoder: nn.Module, projector: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projector

    def forward(self, inputs: Tensor) -> Tensor:
        return nnf.normalize(self.projector(self.encoder.forward_features(inputs).flatten(1)), dim=1)


@METHODS.register("moco")
class MoCo(Method):
    """Pretrain the run's encoder by matching a query to its key among a queue of past keys (MoCo v2).

    Algorithm, per step on the labeled stream's ``B`` images (their labels are never read):

    1. Views: one keyed call of the pipeline on the batch repeated twice (key views 1 and 2):
       rows ``b`` (query image) and ``B + b`` (key image) are two views of sample ``b``. The
       pipeline is SimCLR's (:class:`~augbench.methods.simclr.SimCLR`'s options ``augment``,
       ``color_strength``, ``color_p``, ``grayscale_p``), with MoCo v2's crop area 20-100 %.
    2. ``q = normalize(g_q(f_q(x_q)))`` with the run's model ``f_q`` (``forward_features``) and
       the head ``g = Linear(D, hidden) - ReLU - Linear(hidden, projection_dim)`` (module
       ``projector``); ``k = normalize(g_k(f_k(x_k)))`` with the momentum copy of both
       (module ``key_encoder``, no gradient).
    3. Loss: :func:`augbench.losses.info_nce` with the positive ``q . k``, the ``K`` queue keys as
       negatives and temperature ``tau``: ``mean_b -log(exp(q.k/tau) / (exp(q.k/tau) + sum_n
       exp(q.n/tau)))``. Subclasses add per-query negatives through :meth:`extra_negatives`.
    4. After the optimiser step (:meth:`on_after_step`): ``theta_k <- m theta_k + (1 - m)
       theta_q`` (:class:`~augbench.models.ema.MomentumEncoder`, buffers copied), then the
       step's ``B`` keys are enqueued over the oldest ones (:class:`KeyQueue`). Updating after
       the step gives the same keys as the official code, which updates before computing them.
    5. The head and the key encoder are thrown away: ``linear_probe`` and ``knn`` read
       ``forward_features`` of the query encoder.

    Logged per epoch: ``positive_accuracy`` (fraction of queries whose key beats every queue
    negative; chance ``1 / (K + 1)``), ``positive_similarity`` (mean ``q . k``),
    ``negative_similarity`` (mean ``q . n`` over the queue) and ``queue_fill`` (fraction of the
    queue holding real keys, 1 after ``K / B`` steps).

    Defaults follow MoCo v2 (ImageNet): ``tau = 0.2``, ``m = 0.999``, ``K = 65,536``, a 128-d
    head whose hidden layer is as wide as the feature, crop 20-100 % + flip, colour jitter
    (0.4, 0.4, 0.4, 0.1) with p 0.8 (``color_strength`` 0.5), grey-scale p 0.2. Optimiser, schedule,
    epochs and batch size are the run's (the paper: SGD lr 0.03, wd 1e-4, batch 256, cosine, 200
    epochs).

    Simplified relative to the paper:

    - no shuffled batch norm: the key encoder runs in eval mode with the batch-norm statistics
      copied from the query encoder every step, so no key sees its batch's statistics (the
      paper shuffles the batch across GPUs for the same purpose);
    - no Gaussian blur (the paper's ImageNet pipeline has one with p 0.5); the colour jitter's four
      ops run in a fixed order (SimCLR's pipeline);
    - a single query/key direction per sample (as the paper; no symmetric loss);
    - pretraining sees only the labeled stream.

    Args:
        temperature: InfoNCE temperature ``tau > 0``.
        momentum: key-encoder momentum ``m`` in [0, 1) (0.999; a few hundred steps need ~0.99).
        queue_size: queue length ``K``, a multiple of the run's batch size.
        projection_dim: dimension of the keys and queries.
        hidden_dim: hidden width of the head; ``None``: the encoder's feature width.
        augment, color_strength, color_p, grayscale_p: the view pipeline, as for ``simclr``.
        input_shape: one stored sample's shape (from the data, never set in a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, H, W)`` uint8 (C = 1 or 3), ``B >= 2`` -> a scalar loss.

    Raises:
        ConfigError: an option out of range, a pipeline SimCLR refuses, a queue size that is not
            a multiple of the batch size, a batch of fewer than 2 samples.
    """

    streams = ("labeled",)
    evaluations = ("linear_probe", "knn")
    _who = "moco"

    def __init__(
        self,
        temperature: float = 0.2,
        momentum: float = 0.999,
        queue_size: int = 65536,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        augment: Spec | Transform | None = MOCO_AUGMENT,
        color_strength: float = 0.5,
        color_p: float = 0.8,
        grayscale_p: float = 0.2,
        input_shape: tuple[int, ...] = (3, 32, 32),
    ) -> None:
        who = self._who
        if not _is_number(temperature) or temperature <= 0:
            raise ConfigError(f"{who}: temperature={temperature!r} must be a positive number, e.g. 0.2")
        if not _is_number(momentum) or not 0.0 <= momentum < 1.0:
            raise ConfigError(f"{who}: momentum={momentum!r} must be a number in [0, 1), e.g. 0.999")
        self.temperature = float(temperature)
        self.momentum = float(momentum)
        self.queue_size = _positive_int(who, "queue_size", queue_size, 65536)
        self.projection_dim = _positive_int(who, "projection_dim", projection_dim, 128)
        self.hidden_dim = None if hidden_dim is None else _positive_int(who, "hidden_dim", hidden_dim, 2048)
        self.input_shape = tuple(int(size) for size in input_shape)
        try:  # SimCLR builds and checks the same view pipeline; its messages name simclr
            views = SimCLR(augment=augment, color_strength=color_strength, color_p=color_p,
                           grayscale_p=grayscale_p, input_shape=self.input_shape)
        except ConfigError as error:
            raise ConfigError(f"{who}: {str(error).removeprefix('simclr: ')}") from None
        self.augment = views.augment
        self._query: ProjectedEncoder | None = None
        self._keys: MomentumEncoder[ProjectedEncoder] | None = None
        self._queue: KeyQueue | None = None
        self._pending: Tensor | None = None
        self._batch_size: int | None = None

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``pretrain`` phase; its query encoder is the run's final model."""
        return [Phase("pretrain", self, self.spec)]

    def setup(self, ctx: TrainContext) -> None:
        """Register the head ``projector`` (trained), its and the encoder's momentum copy
        ``key_encoder`` and the ``queue`` (kept, not trained); the head and the queue's start are
        drawn from ``ctx.generator``."""
        model = ctx.model
        width = encoder_width(model, self.input_shape, ctx.device, self._who)
        hidden = self.hidden_dim or width
        with seeded_init(ctx.generator):
            projector = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, self.projection_dim))
        projector = ctx.add_module("projector", projector)
        self._query = ProjectedEncoder(model, projector)
        self._keys = MomentumEncoder(self._query)
        ctx.add_module("key_encoder", self._keys.model, trainable=False)
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=ctx.generator)))
        self._queue = ctx.add_module("queue", KeyQueue(self.queue_size, self.projection_dim, generator), trainable=False)
        self._pending = None
        self._batch_size = None

    def keyed_views(self) -> list[KeyedView]:
        """The query and key views of the labeled batch from one keyed call (key views 1 and 2)."""
        return [KeyedView(self.augment, "labeled", _KEY_VIEWS)]

    def views(self, ctx: TrainContext) -> tuple[Tensor, Tensor]:
        """The query and key images ``(B, C, H, W)`` each (same dtype as stored), from one call."""
        query, key = ctx.augment(self.augment, "labeled", _KEY_VIEWS).chunk(2)
        return query, key

    def embed(self, ctx: TrainContext) -> tuple[Tensor, Tensor]:
        """Unit queries ``(B, D)`` (with gradient) and keys ``(B, D)`` (none) of the current batch."""
        query_images, key_images = self.views(ctx)
        queries = self._networks("training_step")[0](ctx.normalize(query_images))
        with torch.no_grad():
            keys = self._networks("training_step")[1].model(ctx.normalize(key_images))
        return queries, keys

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        size = len(batch["labeled"])
        if size < 2:
            raise ConfigError(
                f"{self._who}: a step of {size} sample is too small (the query encoder's batch statistics need "
                "2 or more); use batch_size >= 2 and a training size that leaves no last batch of 1"
            )
        queue = self._networks("training_step")[2]
        queries, keys = self.embed(ctx)
        negatives = queue.keys.detach()
        with torch.no_grad():
            similarity = queries.detach() @ negatives.T  # (B, K) cosine similarities to the queue
        extra = self.extra_negatives(queries, similarity, negatives, ctx)
        loss = info_nce(queries, keys, negatives, self.temperature, extra)
        self._pending = keys
        positive = (queries.detach() * keys).sum(1)
        ctx.log.add("positive_accuracy", (positive > similarity.amax(1)).float().mean())
        ctx.log.add("positive_similarity", positive.mean())
        ctx.log.add("negative_similarity", similarity.mean())
        ctx.log.add("queue_fill", queue.fill())
        return StepOutput(loss)

    def extra_negatives(self, queries: Tensor, similarity: Tensor, queue: Tensor, ctx: TrainContext) -> Tensor | None:
        """Per-query negatives appended to the logits (none in MoCo; MoCHi mixes hard ones).

        Args:
            queries: unit queries ``(B, D)`` (with gradient; detach what must not learn).
            similarity: ``queries . queue`` ``(B, K)``, detached.
            queue: the queue's keys ``(K, D)``, detached.

        Returns:
            ``(B, M, D)`` unit, detached negatives, or ``None``.
        """
        return None

    def on_after_step(self, ctx: TrainContext) -> None:
        """Momentum update of the key encoder, then enqueue the step's keys."""
        query, keys, queue = self._networks("on_after_step")
        keys.update(query, self.momentum)
        if self._pending is not None:
            self._check_queue(self._pending.shape[0])
            queue.enqueue(self._pending)
            self._pending = None

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Refused: pretraining never trains the model's classifier head."""
        raise ConfigError(
            f"{self._who} trains an encoder, not a classifier; evaluate it with linear_probe or knn "
            "(set the experiment's evaluations: [linear_probe, knn])"
        )

    @property
    def queue(self) -> KeyQueue:
        """The queue of keys (after ``setup``)."""
        return self._networks("queue")[2]

    @property
    def key_encoder(self) -> MomentumEncoder[ProjectedEncoder]:
        """The momentum key network (after ``setup``)."""
        return self._networks("key_encoder")[1]

    def _check_queue(self, size: int) -> None:
        """The run's first optimiser step has the run's batch size (a dry run takes no optimiser
        step, so its probe batch is not checked); a short last batch of an epoch wraps around."""
        if self._batch_size is None:
            if self.queue_size % size:
                fit = math.ceil(self.queue_size / size) * size
                raise ConfigError(
                    f"{self._who}: queue_size={self.queue_size} is not a multiple of the batch size {size}; "
                    f"use queue_size: {fit} (or a batch size that divides it)"
                )
            self._batch_size = size

    def _networks(self, who: str) -> tuple[ProjectedEncoder, MomentumEncoder[ProjectedEncoder], KeyQueue]:
        if self._query is None or self._keys is None or self._queue is None:
            raise ConfigError(f"{self._who}.{who}: no key encoder yet; setup(ctx) creates it when a phase starts")
        return self._query, self._keys, self._queue


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(who: str, option: str, value: object, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{who}: {option}={value!r} must be a positive integer, e.g. {example}")
    return value
