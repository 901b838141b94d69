"""Representation evaluations on frozen features: linear probe, kNN, retrieval, OOD AUROC."""

from __future__ import annotations

import torch

from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult, batches, features
from augbench.errors import ConfigError
from augbench.metrics.ranking import auroc as auroc_score
from augbench.metrics.ranking import map_at_r as map_at_r_score
from augbench.metrics.ranking import recall_at_k as recall_at_k_score
from augbench.metrics.representation import knn_accuracy, linear_probe_accuracy

__all__ = ["KNN_K", "KNN_TEMPERATURE", "RECALL_KS"]

KNN_K = 20
KNN_TEMPERATURE = 0.07
RECALL_KS = (1, 2, 4, 8)


def _features(ctx: EvalContext, split: str, evaluation: str) -> torch.Tensor:
    key = f"features/{split}"
    if key not in ctx.cache:
        ctx.cache[key] = features(ctx.model, ctx.split(split, evaluation).inputs, ctx.normalize, ctx.device)
    return ctx.cache[key]


@EVALUATIONS.register("linear_probe")
def linear_probe(ctx: EvalContext) -> EvalResult:
    """``test_linear_probe_accuracy``: a linear layer trained with fixed settings (100 epochs,
    SGD 0.1, cosine) on the frozen, unaugmented features of the labeled stream."""
    train = ctx.split("labeled", "linear_probe")
    result = linear_probe_accuracy(
        _features(ctx, "labeled", "linear_probe"), train.labels.to(ctx.device),
        _features(ctx, "test", "linear_probe"), ctx.split("test", "linear_probe").labels.to(ctx.device),
        num_classes=ctx.data.num_classes, seed=ctx.seed,
    )
    return {"test_linear_probe_accuracy": result.accuracy, "train_linear_probe_accuracy": result.train_accuracy}, {}


@EVALUATIONS.register("knn")
def knn(ctx: EvalContext) -> EvalResult:
    """``test_knn_accuracy``: k=20 cosine neighbours among the labeled stream's features,
    votes weighted by exp(similarity / 0.07) (Wu et al. 2018)."""
    accuracy = knn_accuracy(
        _features(ctx, "labeled", "knn"), ctx.split("labeled", "knn").labels.to(ctx.device),
        _features(ctx, "test", "knn"), ctx.split("test", "knn").labels.to(ctx.device),
        k=KNN_K, temperature=KNN_TEMPERATURE, num_classes=ctx.data.num_classes,
    )
    return {"test_knn_accuracy": accuracy}, {}


@torch.no_grad()
def _embeddings(ctx: EvalContext, split: str, evaluation: str) -> torch.Tensor:
    """``(N, E)`` retrieval embeddings of ``split``: the method's ``embed(model, inputs, normalize)``
    when it has one (a metric-learning method's embedding head), else ``forward_features``."""
    embed = getattr(ctx.method, "embed", None)
    if embed is None:
        return _features(ctx, split, evaluation)
    key = f"embeddings/{split}"
    if key not in ctx.cache:
        inputs = ctx.split(split, evaluation).inputs
        ctx.cache[key] = torch.cat([embed(ctx.model, chunk, ctx.normalize) for chunk in batches(inputs, ctx.device)])
    return ctx.cache[key]


@EVALUATIONS.register("recall_at_k")
def recall_at_k(ctx: EvalContext) -> EvalResult:
    """``test_recall_at_{1,2,4,8}``: each test sample queries the rest of the test split (the
    method's embedding when it has ``embed``, else ``forward_features``)."""
    test = ctx.split("test", "recall_at_k")
    recalls = recall_at_k_score(_embeddings(ctx, "test", "recall_at_k"), test.labels.to(ctx.device), ks=RECALL_KS)
    return {f"test_recall_at_{k}": value for k, value in recalls.items()}, {}


@EVALUATIONS.register("retrieval")
def retrieval(ctx: EvalContext) -> EvalResult:
    """The deep-metric-learning protocol: ``test_recall_at_{1,2,4,8}`` and ``test_map_at_r``.

    Each sample of the test split queries the rest of it by cosine similarity of its
    embedding: the method's ``embed(model, inputs, normalize)`` when it has one (a metric
    method's L2-normalised embedding head), else ``forward_features``. With the data spec's
    ``train_classes``/``test_classes`` the test split holds only classes never trained on. A
    ``val`` split (``val_size``) is scored the same way as ``val_recall_at_*`` and
    ``val_map_at_r``, for choosing settings without the test split.

    Raises:
        ConfigError: a class with fewer than two samples in a scored split (it has nothing to retrieve).
    """
    metrics: dict[str, float] = {}
    for split in ("test", "val"):
        if split == "val" and "val" not in ctx.data.evals:
            continue
        labels = ctx.split(split, "retrieval").labels
        classes, counts = labels.unique(return_counts=True)
        if labels.numel() == 0 or bool((counts < 2).any()):
            lonely = "none" if labels.numel() == 0 else int(classes[counts.argmin()])
            raise ConfigError(
                f"retrieval: class {lonely} has fewer than 2 samples in the {split} split, so it has nothing to "
                f"retrieve; give the {split} split >= 2 samples of every class (a larger {split}_size, fewer classes)"
            )
        embeddings, labels = _embeddings(ctx, split, "retrieval"), labels.to(ctx.device)
        ks = tuple(k for k in RECALL_KS if k < labels.shape[0])
        recalls = recall_at_k_score(embeddings, labels, ks=ks)
        metrics.update({f"{split}_recall_at_{k}": value for k, value in recalls.items()})
        metrics[f"{split}_map_at_r"] = map_at_r_score(embeddings, labels)
    return metrics, {}


