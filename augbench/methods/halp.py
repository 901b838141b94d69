"""HaLP: MoCo plus positives hallucinated in the latent space, moved towards other clusters' prototypes.

Reference:
    Shah, Roy, Shah, Mishra, Jacobs, Cherian and Chellappa, "HaLP: Hallucinating Latent Positives
    for Skeleton-based Self-Supervised Learning of Actions", CVPR 2023; official
    code github.com/anshulbshah/HaLP (``moco/generator.py``, ``moco/builder_single_modality_halp.py``),
    not read here: this follows the card (shared/methods/contrastive.md, "HaLP").
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
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.transforms.base import Transform

__all__ = ["HaLP", "spherical_kmeans", "halp_t_max", "slerp", "hallucinate_positives"]

_EPS = 1e-6


def spherical_kmeans(points: Tensor, count: int, iterations: int, generator: torch.Generator | None = None) -> Tensor:
    """Spherical k-means: ``count`` unit prototypes ``(count, D)`` of unit ``points`` ``(N, D)`` float.

    Starts from ``count`` distinct points drawn by ``generator`` (one ``randperm``), then runs exactly
    ``iterations`` rounds of: assign each point to its most similar prototype (cosine), set each
    prototype to the normalised sum of its points; a prototype left with no point keeps its place.
    Batched (one ``(N, count)`` similarity and one ``index_add_`` per round), no host sync.

    >>> points = nnf.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [-0.1, 1.0], [0.1, 1.0]]), dim=1)
    >>> centres = spherical_kmeans(points, 2, 5, torch.Generator().manual_seed(0))
    >>> sorted(centres.round(decimals=3).abs().tolist())
    [[0.0, 1.0], [1.0, 0.0]]
    """
    size = points.shape[0]
    if not 1 <= count <= size:
        raise ConfigError(f"spherical_kmeans: {count} prototypes from {size} points; use 1 <= prototypes <= points")
    start = torch.randperm(size, generator=generator, device=points.device)[:count]
    centres = points[start].clone()
    for _ in range(iterations):
        assign = (points @ centres.T).argmax(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, points)
        filled = sums.norm(dim=1, keepdim=True) > _EPS
        centres = torch.where(filled, nnf.normalize(sums, dim=1), centres)
    return centres


def halp_t_max(keys: Tensor, nearest: Tensor, other: Tensor) -> tuple[Tensor, Tensor]:
    """The largest slerp step from ``keys`` towards ``other`` that stays as similar to ``nearest``.

    For unit ``k`` (``keys``), ``P0`` (``nearest``, ``k``'s most similar prototype) and ``Ps``
    (``other``), all ``(..., D)`` float: ``omega = arccos(k . Ps)`` and
    ``t_max = (1 / omega) atan(sin omega / (K + cos omega))``, ``K = (1 - Ps . P0) / (k . (P0 - Ps))``,
    the root of ``slerp(k, Ps, t) . P0 = slerp(k, Ps, t) . Ps``. Computed as
    ``atan2(sin omega * d, (1 - Ps . P0) + cos omega * d)`` with ``d = k . (P0 - Ps) >= 0`` (the
    same value where ``K + cos omega > 0``; the right branch in ``(0, pi)`` otherwise, and 0 rather
    than a division by zero when ``k`` is on the boundary, ``d = 0``). Returns ``(t_max, omega)``,
    each ``(...)``; ``t_max`` in ``[0, 1]``.

    >>> k, p0, ps = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    >>> [round(float(v), 4) for v in halp_t_max(k, p0, ps)]  # half way: 45 of the 90 degrees
    [0.5, 1.5708]
    """
    cos_omega = (keys * other).sum(-1).clamp(-1 + _EPS, 1 - _EPS)
    omega = torch.arccos(cos_omega)
    gap = (keys * (nearest - other)).sum(-1).clamp(min=0)
    spread = (1 - (other * nearest).sum(-1)).clamp(min=0)
    angle = torch.atan2(torch.sin(omega) * gap, spread + cos_omega * gap)
    return (angle / omega).clamp(0.0, 1.0), omega


def slerp(start: Tensor, end: Tensor, t: Tensor, omega: Tensor) -> Tensor:
    """``[sin((1 - t) omega) start + sin(t omega) end] / sin omega``: ``(..., D)`` from unit ``(..., D)``
    ends, ``t`` and ``omega = arccos(start . end)`` ``(...)``; renormalised to unit length."""
    scale = torch.sin(omega).clamp(min=_EPS)
    mixed = (torch.sin((1 - t) * omega) / scale)[..., None] * start + (torch.sin(t * omega) / scale)[..., None] * end
    return nnf.normalize(mixed, dim=-1)


def hallucinate_positives(
    keys: Tensor, prototypes: Tensor, count: int, hardness: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """HaLP's latent positives: ``count`` per key, each walked towards a random other prototype.

    Args:
        keys: unit anchor keys ``(B, D)`` float (detached).
        prototypes: unit prototypes ``(P, D)``, ``P >= 2``.
        count: positives per key ``M``.
        hardness: ``lambda`` in [0, 1]: ``t ~ U[(1 - lambda) t_max, t_max]``; ``lambda = 0`` is the
            control whose positives are the key itself (``t = 0``; see :class:`HaLP`).
        generator: draws the other prototypes (``P0 + U{1..P-1} mod P``) and the steps.

    Returns:
        ``(positives (B, M, D) unit, kept (B, M) bool, t (B, M))``: ``kept`` is the rank filter, true
        where a positive's most similar prototype is still the key's ``P0``.
    """
    batch, prototype_count = keys.shape[0], prototypes.shape[0]
    device = keys.device
    nearest_index = (keys @ prototypes.T).argmax(1)  # (B,)
    shift = torch.randint(1, prototype_count, (batch, count), generator=generator, device=device)
    other_index = (nearest_index[:, None] + shift) % prototype_count  # (B, M), never P0
    anchors = keys[:, None, :].expand(batch, count, keys.shape[1])
    nearest, other = prototypes[nearest_index][:, None, :].expand_as(anchors), prototypes[other_index]
    t_max, omega = halp_t_max(anchors, nearest, other)
    draw = torch.rand(batch, count, generator=generator, device=device, dtype=keys.dtype)
    if hardness == 0:
        return anchors.clone(), torch.ones(batch, count, dtype=torch.bool, device=device), torch.zeros_like(t_max)
    t = t_max * ((1 - hardness) + hardness * draw)
    positives = slerp(anchors, other, t, omega)
    kept = (positives @ prototypes.T).argmax(-1) == nearest_index[:, None]
    return positives, kept, t


@METHODS.register("halp")
class HaLP(MoCo):
    """MoCo plus, for each key, hallucinated latent positives that its query is pulled towards (HaLP).

    Per step, on top of :class:`~augbench.methods.moco.MoCo` (same views, queries ``q``, keys ``k``,
    queue, InfoNCE ``L_MoCo``), all without gradient:

    1. From epoch ``warmup_epochs`` (0: from the start) and once the queue has filled once (every
       slot holds an enqueued key; before that only ``L_MoCo`` is trained), and then every ``prototype_every`` optimiser steps: spherical k-means
       (:func:`spherical_kmeans`, ``kmeans_iterations`` rounds, drawn from ``ctx.generator``) on the
       newest ``prototype_keys`` queue KEYS (never queries) gives ``P`` unit prototypes.
    2. For every key ``k`` of the batch: ``P0`` its nearest prototype, and ``positives`` times a
       random other prototype ``Ps``; ``t_max`` closed-form (:func:`halp_t_max`), ``t ~ U[(1 -
       lambda) t_max, t_max]``, ``p = slerp(k, Ps, t)`` (:func:`hallucinate_positives`).
    3. Rank filter: keep ``p`` only if its most similar prototype is still ``P0``.
    4. Loss: ``L_MoCo + mu * mean over kept p of (-q . p / T)`` with ``T`` MoCo's temperature and
       ``p`` detached (the official loss: the positive-similarity term alone, no normaliser).

    Logged per epoch besides MoCo's: ``halp_active`` (fraction of steps that generated),
    ``halp_kept`` (fraction of the positives the rank filter keeps, on generating steps; the card
    expects > 50 %, near 0 means a wrong ``t_max``), ``halp_t`` (mean ``t``), ``halp_similarity``
    (mean ``q . p`` over kept positives) and ``halp_loss`` (the added term before ``mu``).

    ``hardness = 0`` is the card's control "positives equal to the key" (``p = k``, the term
    ``-q . k / T``). The card's range ``[(1 - lambda) t_max, t_max]`` would give ``t = t_max``
    (the hardest point) at ``lambda = 0``, not ``p = k``; the control is the card's stated intent
    (and its check "lambda = 0 gives about no gain"), so ``hardness = 0`` is special-cased.

    Defaults from the card: ``P = 20``, 100 positives per anchor, ``lambda = 0.8``, ``mu = 1``
    (PKU; 2 for NTU), prototypes every 10 steps from the newest 256 keys; ``T`` is MoCo's
    ``temperature`` (the card: 0.07; set it in the spec). Trained from scratch on MSR Action3D
    (``configs/halp_msr_action3d.yaml``), ``mu = 1`` at ``T = 0.07`` collapses the head's output (the
    term's weight ``mu / T = 14`` outweighs InfoNCE; mean queue similarity 0.96 against MoCo's 0.26)
    and the shipped config uses ``mu = 0.1``, chosen on training logs, not labels.

    Simplified relative to the paper:

    - trained from scratch: no MoCo checkpoint to resume from; ``warmup_epochs`` of plain MoCo
      stand in for it (the generation also waits for the queue to fill once);
    - k-means: a fixed number of rounds from random distinct keys (no k-means++ / faiss);
    - everything MoCo simplifies (no shuffled batch norm, one direction, one modality).

    Args:
        prototypes: number of prototypes ``P >= 2``.
        positives: hallucinated positives per key ``M >= 1``.
        hardness: ``lambda`` in [0, 1].
        mu: weight of the positive term, ``>= 0``.
        prototype_every: steps between two k-means runs, ``>= 1``.
        prototype_keys: newest queue keys clustered, ``P <= prototype_keys <= queue_size``.
        kmeans_iterations: k-means rounds, ``>= 1``.
        warmup_epochs: epochs of plain MoCo before any generation, ``>= 0`` (the paper starts HaLP
            from a MoCo checkpoint; this is the from-scratch stand-in).
        temperature ... input_shape: as for :class:`~augbench.methods.moco.MoCo`.

    Shape:
        ``batch["labeled"].inputs`` any shape the view pipeline and ``forward_features`` accept
        (``(B, T, J, 3)`` float skeletons here), ``B >= 2`` -> a scalar loss.

    Raises:
        ConfigError: an option out of range, or MoCo's refusals.
    """

    _who = "halp"

    def __init__(
        self,
        prototypes: int = 20,
        positives: int = 100,
        hardness: float = 0.8,
        mu: float = 1.0,
        prototype_every: int = 10,
        prototype_keys: int = 256,
        kmeans_iterations: int = 10,
        warmup_epochs: int = 0,
        temperature: float = 0.07,
        momentum: float = 0.999,
        queue_size: int = 16384,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        augment: Spec | Transform | None = MOCO_AUGMENT,
        color_strength: float = 0.5,
        color_p: float = 0.8,
        grayscale_p: float = 0.2,
        input_shape: tuple[int, ...] = (3, 32, 32),
    ) -> None:
        super().__init__(temperature=temperature, momentum=momentum, queue_size=queue_size,
                         projection_dim=projection_dim, hidden_dim=hidden_dim, augment=augment,
                         color_strength=color_strength, color_p=color_p, grayscale_p=grayscale_p,
                         input_shape=input_shape)
        self.prototypes = _int_at_least("prototypes", prototypes, 2, 20)
        self.positives = _int_at_least("positives", positives, 1, 100)
        self.prototype_every = _int_at_least("prototype_every", prototype_every, 1, 10)
        self.prototype_keys = _int_at_least("prototype_keys", prototype_keys, 1, 256)
        self.kmeans_iterations = _int_at_least("kmeans_iterations", kmeans_iterations, 1, 10)
        self.warmup_epochs = _int_at_least("warmup_epochs", warmup_epochs, 0, 0)
        if not _is_number(hardness) or not 0.0 <= hardness <= 1.0:
            raise ConfigError(f"halp: hardness={hardness!r} must be a number in [0, 1], e.g. 0.8 (0: positives = keys)")
        if not _is_number(mu) or mu < 0:
            raise ConfigError(f"halp: mu={mu!r} must be a number >= 0, e.g. 1.0")
        if not self.prototypes <= self.prototype_keys <= self.queue_size:
            raise ConfigError(
                f"halp: need prototypes <= prototype_keys <= queue_size, got {self.prototypes}, "
                f"{self.prototype_keys}, {self.queue_size}; e.g. prototypes 20, prototype_keys 256"
            )
        self.hardness = float(hardness)
        self.mu = float(mu)
        self._prototypes: Tensor | None = None
        self._filled_once = False
        self._step_keys: tuple[Tensor, Tensor] | None = None

    def setup(self, ctx: TrainContext) -> None:
        """MoCo's modules; no prototypes until the queue has filled once."""
        super().setup(ctx)
        self._prototypes = None
        self._filled_once = False
        self._step_keys = None

    def embed(self, ctx: TrainContext) -> tuple[Tensor, Tensor]:
        """MoCo's queries and keys, kept for the positive term of the same step."""
        queries, keys = super().embed(ctx)
        self._step_keys = (queries, keys)
        return queries, keys

    @torch.no_grad()
    def prototypes_for(self, ctx: TrainContext) -> Tensor | None:
        """The current prototypes ``(P, D)``, rebuilt from the queue's newest keys every
        ``prototype_every`` steps; ``None`` before epoch ``warmup_epochs`` and until the queue
        has filled once (one host sync a step until then)."""
        queue = self.queue
        if ctx.epoch < self.warmup_epochs:
            return None
        if not self._filled_once:
            if int(queue.filled) < queue.size:
                return None
            self._filled_once = True
            self._prototypes = None
        if self._prototypes is None or ctx.step % self.prototype_every == 0:
            newest = queue.oldest_first()[-self.prototype_keys:]
            self._prototypes = spherical_kmeans(newest, self.prototypes, self.kmeans_iterations, ctx.generator)
        return self._prototypes

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        output = super().training_step(batch, ctx)
        if self._step_keys is None:
            raise ConfigError("halp.training_step: MoCo's embed() was not called; do not override it without super()")
        queries, keys = self._step_keys
        self._step_keys = None
        prototypes = self.prototypes_for(ctx)
        if prototypes is None or self.mu == 0:
            ctx.log.add("halp_active", 0.0)
            return output
        with torch.no_grad():
            positives, kept, t = hallucinate_positives(keys.detach(), prototypes, self.positives, self.hardness,
                                                       ctx.generator)
        weight = kept.to(queries.dtype)
        similarity = torch.einsum("bd,bmd->bm", queries, positives)  # positives carry no gradient
        term = -(similarity * weight).sum() / (weight.sum().clamp(min=1) * self.temperature)
        ctx.log.add("halp_active", 1.0)
        ctx.log.add("halp_kept", weight.mean())
        ctx.log.add("halp_t", t.mean())
        ctx.log.add("halp_similarity", (similarity.detach() * weight).sum() / weight.sum().clamp(min=1))
        ctx.log.add("halp_loss", term.detach())
        return StepOutput(output.loss + self.mu * term)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_at_least(option: str, value: object, low: int, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"halp: {option}={value!r} must be an integer >= {low}, e.g. {example}")
    return value
