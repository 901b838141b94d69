"""Ranking metrics: AUROC of a detector score, Recall@K of cosine retrieval, next-item HR/NDCG.

- :func:`auroc`: the area under the ROC curve as the Mann-Whitney statistic (ties count 1/2),
  computed from integer mid-ranks, for out-of-distribution or misclassification detection.
- :func:`recall_at_k`: the image-retrieval Recall@K of deep metric learning (CUB-200-2011,
  Cars196, SOP; Song et al., "Deep Metric Learning via Lifted Structured Feature Embedding",
  CVPR 2016): a query is a hit at ``k`` if one of its ``k`` nearest gallery items shares its label.
- :func:`map_at_r`: MAP@R of the same retrieval (Musgrave, Belongie and Lim, "A Metric Learning
  Reality Check", ECCV 2020): precision averaged over the first R ranks, R = the query's
  same-label gallery items.
- :func:`target_ranks`, :func:`hit_rate_at_k`, :func:`ndcg_at_k`: next-item recommendation with
  one relevant item per query, ranked among all candidates (no sampled negatives).

Inputs are checked at the boundary and bad ones raise a one-line
:class:`~augbench.errors.InputValueError` / :class:`~augbench.errors.InputTypeError` naming the fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.metrics.representation import (
    _check_features,
    _check_labels,
    _check_pair,
    _check_positive_int,
    _unit_rows,
    _working_dtype,
)

__all__ = ["auroc", "recall_at_k", "map_at_r", "target_ranks", "hit_rate_at_k", "ndcg_at_k"]


def auroc(scores: Tensor, is_positive: Tensor) -> float:
    """Area under the ROC curve of ``scores`` separating positives from negatives.

    The Mann-Whitney form: the probability that a random positive scores above a random
    negative, ties counting one half,

    ``AUROC = (1 / (P * Q)) * sum_{i pos} sum_{j neg} ([s_i > s_j] + [s_i == s_j] / 2)``,

    computed as ``(R_pos - P (P + 1) / 2) / (P Q)`` with ``R_pos`` the sum of the positives'
    mid-ranks (tied scores share the mean of their ranks). Twice every mid-rank is an integer,
    so the numerator and denominator are exact int64 and the result is the correctly rounded
    quotient; it equals ``sklearn.metrics.roc_auc_score`` (the trapezoidal ROC area) up to
    float rounding. ``-0.0`` ties with ``0.0``; ``+-inf`` scores rank like any others.

    Args:
        scores: ``(N,)`` floating, no NaN; larger means "more likely positive".
        is_positive: ``(N,)`` bool; both classes must occur.

    Returns:
        AUROC in [0, 1]; 0.5 is chance (higher is better).

    Raises:
        InputValueError: empty or mismatched inputs, NaN scores, a single class.
        InputTypeError: non-tensor inputs, non-floating scores, non-bool ``is_positive``.

    >>> auroc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([False, False, True, True]))
    0.75
    >>> auroc(torch.tensor([0.5, 0.5, 0.9]), torch.tensor([True, False, True]))  # one tie: (1/2 + 1) / 2
    0.75
    """
    who = "auroc"
    if not isinstance(scores, Tensor) or not isinstance(is_positive, Tensor):
        raise InputTypeError(
            f"{who}: scores and is_positive must be tensors, got {type(scores).__name__} and "
            f"{type(is_positive).__name__}; use torch.as_tensor"
        )
    if scores.ndim != 1 or scores.shape[0] == 0:
        raise InputValueError(f"{who}: scores must be (N,) with N >= 1, got shape {tuple(scores.shape)}")
    if not scores.is_floating_point():
        raise InputTypeError(f"{who}: scores must be floating, got {scores.dtype}; use scores.float()")
    if is_positive.shape != scores.shape:
        raise InputValueError(
            f"{who}: is_positive must have the scores' shape {tuple(scores.shape)}, got {tuple(is_positive.shape)}"
        )
    if is_positive.dtype != torch.bool:
        raise InputTypeError(
            f"{who}: is_positive must be bool, got {is_positive.dtype}; use labels == positive_class"
        )
    if is_positive.device != scores.device:
        raise InputValueError(
            f"{who}: is_positive is on {is_positive.device} but scores on {scores.device}; move both to one device"
        )
    if bool(scores.isnan().any()):
        raise InputValueError(f"{who}: scores contain NaN; drop those samples or fix the detector")
    positives = int(is_positive.sum())
    negatives = scores.shape[0] - positives
    if positives == 0 or negatives == 0:
        raise InputValueError(
            f"{who}: is_positive has {positives} positives and {negatives} negatives; AUROC needs both classes"
        )
    _, group, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    # A tie group of size c ending at 1-based rank e holds ranks e-c+1..e, mean (2e - c + 1) / 2.
    doubled_midrank = 2 * counts.cumsum(0) - counts + 1
    doubled_rank_sum = int(doubled_midrank[group][is_positive].sum())
    return (doubled_rank_sum - positives * (positives + 1)) / (2 * positives * negatives)


def _check_ks(ks: Sequence[int], gallery_size: int, who: str, hint: str) -> tuple[int, ...]:
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Sequence) or len(ks) == 0:
        raise InputValueError(f"{who}: ks={ks!r} must be a non-empty sequence of positive ints, e.g. (1, 2, 4, 8)")
    for k in ks:
        _check_positive_int(k, "each of ks", who, 1)
    if max(ks) > gallery_size:
        raise InputValueError(
            f"{who}: ks={tuple(ks)} asks for {max(ks)} neighbours but the gallery has {gallery_size} candidates "
            f"per query{hint}; pass ks <= {gallery_size}"
        )
    return tuple(ks)


def _similarity_blocks(
    queries: Tensor, gallery: Tensor, chunk: int, self_retrieval: bool
) -> Iterator[tuple[int, Tensor]]:
    """``(start, similarity)`` per block of ``chunk`` query rows: ``(m, N)`` dot products of unit
    rows, a query's own entry ``-inf`` when the gallery is the query set (``self_retrieval``)."""
    for start in range(0, queries.shape[0], chunk):
        similarity = queries[start : start + chunk] @ gallery.T
        if self_retrieval:
            rows = torch.arange(similarity.shape[0], device=similarity.device)
            similarity[rows, start + rows] = float("-inf")
        yield start, similarity


