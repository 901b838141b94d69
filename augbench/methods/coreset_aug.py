"""Data-efficient augmentation: augment only a coreset whose gradients stand in for the whole set.

Reference:
    Liu and Mirzasoleiman, "Data-Efficient Augmentation for Training Neural Networks", NeurIPS
    2022 (arXiv:2210.08363); tianyu139/data-efficient-augmentation is the reference code
    (``main.py``: the epoch loop and the subset modes; ``utils/subset.py``: the gradient proxy and
    the random and max-loss controls; ``utils/craig.py``: per-class facility location). The
    selection is CRAIG's (Mirzasoleiman, Bilmes and Leskovec, "Coresets for Data-efficient
    Training of Machine Learning Models", ICML 2020, arXiv:1906.01827).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import ConfigError, InputValueError
from augbench.losses import masked_cross_entropy
from augbench.methods.base import METHODS, Method
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext, stream_keys
from augbench.train.views import CHUNK_BYTES, CHUNK_SAMPLES, KeyedView
from augbench.transforms.base import Transform

__all__ = [
    "CoresetAug",
    "SUBSET_MODES",
    "STRONG_AUGMENTATION",
    "Selection",
    "class_budgets",
    "facility_location",
    "last_layer_gradients",
    "select_subset",
]

SUBSET_MODES = ("craig", "random", "max_loss")
"""How the augmented subset is chosen: CRAIG's facility location on the gradient proxy (the
method), a uniform random subset, or the highest-loss samples (the paper's two controls)."""

STRONG_AUGMENTATION: Mapping[str, Any] = {
    "type": "RandomAffine", "degrees": 15, "translate": [0.125, 0.125], "shear": 11.309932474020215,
    "interpolation": "bilinear",
}
"""The strong augmentation of the selected copies when none is named: the ``affine`` preset's
transform (rotation +-15 deg, shift 1/8 of the side, shear factor +-0.2, bilinear), the card's
small-scale check."""

_MAIN_VIEW, _STRONG_VIEW = 0, 1  # key views: the main copy (as supervised training), the strong copy
_SELECTION_BATCH = 512  # samples per forward pass of the selection (evaluation mode: no effect on results)
_FLOOR_SLACK = 1e-9  # floor(0.29 * 100) is 28 in floating point; the budget is 29


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def last_layer_gradients(logits: Tensor, labels: Tensor) -> Tensor:
    """The per-example gradient proxy ``g_i = softmax(f(x_i)) - onehot(y_i)``.

    It is the gradient of the cross-entropy with respect to the logits, i.e. of the last layer's
    bias; the reference uses it (``utils/subset.py``, ``grad_predictions``) as a cheap stand-in
    for the full per-example gradient.

    Shape:
        ``logits`` ``(N, K)`` float, ``labels`` ``(N,)`` int64 -> ``(N, K)`` float.

    >>> last_layer_gradients(torch.zeros(1, 2), torch.tensor([1]))
    tensor([[ 0.5000, -0.5000]])
    """
    return logits.float().softmax(dim=1) - nnf.one_hot(labels, logits.shape[1]).float()


def class_budgets(labels: Tensor, fraction: float, num_classes: int) -> Tensor:
    """How many points each class contributes to a subset of ``max(1, floor(fraction * N))``.

    Each class gets ``floor(fraction * n_c)``; the points left over go one each to the classes
    with the largest remainders (ties: lower class first), so the total is exact and no class
    gets more than it has.

    Shape:
        ``labels`` ``(N,)`` int64 in ``[0, num_classes)`` -> ``(num_classes,)`` int64 on the CPU.

    >>> class_budgets(torch.tensor([0] * 5 + [1] * 3), 0.5, 2)
    tensor([3, 1])
    """
    counts = torch.bincount(labels.cpu(), minlength=num_classes).double()
    total = max(1, math.floor(fraction * len(labels) + _FLOOR_SLACK))
    quotas = counts * fraction
    budgets = (quotas + _FLOOR_SLACK).floor()
    extra = total - int(budgets.sum())
    order = torch.argsort(budgets - quotas, stable=True)  # largest remainder first
    budgets[order[:extra]] += 1
    return budgets.long()


def facility_location(distances: Tensor, budget: int) -> Tensor:
    """Greedy maximisation of the facility-location function on one class (CRAIG).

    ``F(S) = sum_i max_{j in S} (C - d_ij)`` with ``C = max_ij d_ij``, so maximising ``F`` is
    minimising ``sum_i min_{j in S} d_ij`` (every point's distance to its nearest selected
    point). ``F`` is monotone submodular, so the greedy set is within ``1 - 1/e`` of the best
    set of its size. Each step adds the candidate with the largest gain
    ``sum_i max(0, s_ij - best_i)`` (``best_i``: point ``i``'s similarity to the set so far),
    computed for all candidates at once from the ``(n, n)`` similarity matrix; the only Python
    loop is over the ``budget`` picks. Ties go to the lower index. Plain (not lazy) greedy: the
    same set, ``O(budget n^2)`` work without a priority queue.

    Args:
        distances: ``(n, n)`` float pairwise distances of the class's points (symmetric, zero
            diagonal).
        budget: points to select, in ``1..n``.

    Returns:
        ``(budget,)`` int64 positions of the selected points in greedy order.
    """
    size = distances.shape[0]
    if distances.ndim != 2 or distances.shape[1] != size:
        raise InputValueError(
            f"facility_location: distances must be a square (n, n) matrix, got {tuple(distances.shape)}"
        )
    if not 1 <= budget <= size:
        raise InputValueError(f"facility_location: budget={budget} must be in 1..{size} (the number of points)")
    similarity = distances.max() - distances
    best = distances.new_zeros(size)
    taken = torch.zeros(size, dtype=torch.bool, device=distances.device)
    picks = []
    for _ in range(budget):
        gains = (similarity - best[:, None]).clamp_min(0).sum(dim=0).masked_fill(taken, -math.inf)
        pick = gains.argmax().reshape(1)
        picks.append(pick)
        taken[pick] = True
        best = torch.maximum(best, similarity.index_select(1, pick).squeeze(1))
    return torch.cat(picks)


@dataclass(frozen=True)
class Selection:
    """One subset selection.

    Attributes:
        positions: ``(|S|,)`` int64 positions of the selected points in the scored arrays.
        weights: ``(|S|,)`` float32 weights, mean 1 (sum ``|S|``): CRAIG's cluster sizes, all 1
            for the random and max-loss controls.
        coverage: 0-d float, mean over all ``N`` points of the distance (in gradient space) to
            the nearest selected point of the same class.
    """

    positions: Tensor
    weights: Tensor
    coverage: Tensor


def select_subset(
    gradients: Tensor,
    labels: Tensor,
    fraction: float,
    mode: str,
    num_classes: int,
    losses: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Selection:
    """Select ``max(1, floor(fraction * N))`` points class by class (:func:`class_budgets`).

    Per class ``c`` (a Python loop over classes, not samples) the pairwise Euclidean distances
    of its gradients are one ``(n_c, n_c)`` ``torch.cdist`` call; then ``craig`` runs
    :func:`facility_location` on them, ``random`` draws a uniform subset (``torch.randperm``
    with ``generator``), ``max_loss`` takes the points of largest ``losses``. Every point is
    assigned to its nearest selected point of its class; CRAIG's weight of a selected point is
    the number of points assigned to it (at least 1, as the reference), and all weights are
    scaled to mean 1.

    Args:
        gradients: ``(N, D)`` float gradient proxies (:func:`last_layer_gradients`).
        labels: ``(N,)`` int64 classes.
        fraction: subset share in (0, 1].
        mode: one of :data:`SUBSET_MODES`.
        num_classes: number of classes ``K``.
        losses: ``(N,)`` float per-example losses (``max_loss`` only).
        generator: CPU generator of the random control.
    """
    if mode not in SUBSET_MODES:
        raise ConfigError(f"subset={mode!r} is not a subset mode; choose from {', '.join(SUBSET_MODES)}")
    if mode == "max_loss" and losses is None:
        raise InputValueError("select_subset: mode 'max_loss' needs losses=, one loss per point")
    budgets = class_budgets(labels, fraction, num_classes).tolist()
    chosen, counts = [], []
    covered = gradients.new_zeros((), dtype=torch.float32)
    for label, budget in enumerate(budgets):
        if budget == 0:
            continue
        members = (labels == label).nonzero().squeeze(1)
        points = gradients.index_select(0, members).float()
        distances = torch.cdist(points, points)
        if mode == "craig":
            local = facility_location(distances, budget)
        elif mode == "random":
            local = torch.randperm(len(members), generator=generator)[:budget].to(members.device)
        else:
            local = losses.index_select(0, members).topk(budget).indices  # type: ignore[union-attr]
        nearest, assigned = distances.index_select(1, local).min(dim=1)
        covered = covered + nearest.sum()
        counts.append(torch.bincount(assigned, minlength=budget))
        chosen.append(members.index_select(0, local))
    sizes = torch.cat(counts).clamp_min(1).float()
    weights = sizes if mode == "craig" else torch.ones_like(sizes)
    return Selection(torch.cat(chosen), weights * (len(weights) / weights.sum()), covered / len(labels))


@METHODS.register("coreset_aug")
class CoresetAug(Method):
    """Data-efficient augmentation (Liu and Mirzasoleiman, NeurIPS 2022): strong copies of a coreset only.

    Every ``reselect_every`` epochs (``R``; first at epoch 0, before the first step):

    1. one forward pass over the **whole clean labeled stream** (stored inputs, normalised, no
       augmentation, the model in evaluation mode, no gradient; ``ctx.pool_batches``), giving
       the gradient proxy ``g_i = softmax(f(x_i)) - onehot(y_i)`` (:func:`last_layer_gradients`);
    2. per class, a subset of ``s N`` points overall (``s = subset_fraction``,
       :func:`select_subset`): CRAIG's greedy facility location on Euclidean distances between
       ``g_i`` (``subset: craig``), or the controls ``random`` and ``max_loss`` (largest
       cross-entropy on the clean inputs); CRAIG's weights ``gamma_j`` = points assigned to
       ``j``, normalised to mean 1 (the controls: all 1).

    Each step then trains on the labeled batch ``x`` as the main set (``weak(x)``, key view 0,
    or the stored inputs) plus a strongly augmented copy ``strong(x_j)`` (key view 1) of each of
    the batch's selected samples, all in one forward pass, with per-example weighted
    cross-entropy ``loss = (sum_i CE_i + sum_j w_j CE(strong(x_j))) / (B + m)`` (``m`` copies
    in the batch; ``w_j = gamma_j`` with ``weighted``, else 1), the reference's
    ``(criterion(output, target) * weight).mean()`` over a batch of main and augmented samples.
    Over an epoch every selected sample is augmented once, as in the reference's dataset of
    the full set plus the augmented subset. Only the selected samples are augmented (``s`` of
    full augmentation's work), at the epoch's first step in one call per pool chunk (keyed
    draws: the bits a call per step would give). ``subset_fraction: 1`` is full augmentation
    (every sample plus its strong copy, unit weights) and skips the selection pass, as the
    reference.

    Logged in each epoch that selects: ``coverage`` (mean distance of every point to the
    nearest selected point of its class, in gradient space: lower is a better cover),
    ``weight_sum`` (``|S|``), ``subset_size`` and ``selection_time_s``; every epoch:
    ``augmented_share`` (strong copies per main sample). The selection runs inside the first
    step of its epoch, so the benchmark's step and training times include its cost.

    Simplified relative to the paper and its code:

    - the gradient proxy is the logit gradient only (the reference's optional product with the
      penultimate embedding, ``use_linear``, is not implemented);
    - similarities are CRAIG's ``C - d`` (the card's formula); the reference's submodlib
      kernel is ``exp(-d / K)``: the same nearest-point assignment and weights, possibly a
      different greedy order;
    - plain greedy instead of lazy greedy (the same subset);
    - per-class budgets are proportional to class sizes with an exact total of
      ``floor(s N)`` (the reference gives every class ``ceil(s N / K)``), and the random and
      max-loss controls use the same per-class budgets (the reference draws them over the whole
      set), so the three modes differ only in which points of a class they pick;
    - the main set is always the full labeled stream: the reference's options to train on the
      coreset alone (``--subset_main_dataset``, its 6.3x speedups) or on a random main subset
      are not implemented;
    - an epoch keeps the labeled stream's number of steps: a selected sample's strong copy
      joins the batch of its main copy (the reference shuffles the copies into their own
      batches, adding ``s`` more steps per epoch).

    Args:
        subset: one of :data:`SUBSET_MODES`.
        subset_fraction: ``s`` in (0, 1]: share of the labeled stream that gets a strong copy
            (the paper: 0.3 on Caltech-256, 0.5 on ImageNet).
        reselect_every: ``R >= 1`` epochs between selections (the paper: 5 on Caltech-256).
        weighted: weight the strong copies by ``gamma_j`` (the reference's
            ``--enable_coreset_augment_weights``, off in its scripts).
        strong: transform spec of the selected copies (default :data:`STRONG_AUGMENTATION`),
            or ``None`` for clean duplicates.
        weak: transform spec of the main set, or ``None`` (stored inputs).
        input_shape: one sample's shape, from the run's data (the main set and the strong copies
            share a forward pass, so their shapes must match).
    """

    spec_fields = {"strong": "transform", "weak": "transform"}

    def __init__(
        self,
        subset: str = "craig",
        subset_fraction: float = 0.3,
        reselect_every: int = 5,
        weighted: bool = True,
        strong: Spec | Transform | None = STRONG_AUGMENTATION,
        weak: Spec | Transform | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        if subset not in SUBSET_MODES:
            raise ConfigError(
                f"coreset_aug: subset={subset!r} is not a subset mode; choose from {', '.join(SUBSET_MODES)}"
            )
        if not _number(subset_fraction) or not 0.0 < subset_fraction <= 1.0:
            raise ConfigError(
                f"coreset_aug: subset_fraction={subset_fraction!r} must be a number in (0, 1]; the paper uses 0.3 "
                "(1 augments every sample)"
            )
        if isinstance(reselect_every, bool) or not isinstance(reselect_every, int) or reselect_every < 1:
            raise ConfigError(
                f"coreset_aug: reselect_every={reselect_every!r} must be a positive number of epochs; the paper uses 5"
            )
        if not isinstance(weighted, bool):
            raise ConfigError(f"coreset_aug: weighted={weighted!r} must be true or false")
        self.subset = subset
        self.subset_fraction = float(subset_fraction)
        self.reselect_every = reselect_every
        self.weighted = weighted
        self.strong = build_transform(strong)
        self.weak = build_transform(weak)
        if input_shape is not None:
            shape = tuple(input_shape)
            weak_shape, strong_shape = (shape if t is None else t.output_shape(shape) for t in (self.weak, self.strong))
            if weak_shape != strong_shape:
                raise ConfigError(
                    f"coreset_aug: the main set's samples are {weak_shape}, the strong copies' {strong_shape}; both go "
                    "through one forward pass, so make them the same size"
                )
        self._weights = torch.zeros(0)  # (pool size,) weight of each sample's strong copy, 0: no copy
        self._slots = torch.zeros(0, dtype=torch.int64)  # (pool size,) row of its copy in _copies, -1: none
        self._copies = torch.zeros(0)
        self._selected_epoch: int | None = None
        self._copies_epoch: int | None = None

    def setup(self, ctx: TrainContext) -> None:
        """Forget the previous phase's selection: the first step selects again."""
        self._weights = torch.zeros(0, device=ctx.device)
        self._selected_epoch = None
        self._copies_epoch = None

    def keyed_views(self) -> list[KeyedView]:
        """The main set's weak view (key view 0); the strong copies of the selected rows are made in the step."""
        return [] if self.weak is None else [KeyedView(self.weak, "labeled", _MAIN_VIEW)]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        if self._selection_due(ctx.epoch):
            self.select(ctx)
        if self._copies_epoch != ctx.epoch:
            self._make_copies(ctx)
        labeled = batch["labeled"]
        main = ctx.augment(self.weak, "labeled", _MAIN_VIEW)
        slots = self._slots.index_select(0, labeled.ids)
        rows = (slots >= 0).nonzero().squeeze(1)
        inputs, labels, weights = main, labeled.labels, torch.ones(len(labeled), device=main.device)
        if len(rows):
            inputs = torch.cat([main, self._copies.index_select(0, slots.index_select(0, rows))])
            labels = torch.cat([labels, labeled.labels.index_select(0, rows)])
            weights = torch.cat([weights, self._weights.index_select(0, labeled.ids.index_select(0, rows))])
        logits = ctx.model(ctx.normalize(inputs))
        ctx.log.add("augmented_share", len(rows) / len(labeled))
        return StepOutput(masked_cross_entropy(logits, labels, weights, float(len(labels))))

    def _make_copies(self, ctx: TrainContext) -> None:
        """The strong copies of this epoch's selected samples, made at the epoch's first step.

        Keyed draws (key view 1, pass ``ctx.epoch``) give each copy the bits a call on its step's
        batch would give, so the copies of a pool chunk (at most ``CHUNK_SAMPLES`` samples or
        ``CHUNK_BYTES`` bytes) are made in one call: the augmentation cost is that of ``s N``
        samples, not ``B`` calls' dispatch per epoch. They take ``s`` of the pool's memory.
        """
        pool = ctx.pools["labeled"]
        sample_bytes = max(1, pool.inputs[0].numel() * pool.inputs.element_size())
        chunk = max(1, min(CHUNK_SAMPLES, CHUNK_BYTES // sample_bytes))
        copies, ids = [], []
        for part in ctx.pool_batches("labeled", chunk):
            rows = self._weights.index_select(0, part.ids).nonzero().squeeze(1)
            if not len(rows):
                continue
            inputs = part.inputs.index_select(0, rows)
            if self.strong is not None:
                keys = stream_keys(part, _STRONG_VIEW).index_select(0, rows)
                with ctx.timer.augmentation():
                    inputs = self.strong(inputs, keys=keys, seed=ctx.seed)
            copies.append(inputs)
            ids.append(part.ids.index_select(0, rows))
        self._copies = torch.cat(copies)
        chosen = torch.cat(ids)
        self._slots = torch.full((pool.pool_size,), -1, dtype=torch.int64, device=ctx.device).index_put_(
            (chosen,), torch.arange(len(chosen), device=ctx.device)
        )
        self._copies_epoch = ctx.epoch

    def select(self, ctx: TrainContext) -> Selection:
        """Score the whole clean labeled stream and select the subset of this epoch (logged).

        Sets the per-sample copy weights (by pool id; 0 for samples without a strong copy) that
        the following steps read, and returns the selection (positions in the stream's order);
        the next step makes the copies again.
        """
        started = time.perf_counter()
        if self.subset_fraction == 1.0:  # every sample: no scoring pass
            ids = torch.cat([part.ids for part in ctx.pool_batches("labeled", _SELECTION_BATCH)])
            selection = Selection(torch.arange(len(ids), device=ctx.device), torch.ones(len(ids), device=ctx.device),
                                  torch.zeros((), device=ctx.device))
        else:
            logits, labels, ids = self._score(ctx)
            losses = nnf.cross_entropy(logits, labels, reduction="none")
            selection = select_subset(last_layer_gradients(logits, labels), labels, self.subset_fraction, self.subset,
                                      logits.shape[1], losses=losses, generator=ctx.generator)
        size = ctx.pools["labeled"].pool_size
        copy_weights = selection.weights if self.weighted else torch.ones_like(selection.weights)
        self._weights = torch.zeros(size, device=ctx.device).index_put_(
            (ids.index_select(0, selection.positions),), copy_weights
        )
        self._selected_epoch = ctx.epoch
        self._copies_epoch = None
        ctx.log.add("coverage", selection.coverage)
        ctx.log.add("weight_sum", selection.weights.sum())
        ctx.log.add("subset_size", float(len(selection.positions)))
        ctx.log.add("selection_time_s", time.perf_counter() - started)
        return selection

    def _selection_due(self, epoch: int) -> bool:
        if self._selected_epoch is None:
            return True
        return self.subset_fraction < 1.0 and epoch % self.reselect_every == 0 and epoch != self._selected_epoch

    def _score(self, ctx: TrainContext) -> tuple[Tensor, Tensor, Tensor]:
        """Logits, labels and ids of every clean labeled sample (evaluation mode, no gradient)."""
        was_training = ctx.model.training
        ctx.model.eval()
        logits, labels, ids = [], [], []
        with torch.no_grad():
            for part in ctx.pool_batches("labeled", _SELECTION_BATCH):
                logits.append(ctx.model(ctx.normalize(part.inputs)).float())
                labels.append(part.labels)
                ids.append(part.ids)
        ctx.model.train(was_training)
        return torch.cat(logits), torch.cat(labels), torch.cat(ids)
