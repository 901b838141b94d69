"""The active-learning protocol: rounds of training an ensemble, pseudo-labelling and querying a pool.

A phase whose ``trainer`` is ``"active_learning"`` is trained by :func:`fit_active` instead of
the step loop's :func:`~augbench.train.loop.fit` (same signature). Its data is an open-set task
(:func:`augbench.data.open_set.open_set_data`): the ``labeled`` stream is the initial labeled
set, the ``unlabeled`` stream the pool, whose labels are the oracle's answers and are read only
for a queried sample (and for logging). Each member's training is one call of
:func:`~augbench.train.loop.fit` on the round's labeled set, so step timing, augmentation
timing and keyed draws work as in any phase. The method (an :class:`ActiveLearner`, e.g.
``ssal_ensembles``) decides how members train, pseudo-label and query.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import torch
from torch import Tensor, nn

from augbench.data.streams import RunData, Split
from augbench.methods.base import Method
from augbench.modalities import get_modality
from augbench.train.context import TrainContext
from augbench.train.loop import EpochCallback, PhaseOutcome, PhaseSettings, fit, make_context

__all__ = ["ActiveLearner", "fit_active", "member_logits", "member_seed"]

_EVAL_BATCH = 1000
_QUERY_SEED_OFFSET = 13
_COST_METRICS = ("train_time_s", "step_time_s", "augmentation_time_s", "train_samples")


class ActiveLearner(Protocol):
    """What :func:`fit_active` reads from the phase's method (``ssal_ensembles`` implements it)."""

    rounds: int
    budget: int
    outlier_class: bool
    pseudo_labels: bool
    semi_epochs: int
    semi_batch_size: int
    num_inliers: int

    @property
    def active_record(self) -> nn.Module: ...

    def members_in_round(self, round_index: int) -> int: ...

    def member_step(self, weights: Tensor | None = None) -> Method: ...

    def pseudo_label(self, member_logits: Tensor) -> tuple[Tensor, Tensor]: ...

    def query(self, member_logits: Tensor, round_index: int, generator: torch.Generator) -> Tensor: ...

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor: ...


def member_seed(seed: int, round_index: int, member: int, members: int) -> int:
    """The seed of one member's training in one round: distinct for every (run seed, round,
    member) and spaced so that the step loop's derived generators (``seed + 1 .. seed + 6``)
    never coincide."""
    return seed * 1_000_003 + 17 * (round_index * members + member + 1)


@torch.no_grad()
def member_logits(models: list[nn.Module], split: Split, modality: str, normalize: Callable[[Tensor], Tensor],
                  device: torch.device) -> Tensor:
    """``(E, N, K)`` logits of every model (in eval mode) on every sample of ``split``."""
    collate = get_modality(modality).collate
    outputs = []
    for model in models:
        model.eval()
        outputs.append(torch.cat([
            model(normalize(collate(split.inputs, index).to(device)))
            for index in torch.arange(len(split)).split(_EVAL_BATCH)
        ]))
    return torch.stack(outputs)


@torch.no_grad()
def _accuracy(learner: ActiveLearner, model: nn.Module, split: Split, modality: str,
              normalize: Callable[[Tensor], Tensor], device: torch.device) -> float:
    """Share of ``split`` whose argmax of ``learner.predict`` (the inlier logits) is the label."""
    model.eval()
    collate = get_modality(modality).collate
    correct = sum(
        int((learner.predict(model, collate(split.inputs, index).to(device), normalize).argmax(dim=1)
             == split.labels[index].to(device)).sum())
        for index in torch.arange(len(split)).split(_EVAL_BATCH)
    )
    return correct / max(1, len(split))


def _concat(first: Split, second: Split) -> Split:
    return Split(torch.cat([first.inputs, second.inputs]), torch.cat([first.labels, second.labels]),
                 torch.cat([first.ids, second.ids]), first.pool_size)


def _subset(split: Split, index: Tensor, modality: str) -> Split:
    return Split(get_modality(modality).collate(split.inputs, index), split.labels[index], split.ids[index],
                 split.pool_size)


def _tiled(split: Split, count: int, modality: str) -> Split:
    """``split`` repeated to ``count`` samples (``count >= 1``)."""
    return _subset(split, torch.arange(count) % len(split), modality)


def _train_member(step: Method, split: Split, model: nn.Module, plan: PhaseSettings, seed: int, data: RunData,
                  ctx: TrainContext, cost: dict[str, float]) -> nn.Module:
    """Train ``model`` in place with ``step`` on ``split`` as the labeled stream; add its cost figures to ``cost``."""
    member_data = replace(data, streams={"labeled": split})
    member_ctx = make_context(step, model, member_data, plan, seed=seed, device=ctx.device, normalize=ctx.normalize,
                              models=ctx.models)
    outcome = fit(step, member_ctx, member_data, plan, seed=seed)
    for name in _COST_METRICS:
        cost[name] += outcome.metrics[name]
    return model