def recall_at_k(
    query_features: Tensor,
    query_labels: Tensor,
    gallery_features: Tensor | None = None,
    gallery_labels: Tensor | None = None,
    *,
    ks: Sequence[int] = (1, 2, 4, 8),
    chunk: int = 1024,
) -> dict[int, float]:
    """Recall@K of cosine retrieval: the fraction of queries with a same-label item in their top K.

    Rows are L2-normalised and ranked by cosine similarity. Without a gallery the queries are
    their own gallery and each query's own row is excluded (the CUB-200-2011 / Cars196 / SOP
    protocol); with one, every gallery row is a candidate. A query is a hit at ``k`` if any of
    its ``k`` most similar candidates has its label:

    ``R@k = (1 / M) sum_q [exists i in top_k(q): y_i = y_q]``.

    A query with no same-label candidate is always a miss. Ties among equal similarities at the
    ``k``-th place are broken by ``torch.topk``. Queries are processed in chunks of ``chunk``
    (memory ``O(chunk * N)``, no loop over samples); features are compared in float32 (float64
    if an input is float64).

    Args:
        query_features: ``(M, D)`` floating, finite; any scale.
        query_labels: ``(M,)`` integer labels (any values; only equality matters).
        gallery_features: ``(N, D)`` floating, finite, on the queries' device; ``None`` to
            retrieve among the queries themselves (then ``N = M - 1`` candidates per query).
        gallery_labels: ``(N,)`` integer labels; given exactly when ``gallery_features`` is.
        ks: the cut-offs ``k``, each in ``[1, N]``.
        chunk: queries per batched similarity product, >= 1.

    Returns:
        ``{k: recall}`` in the order of ``ks``, each in [0, 1] and non-decreasing in ``k``
        (higher is better).

    Raises:
        InputValueError: empty or mismatched inputs, NaN/inf features, only one of the gallery
            pair, a ``k`` above the number of candidates, a non-positive ``chunk``.
        InputTypeError: non-tensor inputs, integer features, floating labels.

    >>> features = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> recall_at_k(features, torch.tensor([0, 1, 1, 0]), ks=(1, 2, 3))
    {1: 0.0, 2: 0.5, 3: 1.0}
    """
    who = "recall_at_k"
    gallery_features, gallery_labels, self_retrieval = _check_retrieval_inputs(
        query_features, query_labels, gallery_features, gallery_labels, who
    )
    if self_retrieval:
        candidates, hint = query_features.shape[0] - 1, " (the queries minus the query itself)"
    else:
        candidates, hint = gallery_features.shape[0], ""
    ks = _check_ks(ks, candidates, who, hint)
    _check_positive_int(chunk, "chunk", who, 1024)

    dtype = _working_dtype(query_features, gallery_features)
    queries = _unit_rows(query_features, dtype)
    gallery = queries if self_retrieval else _unit_rows(gallery_features, dtype)
    deepest = max(ks)
    cutoffs = torch.tensor(ks, device=queries.device)
    hits = torch.zeros(len(ks), dtype=torch.int64, device=queries.device)
    for start, similarity in _similarity_blocks(queries, gallery, chunk, self_retrieval):
        index = similarity.topk(deepest, dim=1).indices  # (m, deepest), most similar first
        match = gallery_labels[index] == query_labels[start : start + chunk, None]
        # 0-based rank of the first same-label neighbour; `deepest` when there is none.
        first = torch.where(match.any(1), match.int().argmax(1), deepest)
        hits += (first[:, None] < cutoffs[None, :]).sum(0)
    total = queries.shape[0]
    return {k: int(count) / total for k, count in zip(ks, hits.tolist())}


