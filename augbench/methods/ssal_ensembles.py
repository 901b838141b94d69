"""Training ensembles with inliers and outliers for semi-supervised active learning.

Reference:
    Stojnic, Laskar, Tolias, "Training Ensembles with Inliers and Outliers for Semi-supervised
    Active Learning", WACV 2024 (arXiv:2307.03741); the reference implementation is
    vladan-stojnic/active-outliers (``src/main.py`` the rounds, ``src/util.py`` ``semi_supervised``,
    ``src/strategy/variance_ratio.py`` and ``random.py`` the acquisitions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from augbench.data.open_set import open_set_data
from augbench.data.streams import RunData
from augbench.errors import ConfigError
from augbench.losses import masked_cross_entropy
from augbench.methods.base import METHODS, Method, Phase
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["SSALEnsembles", "ActiveRecord", "WeightedStep", "variation_ratio", "entropy_weights", "query_order",
           "ACQUISITIONS"]

ACQUISITIONS = ("variation_ratio", "random")
"""The acquisition functions ``ssal_ensembles`` accepts."""


def variation_ratio(member_logits: Tensor) -> tuple[Tensor, Tensor]:
    """Variation ratio of an ensemble and its prediction.

    ``p_mean = mean_e softmax(f_e(u))``, ``y(u) = argmax p_mean(u)`` and
    ``VR(u) = (1/E) sum_e 1[argmax f_e(u) != y(u)]``: the share of members that disagree with the
    ensemble. ``E = 1`` gives ``VR = 0`` everywhere.

    Shape:
        ``member_logits`` ``(E, N, K)`` float -> ``VR`` ``(N,)`` float in [0, 1 - 1/E] and the
        ensemble's prediction ``(N,)`` int64.

    >>> vr, prediction = variation_ratio(torch.tensor([[[2.0, 0.0]], [[0.0, 1.0]], [[3.0, 0.0]]]))
    >>> round(float(vr), 4), int(prediction)
    (0.3333, 0)
    """
    prediction = member_logits.softmax(dim=-1).mean(dim=0).argmax(dim=-1)
    disagree = member_logits.argmax(dim=-1) != prediction
    return disagree.to(member_logits.dtype).mean(dim=0), prediction


def entropy_weights(probabilities: Tensor) -> Tensor:
    """Pseudo-label weights ``w = 1 - H(p) / log K`` of class distributions over ``K`` classes.

    ``H(p) = -sum_k p_k log p_k`` (``0 log 0 = 0``); the normaliser counts every class the model
    predicts, the outlier class included (``K = C + 1``), so a uniform ``p`` gets 0 and a one-hot
    ``p`` gets 1. The base of the logarithm cancels (the reference uses ``log2``).

    Shape:
        ``probabilities`` ``(N, K)`` float, rows summing to 1, ``K >= 2`` -> ``(N,)`` in [0, 1].

    >>> entropy_weights(torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])).tolist()
    [1.0, 0.0]
    """
    entropy = -torch.special.xlogy(probabilities, probabilities).sum(dim=-1)
    return (1.0 - entropy / math.log(probabilities.shape[-1])).clamp(0.0, 1.0)


def query_order(priority: Tensor, outliers: Tensor, generator: torch.Generator) -> Tensor:
    """The pool in query order: highest ``priority`` first; ties go first to samples not flagged
    as outliers, then in a random order drawn from ``generator``.

    Shape:
        ``priority`` ``(N,)`` float, ``outliers`` ``(N,)`` bool -> a permutation ``(N,)`` int64
        of the pool's positions.
    """
    order = torch.randperm(priority.shape[0], generator=generator).to(priority.device)
    order = order[outliers[order].to(torch.int8).sort(stable=True).indices]
    return order[priority[order].sort(descending=True, stable=True).indices]


class ActiveRecord(nn.Module):
    """Per-round results of the active-learning protocol, kept as buffers (saved with the phase,
    so a cached run reports the same); NaN until the protocol writes them.

    Buffers: ``inlier_accuracy`` ``(rounds + 1,)`` float after each training round;
    ``queried_inlier_rate`` and ``pool_inlier_rate`` ``(rounds,)`` float of each query;
    ``queried_ids`` ``(rounds, budget)`` int64, the pool ids queried in each round (-1 until then).
    """

    def __init__(self, rounds: int, budget: int) -> None:
        super().__init__()
        for name, size in (("inlier_accuracy", rounds + 1), ("queried_inlier_rate", rounds),
                           ("pool_inlier_rate", rounds)):
            self.register_buffer(name, torch.full((size,), math.nan))
        self.register_buffer("queried_ids", torch.full((rounds, budget), -1, dtype=torch.int64))

    def write(self, name: str, round_index: int, value: float | Tensor) -> None:
        """Set ``name`` of round ``round_index`` (a number, or the row of ``queried_ids``)."""
        getattr(self, name)[round_index] = value


class WeightedStep(Method):
    """One ensemble member's step: weighted cross-entropy of the (optionally augmented) labeled stream.

    ``loss = mean_b w[ids_b] CE(f(x_b), y_b)`` with ``w`` a per-sample weight table indexed by the
    samples' pool ids (1 for labeled samples, the entropy weight for pseudo-labeled ones);
    ``weights=None`` is plain cross-entropy.

    Args:
        augment: the transform of the labeled view (key view 0), or ``None``.
        weights: ``(pool_size,)`` float weights by sample id, or ``None``.
    """

    def __init__(self, augment: Transform | None, weights: Tensor | None = None) -> None:
        self.augment = augment
        self.weights = weights

    def keyed_views(self) -> list[KeyedView]:
        return [] if self.augment is None else [KeyedView(self.augment, "labeled", 0)]

    def setup(self, ctx: TrainContext) -> None:
        if self.weights is not None:
            self.weights = self.weights.to(ctx.device)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        logits = ctx.model(ctx.normalize(ctx.augment(self.augment, "labeled")))
        weights = torch.ones_like(labeled.labels, dtype=logits.dtype) if self.weights is None \
            else self.weights[labeled.ids]
        return StepOutput(masked_cross_entropy(logits, labeled.labels, weights, float(len(labeled))))


def _integer(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@METHODS.register("ssal_ensembles")
class SSALEnsembles(Method):
    """Ensembles trained with inliers and outliers, pseudo-labels and variation-ratio queries.

    An active-learning protocol (:func:`augbench.train.active.fit_active`) on the open-set task of
    the run's data (:func:`augbench.data.open_set.open_set_data`): ``C`` inlier classes, every
    ``outlier_classes`` class merged into one outlier class ``C``, an unlabeled pool with a
    fraction ``outlier_ratio`` of outliers, and initial labels from the data spec's labeled stream
    (``labeled_per_class: k`` gives ``k`` per inlier class). Round ``r = 0 .. rounds``:

    1. ``E = members`` models are re-created from the **same initial weights** (the run's seeded
       initialisation; members differ only in data order, augmentation and SGD randomness: each
       has its own seed) and trained on the labeled set with ``C + 1`` classes (queried outliers
       keep the label ``C``), the run's epochs, batch size, optimiser and schedule;
    2. (``r > 0``, ``pseudo_labels``) ``p_mean`` = mean of the members' softmax over the whole
       pool, pseudo-label ``argmax p_mean`` (the outlier class included), weight
       ``w = 1 - H(p_mean) / log(C + 1)`` (:func:`entropy_weights`); every member is fine-tuned
       for ``semi_epochs`` with weighted cross-entropy on the pool (weight ``w``) paired with
       as many labeled samples (weight 1), ``semi_batch_size`` samples per step, a fresh
       optimiser of the run's spec;
    3. member 0 is evaluated on the inlier test split by the argmax over the **first C logits**
       (:meth:`predict`): ``inlier_accuracy`` of the round;
    4. (``r < rounds``) ``budget`` pool samples are queried (the oracle's label joins the labeled
       set; they leave the pool): with ``variation_ratio``, the highest :func:`variation_ratio`
       first, set to 0 where the ensemble predicts the outlier class (``filter_outliers``); with
       ``random``, every sample scores 0. Ties (all of them for ``E = 1`` or ``random``) go first
       to samples the ensemble does not call outliers (``filter_outliers``), then at random
       (:func:`query_order`), so ``E = 1`` is random acquisition with the outlier filter.
       Round 0 queries at random without the filter, as the reference does (the labeled set has
       no outlier yet, so the outlier logit is untrained); only member 0 is trained in round 0
       (nothing else reads the ensemble there).

    Logged per round as curves (epoch = round): ``inlier_accuracy``, ``queried_inlier_rate`` and
    ``pool_inlier_rate`` (inlier share of the queried samples and of the pool they came from),
    ``labeled_size``, and with pseudo-labels ``pseudo_label_accuracy`` (against the oracle, the
    outlier class included) and ``pseudo_label_weight`` (mean ``w``). The ``active_learning``
    evaluation reports the final round's ``inlier_accuracy``, its mean over rounds, and the
    ``queried_inlier_rate`` / ``pool_inlier_rate`` over all queries.

    Controls: ``acquisition: random``; ``members: 1`` (random queries, pseudo-labels of one
    model); ``outlier_class: false`` (queried outliers are discarded, ``C`` outputs, the
    normaliser is ``log C``; needs ``filter_outliers: false``); ``pseudo_labels: false``.

    Simplified relative to the paper:

    - members start from the run's random initialisation, not from a self-supervised
      pre-trained ResNet-18 (no SSL phase at this scale); the reference's 10 epochs at batch 32
      with Adam 5e-4 are the run's ``epochs``/``batch_size``/``optimizer`` (set them in the
      experiment); the fine-tuning re-draws a permutation of the union of the pool and the
      labeled set tiled to the pool's size, rather than pairing every pool sample with one
      labeled sample in each batch (the same 1:1 ratio in expectation); a tiled labeled sample
      has one keyed augmentation per epoch for all its copies;
    - queries are one batch of ``budget`` per round from the pool as it is after the previous
      round; there is no validation-based model selection;
    - the reference breaks VR ties by ``argsort`` order and lets filtered samples tie with
      VR-0 inliers; here ties prefer samples not predicted as outliers, then go at random.

    Args:
        outlier_classes: the dataset's classes outside the task (at least one; two or more must
            stay inliers), e.g. ``[5, 6, 7, 8, 9]`` for digits 0-4 as inliers.
        outlier_ratio: fraction in [0, 1) of outliers in the pool (0.5 in the card's check).
        members: ensemble size ``E >= 1`` (the paper's 5).
        rounds: query rounds ``>= 1`` (``rounds + 1`` training rounds).
        budget: samples queried per round ``>= 1``; ``rounds * budget`` must fit in the pool.
        acquisition: ``variation_ratio`` or ``random``.
        pseudo_labels: fine-tune on entropy-weighted pseudo-labels of the pool (rounds > 0).
        outlier_class: train with the outlier class ``C``; ``False`` discards queried outliers.
        filter_outliers: queries skip samples the ensemble predicts as outliers (needs
            ``outlier_class``; applied from round 1).
        semi_epochs: epochs ``>= 1`` of the pseudo-label fine-tuning (the paper's 3).
        semi_batch_size: samples ``>= 1`` per fine-tuning step (the paper's 256 pool + 256 labeled).
        augment: transform spec of the training view (labeled and pseudo-labeled), or ``None``.
        num_classes: the dataset's classes (from the run).
    """

    streams = ("labeled", "unlabeled")
    evaluations = ("accuracy", "active_learning")
    spec_fields = {"augment": "transform"}

    def __init__(
        self,
        outlier_classes: Sequence[int],
        outlier_ratio: float = 0.5,
        members: int = 5,
        rounds: int = 5,
        budget: int = 50,
        acquisition: str = "variation_ratio",
        pseudo_labels: bool = True,
        outlier_class: bool = True,
        filter_outliers: bool = True,
        semi_epochs: int = 3,
        semi_batch_size: int = 512,
        augment: Spec | Transform | None = None,
        num_classes: int = 10,
    ) -> None:
        who = "ssal_ensembles"
        classes = list(outlier_classes) if isinstance(outlier_classes, (list, tuple)) else None
        if not classes or not all(_integer(cls, 0) and cls < num_classes for cls in classes) \
                or len(set(classes)) != len(classes):
            raise ConfigError(
                f"{who}: outlier_classes={outlier_classes!r} must list distinct classes of the dataset's 0..{num_classes - 1}, "
                "the classes outside the task (e.g. [5, 6, 7, 8, 9] for digits 0-4 as inliers)"
            )
        if num_classes - len(classes) < 2:
            raise ConfigError(f"{who}: outlier_classes={classes} leaves fewer than 2 inlier classes; name fewer outlier classes")
        if not isinstance(outlier_ratio, (int, float)) or isinstance(outlier_ratio, bool) \
                or not 0.0 <= outlier_ratio < 1.0:
            raise ConfigError(f"{who}: outlier_ratio={outlier_ratio!r} must be a fraction in [0, 1), e.g. 0.5")
        for name, value in (("members", members), ("rounds", rounds), ("budget", budget),
                            ("semi_epochs", semi_epochs), ("semi_batch_size", semi_batch_size)):
            if not _integer(value, 1):
                raise ConfigError(f"{who}: {name}={value!r} must be an integer >= 1")
        if acquisition not in ACQUISITIONS:
            raise ConfigError(f"{who}: acquisition={acquisition!r} is unknown; use one of {', '.join(ACQUISITIONS)}")
        for name, value in (("pseudo_labels", pseudo_labels), ("outlier_class", outlier_class),
                            ("filter_outliers", filter_outliers)):
            if not isinstance(value, bool):
                raise ConfigError(f"{who}: {name}={value!r} must be true or false")
        if filter_outliers and not outlier_class:
            raise ConfigError(
                f"{who}: filter_outliers needs the outlier class to predict outliers; set filter_outliers: false "
                "with outlier_class: false"
            )
        self.outlier_classes = tuple(sorted(classes))
        self.outlier_ratio = float(outlier_ratio)
        self.members = members
        self.rounds = rounds
        self.budget = budget
        self.acquisition = acquisition
        self.pseudo_labels = pseudo_labels
        self.outlier_class = outlier_class
        self.filter_outliers = filter_outliers
        self.semi_epochs = semi_epochs
        self.semi_batch_size = semi_batch_size
        self.augment = build_transform(augment)
        self.num_inliers = num_classes - len(classes)
        self.active_record = ActiveRecord(rounds, budget)

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``train`` phase run by the active-learning protocol (``trainer="active_learning"``)."""
        return [Phase("train", self, self.spec, trainer="active_learning")]

    def prepare_data(self, data: RunData, seed: int) -> RunData:
        """The open-set task of ``data`` (:func:`~augbench.data.open_set.open_set_data`).

        Raises:
            ConfigError: ``rounds * budget`` exceeds the pool (one line naming the fix), or the
                data cannot form the task (no pool, no outlier at a positive ratio, ...).
        """
        task = open_set_data(data, self.outlier_classes, self.outlier_ratio, seed, self.outlier_class)
        pool = len(task.streams["unlabeled"])
        if self.rounds * self.budget > pool:
            raise ConfigError(
                f"ssal_ensembles: rounds x budget = {self.rounds} x {self.budget} = {self.rounds * self.budget} queries "
                f"exceed the pool of {pool} samples (outlier_ratio={self.outlier_ratio}); lower budget or rounds to "
                f"at most {pool} queries in all, or give the pool more data (unlabeled: rest)"
            )
        return task

    def setup(self, ctx: TrainContext) -> None:
        """Register the per-round record (module ``"active_record"``: cached with the phase)."""
        ctx.add_module("active_record", self.active_record, trainable=False)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        """A member's plain step on the labeled stream (what the protocol runs before pseudo-labels)."""
        return self.member_step().training_step(batch, ctx)

    def keyed_views(self) -> list[KeyedView]:
        return self.member_step().keyed_views()

    def members_in_round(self, round_index: int) -> int:
        """Models to train in a round: 1 in round 0 (random query, no pseudo-labels), else ``members``."""
        return 1 if round_index == 0 else self.members

    def member_step(self, weights: Tensor | None = None) -> WeightedStep:
        """The method a member trains with: weighted CE with ``weights`` by sample id (``None``: 1)."""
        return WeightedStep(self.augment, weights)

    def pseudo_label(self, member_logits: Tensor) -> tuple[Tensor, Tensor]:
        """Pseudo-labels ``argmax p_mean`` ``(N,)`` int64 and weights :func:`entropy_weights` of
        ``p_mean`` ``(N,)`` float from the members' logits ``(E, N, K)`` on the pool."""
        probabilities = member_logits.softmax(dim=-1).mean(dim=0)
        return probabilities.argmax(dim=-1), entropy_weights(probabilities)

    def query(self, member_logits: Tensor, round_index: int, generator: torch.Generator) -> Tensor:
        """The pool's positions in query order (the protocol takes the first ``budget``).

        Args:
            member_logits: ``(E, N, K)`` logits of the round's members on the pool.
            round_index: the round (0 queries at random, without the outlier filter).
            generator: draws the random tie-break.
        """
        count = member_logits.shape[1]
        if round_index == 0:
            return query_order(member_logits.new_zeros(count), torch.zeros(count, dtype=torch.bool,
                                                                           device=member_logits.device), generator)
        vr, prediction = variation_ratio(member_logits)
        flagged = prediction == self.num_inliers if self.filter_outliers else torch.zeros_like(prediction, dtype=torch.bool)
        priority = vr.masked_fill(flagged, 0.0) if self.acquisition == "variation_ratio" else torch.zeros_like(vr)
        return query_order(priority, flagged, generator)

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Logits of the ``C`` inlier classes ``(B, C)``: the outlier logit is left out, so the
        class is the argmax over the first ``C`` logits."""
        return model(normalize(inputs))[:, : self.num_inliers]
