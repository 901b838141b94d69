"""MoCHi: MoCo with hard negatives synthesised by mixing the hardest queue keys (and the query).

Reference:
    Kalantidis, Sariyildiz, Pion, Weinzaepfel and Larlus, "Hard Negative Mixing for Contrastive
    Learning", NeurIPS 2020 (arXiv:2010.01028). No official code; an unofficial one is
    github.com/davidsvy/hard-negative-mixing (read, not copied).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import ConfigError
from augbench.methods.base import METHODS
from augbench.methods.moco import MOCO_AUGMENT, MoCo
from augbench.registry import Spec
from augbench.train.context import TrainContext
from augbench.transforms.base import Transform

__all__ = ["MoCHi"]


@METHODS.register("mochi")
class MoCHi(MoCo):
    """MoCo v2 plus, for every query, ``s + s'`` synthetic hard negatives made from its ``N`` hardest queue keys.

    Per step, after MoCo's queries ``q`` ``(B, D)`` and keys (see :class:`~augbench.methods.moco.MoCo`),
    without gradient:

    1. Rank the queue by ``q . n`` and keep each query's ``N`` hardest keys ``Q_N`` (top-N).
    2. ``s`` mixed negatives: ``h = normalize(a n_i + (1 - a) n_j)`` with ``n_i, n_j`` two different
       keys of ``Q_N`` (``j = i + U{1..N-1} mod N``) and ``a ~ U(0, 1)``.
    3. ``s'`` query mixes: ``h' = normalize(b q + (1 - b) n_j)`` with ``n_j`` in ``Q_N`` and
       ``b ~ U(0, beta_max)``, ``beta_max = 0.5`` (so ``q`` weighs less than ``n_j``; the card's
       falsifier is ``beta_max > 0.5``). ``q`` enters detached: no gradient reaches it through ``h'``.
    4. ``h`` and ``h'`` are appended to *that* query's logits only (``extra_negatives`` of
       :func:`augbench.losses.info_nce`); they are never enqueued.
    5. Mixing starts at epoch ``warmup_epochs`` (before it, the step is MoCo's).

    Every index and coefficient is one batched draw from ``ctx.generator`` (no loop over samples).
    With ``s = s' = 0`` the step is MoCo's bit for bit.

    Logged per epoch once mixing runs (the card's mechanism check: both exceed the top-N mean):
    ``hard_negative_similarity`` (mean ``q . n`` over ``Q_N``), ``mixed_similarity`` (mean
    ``q . h``), ``query_mixed_similarity`` (mean ``q . h'``); plus MoCo's logs.

    Defaults: MoCHi(N, s, s') = (1024, 512, 256) of the paper's ImageNet-1k runs, warm-up 15
    epochs; MoCo v2's other defaults. Simplified as :class:`MoCo` (no shuffled batch norm, no blur).

    Args:
        hard_negatives: ``N``, the hardest queue keys each query mixes from, ``2 <= N <= queue_size``.
        mixed: ``s >= 0``, negatives mixed from two hard keys per query.
        query_mixed: ``s' >= 0``, negatives mixed from the query and a hard key per query.
        beta_max: the upper end of ``b``'s range, in (0, 1] (0.5; above 0.5 ``h'`` is closer to ``q``
            than to its negative).
        warmup_epochs: epochs of plain MoCo before mixing, ``>= 0``.
        other options: as :class:`MoCo`.

    Raises:
        ConfigError: ``N < 2``, ``N > queue_size``, a negative count, ``beta_max`` outside
            (0, 1], or any :class:`MoCo` error.
    """

    _who = "mochi"

    def __init__(
        self,
        hard_negatives: int = 1024,
        mixed: int = 512,
        query_mixed: int = 256,
        beta_max: float = 0.5,
        warmup_epochs: int = 15,
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
        super().__init__(temperature, momentum, queue_size, projection_dim, hidden_dim, augment, color_strength,
                         color_p, grayscale_p, input_shape)
        if isinstance(hard_negatives, bool) or not isinstance(hard_negatives, int) or hard_negatives < 2:
            raise ConfigError(
                f"mochi: hard_negatives={hard_negatives!r} must be an integer >= 2 (two distinct keys are mixed), e.g. 1024"
            )
        if hard_negatives > self.queue_size:
            raise ConfigError(
                f"mochi: hard_negatives={hard_negatives} exceeds queue_size={self.queue_size}; "
                f"use hard_negatives <= {self.queue_size} or a longer queue"
            )
        for option, value, example in (("mixed", mixed, 512), ("query_mixed", query_mixed, 256),
                                       ("warmup_epochs", warmup_epochs, 15)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"mochi: {option}={value!r} must be an integer >= 0, e.g. {example}")
        if isinstance(beta_max, bool) or not isinstance(beta_max, (int, float)) or not math.isfinite(beta_max) \
                or not 0.0 < beta_max <= 1.0:
            raise ConfigError(f"mochi: beta_max={beta_max!r} must be a number in (0, 1]; the paper uses 0.5")
        self.hard_negatives = hard_negatives
        self.mixed = mixed
        self.query_mixed = query_mixed
        self.beta_max = float(beta_max)
        self.warmup_epochs = warmup_epochs

    def extra_negatives(self, queries: Tensor, similarity: Tensor, queue: Tensor, ctx: TrainContext) -> Tensor | None:
        """The ``s + s'`` synthetic negatives of every query, or ``None`` during the warm-up.

        Shape:
            ``queries`` ``(B, D)``, ``similarity`` ``(B, K)``, ``queue`` ``(K, D)`` float -> ``(B, s + s', D)``
            unit rows of the queries' dtype, without gradient.
        """
        if ctx.epoch < self.warmup_epochs:
            return None
        with torch.no_grad():
            mixed, query_mixed, hardest = self.synthesize(queries.detach(), similarity, queue, ctx.generator)
            unit = queries.detach()
            top = similarity.gather(1, hardest)
            ctx.log.add("hard_negative_similarity", top.mean())
            if self.mixed:
                ctx.log.add("mixed_similarity", torch.einsum("bd,bmd->bm", unit, mixed).mean())
            if self.query_mixed:
                ctx.log.add("query_mixed_similarity", torch.einsum("bd,bmd->bm", unit, query_mixed).mean())
            return torch.cat([mixed, query_mixed], dim=1)

    def synthesize(
        self, queries: Tensor, similarity: Tensor, queue: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Mixed negatives ``h`` ``(B, s, D)``, query mixes ``h'`` ``(B, s', D)`` and the top-N queue
        indices ``(B, N)`` int64 (hardest first), from batched draws of ``generator``.

        ``queries`` are used as given (pass them detached); ``similarity`` is ``queries . queue``.
        """
        batch, dim = queries.shape
        count = self.hard_negatives
        device = generator.device
        hardest = similarity.topk(count, dim=1).indices  # (B, N)
        first = torch.randint(count, (batch, self.mixed), generator=generator, device=device)
        second = (first + torch.randint(1, count, (batch, self.mixed), generator=generator, device=device)) % count
        alpha = torch.rand(batch, self.mixed, 1, generator=generator, device=device)
        partner = torch.randint(count, (batch, self.query_mixed), generator=generator, device=device)
        beta = torch.rand(batch, self.query_mixed, 1, generator=generator, device=device) * self.beta_max
        first, second, partner = (index.to(hardest.device) for index in (first, second, partner))
        alpha, beta = alpha.to(queries), beta.to(queries)
        def pick(index: Tensor) -> Tensor:  # (B, M) positions in each query's top-N -> (B, M, D) keys
            return queue[hardest.gather(1, index)]

        mixed = nnf.normalize(alpha * pick(first) + (1 - alpha) * pick(second), dim=2)
        query_mixed = nnf.normalize(beta * queries[:, None] + (1 - beta) * pick(partner), dim=2)
        return mixed, query_mixed, hardest