def _check_retrieval_inputs(
    query_features: Tensor,
    query_labels: Tensor,
    gallery_features: Tensor | None,
    gallery_labels: Tensor | None,
    who: str,
) -> tuple[Tensor, Tensor, bool]:
    """Check a query set and an optional gallery; return the gallery (the queries when ``None``)."""
    _check_features(query_features, "query_features", who)
    _check_labels(query_labels, query_features.shape[0], "query_labels", who)
    if (gallery_features is None) != (gallery_labels is None):
        raise InputValueError(
            f"{who}: pass both gallery_features and gallery_labels, or neither to search the queries themselves"
        )
    self_retrieval = gallery_features is None or gallery_labels is None
    if gallery_features is None or gallery_labels is None:
        gallery_features, gallery_labels = query_features, query_labels
    else:
        _check_features(gallery_features, "gallery_features", who)
        _check_labels(gallery_labels, gallery_features.shape[0], "gallery_labels", who)
        _check_pair(query_features, gallery_features, "query_features", "gallery_features", who)
    for labels, name in ((query_labels, "query_labels"), (gallery_labels, "gallery_labels")):
        if labels.device != query_features.device:
            raise InputValueError(
                f"{who}: {name} is on {labels.device} but query_features on {query_features.device}; "
                "move all inputs to one device"
            )
    return gallery_features, gallery_labels, self_retrieval