def fit_active(
    method: Method,
    ctx: TrainContext,
    data: RunData,
    settings: PhaseSettings,
    *,
    seed: int,
    on_epoch: EpochCallback | None = None,
) -> PhaseOutcome:
    """Run the rounds of an active-learning method on ``data``'s open-set task.

    ``ctx.model`` holds the run's seeded initialisation; every member of every round starts from
    a copy of those weights. Round ``r``: train ``method.members_in_round(r)`` members with
    ``method.member_step()`` on the labeled set (``settings``); for ``r > 0`` with pseudo-labels,
    fine-tune each on the labeled set plus the pseudo-labeled pool (``method.pseudo_label``),
    ``semi_epochs`` at ``semi_batch_size``; evaluate member 0 on the test split with
    ``method.predict``; then (``r < rounds``) query the first ``budget`` samples of
    ``method.query``: they leave the pool, and join the labeled set with the oracle's label (a
    queried outlier only with ``outlier_class``). At the end ``ctx.model`` holds the last
    round's member 0 (what the run's evaluations judge).

    Returns:
        Per-round curves (epoch = round), written to ``method.active_record`` as well, and the
        phase's cost figures summed over all member trainings.
    """
    learner: ActiveLearner = method  # type: ignore[assignment]
    record = learner.active_record
    modality, device, normalize = data.modality, ctx.device, ctx.normalize
    labeled, pool, test = data.streams["labeled"], data.streams["unlabeled"], data.evals["test"]
    outlier = learner.num_inliers
    initial = copy.deepcopy(ctx.model.state_dict())
    semi = replace(settings, epochs=learner.semi_epochs, batch_size=learner.semi_batch_size)
    curves: list[tuple[int, str, float]] = []
    cost = dict.fromkeys(_COST_METRICS, 0.0)

    for round_index in range(learner.rounds + 1):
        count = learner.members_in_round(round_index)
        seeds = [member_seed(seed, round_index, member, learner.members) for member in range(count)]
        members = []
        for member in range(count):
            model = copy.deepcopy(ctx.model)
            model.load_state_dict(initial)
            members.append(_train_member(learner.member_step(), labeled, model, settings, seeds[member], data, ctx, cost))
        curves.append((round_index, "labeled_size", float(len(labeled))))
        if round_index > 0 and learner.pseudo_labels:
            targets, weights = learner.pseudo_label(member_logits(members, pool, modality, normalize, device))
            targets, weights = targets.cpu(), weights.cpu()
            table = torch.zeros(pool.pool_size)
            table[pool.ids] = weights
            table[labeled.ids] = 1.0
            union = _concat(replace(pool, labels=targets), _tiled(labeled, len(pool), modality))
            step = learner.member_step(table)
            members = [_train_member(step, union, model, semi, each + 7, data, ctx, cost)  # +7: its own batch order
                       for model, each in zip(members, seeds)]
            curves.append((round_index, "pseudo_label_accuracy", float((targets == pool.labels).double().mean())))
            curves.append((round_index, "pseudo_label_weight", float(weights.double().mean())))
        accuracy = _accuracy(learner, members[0], test, modality, normalize, device)
        record.write("inlier_accuracy", round_index, accuracy)
        curves.append((round_index, "inlier_accuracy", accuracy))
        if round_index < learner.rounds:
            generator = torch.Generator().manual_seed(seed * 1_000_003 + _QUERY_SEED_OFFSET + round_index)
            order = learner.query(member_logits(members, pool, modality, normalize, device), round_index, generator)
            chosen = order[: learner.budget].cpu()
            kept = torch.ones(len(pool), dtype=torch.bool)
            kept[chosen] = False
            is_inlier = pool.labels < outlier
            rates = {"pool_inlier_rate": float(is_inlier.double().mean()),
                     "queried_inlier_rate": float(is_inlier[chosen].double().mean())}
            for name, value in rates.items():
                record.write(name, round_index, value)
                curves.append((round_index, name, value))
            record.write("queried_ids", round_index, pool.ids[chosen])
            joined = chosen if learner.outlier_class else chosen[is_inlier[chosen]]
            labeled = _concat(labeled, _subset(pool, joined, modality))
            pool = _subset(pool, kept.nonzero().squeeze(1), modality)
        if on_epoch is not None:
            on_epoch(round_index)
    ctx.model.load_state_dict(members[0].state_dict())
    return PhaseOutcome(ctx, curves, cost)