@torch.no_grad()
def _anomaly_scores(ctx: EvalContext, split: str) -> torch.Tensor:
    inputs = ctx.split(split, "auroc").inputs
    score = getattr(ctx.method, "anomaly_score", None)
    if score is not None:
        return torch.cat([score(ctx.model, chunk, ctx.normalize) for chunk in batches(inputs, ctx.device)])
    logits = torch.cat([ctx.method.predict(ctx.model, chunk, ctx.normalize) for chunk in batches(inputs, ctx.device)])
    return 1.0 - logits.softmax(1).amax(1)


@EVALUATIONS.register("auroc")
def auroc(ctx: EvalContext) -> EvalResult:
    """``auroc``: how well the anomaly score ranks the target split (outliers) above the test
    split (inliers). The score is the method's ``anomaly_score(model, inputs, normalize)`` when
    it has one, else 1 - max softmax probability (Hendrycks & Gimpel 2017)."""
    inliers, outliers = _anomaly_scores(ctx, "test"), _anomaly_scores(ctx, "target_test")
    scores = torch.cat([inliers, outliers])
    is_outlier = torch.cat([torch.zeros_like(inliers, dtype=torch.bool), torch.ones_like(outliers, dtype=torch.bool)])
    return {"auroc": auroc_score(scores, is_outlier)}, {}


LINEAR_PROBE_NS = (1, 4, 16, 64)
"""Labels per class of the ``linear_probe_n`` evaluation's probes."""

LINEAR_PROBE_N_DRAWS = 5
"""Labeled subsets drawn per ``n``; the reported accuracy is their mean."""


def per_class_subset(labels: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``n`` samples of every class of ``labels``, drawn uniformly without replacement.

    A random permutation, stably sorted by label, ranks each class's samples in random order;
    the first ``n`` of each class are kept (no loop over samples or classes).

    Args:
        labels: ``(N,)`` int64 class indices.
        n: samples per class, >= 1.
        generator: CPU generator of the permutation.

    Returns:
        ``(n * K,)`` int64 indices into ``labels``, grouped by class (``K`` classes present).

    Raises:
        ConfigError: a class with fewer than ``n`` samples.
    """
    classes, counts = labels.unique(return_counts=True)
    if bool((counts < n).any()):
        short = int(counts.argmin())
        raise ConfigError(
            f"linear_probe_n: class {int(classes[short])} has {int(counts[short])} labeled samples, fewer than "
            f"n={n}; use a larger train_size or smaller n (LINEAR_PROBE_NS)"
        )
    permutation = torch.randperm(labels.numel(), generator=generator)
    order = permutation[torch.sort(labels.cpu()[permutation], stable=True).indices]
    ranked = labels.cpu()[order]
    first = torch.searchsorted(ranked, ranked, right=False)  # start of each sample's class block
    rank = torch.arange(ranked.numel()) - first
    return order[rank < n]


@EVALUATIONS.register("linear_probe_n")
def linear_probe_n(ctx: EvalContext) -> EvalResult:
    """``test_linear_probe_accuracy_n{n}`` for n in :data:`LINEAR_PROBE_NS`: the ``linear_probe``
    protocol fitted on ``n`` labeled samples per class only.

    For every ``n``, :data:`LINEAR_PROBE_N_DRAWS` subsets of the labeled stream are drawn with a
    CPU generator seeded by ``(run seed, n, draw)`` (:func:`per_class_subset`); each fits the
    fixed-settings probe on its ``n * K`` frozen, unaugmented features (standardised with the
    subset's own statistics) and is scored on the whole test split; the metric is the mean over
    draws. With a ``val`` split the same probes are scored on it as ``val_linear_probe_accuracy_n{n}``
    (for choosing settings without the test labels). Test labels are read only for scoring.

    An ``n`` larger than the smallest class of the labeled stream (every one of the ``K`` classes
    counts, an absent class has 0) has no metric; the artifact ``linear_probe_n`` lists the
    reported and the skipped ``n`` and that smallest count, so a reader can refuse a missing one.
    """
    train = ctx.split("labeled", "linear_probe_n")
    smallest = int(torch.bincount(train.labels.cpu(), minlength=ctx.data.num_classes).min())
    feasible = [n for n in LINEAR_PROBE_NS if n <= smallest]
    artifact = {"n": feasible, "skipped": [n for n in LINEAR_PROBE_NS if n > smallest], "min_class_count": smallest}
    if not feasible:
        return {}, {"linear_probe_n": artifact}
    train_features = _features(ctx, "labeled", "linear_probe_n")
    scored = {"test": ctx.split("test", "linear_probe_n")}
    if "val" in ctx.data.evals:
        scored["val"] = ctx.data.evals["val"]
    targets = {
        name: (_features(ctx, name, "linear_probe_n"), split.labels.to(ctx.device)) for name, split in scored.items()
    }
    metrics: dict[str, float] = {}
    for n in feasible:
        totals = dict.fromkeys(scored, 0.0)
        for draw in range(LINEAR_PROBE_N_DRAWS):
            generator = torch.Generator().manual_seed((ctx.seed * 1_000_003 + n) * 101 + draw)
            index = per_class_subset(train.labels, n, generator)
            subset, labels = train_features[index.to(train_features.device)], train.labels[index].to(ctx.device)
            for name, (split_features, split_labels) in targets.items():
                totals[name] += linear_probe_accuracy(
                    subset, labels, split_features, split_labels, num_classes=ctx.data.num_classes, seed=ctx.seed
                ).accuracy
        metrics.update(
            {f"{name}_linear_probe_accuracy_n{n}": total / LINEAR_PROBE_N_DRAWS for name, total in totals.items()}
        )
    return metrics, {"linear_probe_n": artifact}