def map_at_r(
    query_features: Tensor,
    query_labels: Tensor,
    gallery_features: Tensor | None = None,
    gallery_labels: Tensor | None = None,
    *,
    chunk: int = 1024,
) -> float:
    """MAP@R of cosine retrieval (Musgrave, Belongie and Lim, ECCV 2020).

    For a query with ``R`` same-label candidates, rank the candidates by cosine similarity
    (rows L2-normalised; for unit rows this is the Euclidean order too) and average the
    precision at every rank ``i <= R`` that holds a same-label item:

    ``AP@R(q) = (1 / R) sum_{i=1}^{R} P(i) [y_(i) = y_q]``, ``P(i)`` = same-label items among
    the first ``i``; ``MAP@R = mean_q AP@R(q)``.

    It rewards putting *all* same-class items first, where Recall@1 only asks for one. Without
    a gallery the queries are their own gallery and each query's own row is excluded (then
    ``R`` = its class's size minus one). Ties among equal similarities are ordered by
    ``torch.topk``. Queries are processed in chunks of ``chunk`` (memory ``O(chunk * N)``);
    features are compared in float32 (float64 if an input is float64).

    Args:
        query_features: ``(M, D)`` floating, finite.
        query_labels: ``(M,)`` integer labels (only equality matters).
        gallery_features: ``(N, D)`` floating, finite, on the queries' device, or ``None``.
        gallery_labels: ``(N,)`` integer labels; given exactly when ``gallery_features`` is.
        chunk: queries per batched similarity product, >= 1.

    Returns:
        MAP@R in [0, 1] (higher is better; 1 when every query's R nearest candidates share its label).

    Raises:
        InputValueError: a query with no same-label candidate (a class with a single sample in
            self-retrieval), empty or mismatched inputs, NaN/inf features, only one of the
            gallery pair, a non-positive ``chunk``.
        InputTypeError: non-tensor inputs, integer features, floating labels.

    >>> features = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> map_at_r(features, torch.tensor([0, 0, 1, 1]))
    1.0
    >>> map_at_r(features, torch.tensor([0, 1, 1, 0]))  # every R = 1 and every first neighbour is wrong
    0.0
    """
    who = "map_at_r"
    gallery_features, gallery_labels, self_retrieval = _check_retrieval_inputs(
        query_features, query_labels, gallery_features, gallery_labels, who
    )
    _check_positive_int(chunk, "chunk", who, 1024)
    values, counts = gallery_labels.unique(sorted=True, return_counts=True)
    slot = torch.searchsorted(values, query_labels).clamp(max=values.shape[0] - 1)
    found = values[slot] == query_labels
    relevant = torch.where(found, counts[slot], 0) - (1 if self_retrieval else 0)  # R per query, (M,)
    if bool((relevant < 1).any()):
        lonely = int(query_labels[(relevant < 1).nonzero()[0, 0]])
        where = "in the queries (self-retrieval)" if self_retrieval else "in the gallery"
        raise InputValueError(
            f"{who}: class {lonely} has no other sample {where}, so its R is 0; MAP@R needs >= 2 samples of every "
            "class: add samples (a larger test split) or drop that class"
        )
    dtype = _working_dtype(query_features, gallery_features)
    queries = _unit_rows(query_features, dtype)
    gallery = queries if self_retrieval else _unit_rows(gallery_features, dtype)
    total = torch.zeros((), dtype=torch.float64, device=queries.device)
    for start, similarity in _similarity_blocks(queries, gallery, chunk, self_retrieval):
        count = relevant[start : start + chunk]
        deepest = int(count.max())
        index = similarity.topk(deepest, dim=1).indices  # (m, deepest), most similar first
        ranks = torch.arange(1, deepest + 1, device=similarity.device)
        hit = (gallery_labels[index] == query_labels[start : start + chunk, None]) & (ranks[None, :] <= count[:, None])
        precision = hit.cumsum(1).double() / ranks.double()
        total += ((precision * hit).sum(1) / count.double()).sum()
    return float(total) / queries.shape[0]


def target_ranks(scores: Tensor, targets: Tensor, excluded: Tensor | None = None) -> Tensor:
    """0-based rank of each query's target among its candidates, by decreasing score.

    Every column of ``scores`` is a candidate except those ``excluded`` (the target itself is
    never excluded). Ties count against the target (``rank = #{candidates other than the target
    scoring >= it}``), so a constant scorer gets the worst rank, never the best.

    Args:
        scores: ``(N, V)`` floating, no NaN: larger means "recommend first".
        targets: ``(N,)`` integer column of each query's relevant item, in ``[0, V)``.
        excluded: optional ``(N, V)`` bool, True where a column is not a candidate (padding and
            reserved ids, items already in the history).

    Returns:
        ``(N,)`` int64 ranks in ``[0, V)``; 0 is the top of the list.

    Raises:
        InputValueError: mismatched shapes, NaN scores, a target outside ``[0, V)``.
        InputTypeError: non-tensor inputs, integer scores, floating targets.

    >>> target_ranks(torch.tensor([[0.1, 0.9, 0.5], [0.3, 0.3, 0.2]]), torch.tensor([2, 0])).tolist()
    [1, 1]
    """
    who = "target_ranks"
    if not isinstance(scores, Tensor) or not isinstance(targets, Tensor):
        raise InputTypeError(f"{who}: scores and targets must be tensors; use torch.as_tensor")
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise InputValueError(
            f"{who}: need (N, V) scores and (N,) targets, got {tuple(scores.shape)} and {tuple(targets.shape)}"
        )
    if not scores.is_floating_point() or targets.is_floating_point() or targets.dtype == torch.bool:
        raise InputTypeError(f"{who}: scores must be floating and targets integer, got {scores.dtype} and {targets.dtype}")
    if excluded is not None and (not isinstance(excluded, Tensor) or excluded.shape != scores.shape or excluded.dtype != torch.bool):
        raise InputValueError(f"{who}: excluded must be a bool tensor shaped like the scores {tuple(scores.shape)}")
    if scores.numel() and bool(scores.isnan().any()):
        raise InputValueError(f"{who}: scores contain NaN; fix the model or drop those queries")
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= scores.shape[1]):
        raise InputValueError(f"{who}: targets must lie in [0, {scores.shape[1]}), got {int(targets.min())}..{int(targets.max())}")
    targets = targets.long().to(scores.device)
    target_scores = scores.gather(1, targets[:, None])
    competing = scores >= target_scores
    if excluded is not None:
        competing &= ~excluded.to(scores.device)
    competing.scatter_(1, targets[:, None], False)
    return competing.sum(1)


def _check_ranks(ranks: Tensor, k: int, who: str) -> None:
    if not isinstance(ranks, Tensor) or ranks.ndim != 1 or ranks.shape[0] == 0 or ranks.is_floating_point():
        raise InputValueError(f"{who}: ranks must be a non-empty (N,) integer tensor (see target_ranks)")
    _check_positive_int(k, "k", who, 10)


def hit_rate_at_k(ranks: Tensor, k: int = 10) -> float:
    """HR@k: the fraction of queries whose target is among the top ``k`` (``rank < k``).

    With one relevant item per query this equals Recall@k.

    >>> hit_rate_at_k(torch.tensor([0, 3, 12, 9]), k=10)
    0.75
    """
    _check_ranks(ranks, k, "hit_rate_at_k")
    return float((ranks < k).double().mean())


def ndcg_at_k(ranks: Tensor, k: int = 10) -> float:
    """NDCG@k with one relevant item per query: the mean of ``1 / log2(rank + 2)`` over queries
    with ``rank < k`` (0 for the others); the ideal DCG is 1.

    >>> round(ndcg_at_k(torch.tensor([0, 1, 10]), k=10), 6)  # (1 + 1 / log2(3) + 0) / 3
    0.543643
    """
    _check_ranks(ranks, k, "ndcg_at_k")
    gains = torch.where(ranks < k, 1.0 / torch.log2(ranks.double() + 2.0), 0.0)
    return float(gains.mean())
