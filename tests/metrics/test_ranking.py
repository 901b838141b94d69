"""AUROC against sklearn and an exact pairwise count; Recall@K against a brute-force numpy search."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.metrics import auroc, recall_at_k


def pairwise_auroc(scores: list[float], is_positive: list[bool]) -> Fraction:
    """Mann-Whitney by definition: count positive-negative pairs, a tie counts one half."""
    positives = [s for s, p in zip(scores, is_positive) if p]
    negatives = [s for s, p in zip(scores, is_positive) if not p]
    wins = sum(Fraction(int(p > n) * 2 + int(p == n), 2) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@pytest.mark.parametrize("levels", [None, 3, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_matches_sklearn_and_pair_count(levels: int | None, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    is_positive = torch.rand(300, generator=generator) < 0.3
    scores = torch.randn(300, generator=generator, dtype=torch.float64) + is_positive.double()
    if levels is not None:  # heavy ties
        scores = torch.round(scores * levels / 4) / levels
    value = auroc(scores, is_positive)
    exact = pairwise_auroc(scores.tolist(), is_positive.tolist())
    assert value == float(exact)  # correctly rounded
    assert value == pytest.approx(roc_auc_score(is_positive.numpy(), scores.numpy()), abs=1e-12)


def test_auroc_edge_cases() -> None:
    assert auroc(torch.tensor([0.0, 1.0]), torch.tensor([False, True])) == 1.0
    assert auroc(torch.tensor([0.0, 1.0]), torch.tensor([True, False])) == 0.0
    assert auroc(torch.full((5,), 0.3), torch.tensor([True, False, True, False, False])) == 0.5
    assert auroc(torch.tensor([-0.0, 0.0]), torch.tensor([True, False])) == 0.5
    assert auroc(torch.tensor([float("-inf"), 2.0, float("inf")]), torch.tensor([False, False, True])) == 1.0
    assert auroc(torch.tensor([0.1, 0.9], dtype=torch.float16), torch.tensor([False, True])) == 1.0


def test_auroc_invariant_to_monotone_transform_and_order() -> None:
    generator = torch.Generator().manual_seed(5)
    scores = torch.randn(200, generator=generator)
    is_positive = torch.rand(200, generator=generator) < 0.5
    permutation = torch.randperm(200, generator=generator)
    value = auroc(scores, is_positive)
    assert auroc(scores[permutation], is_positive[permutation]) == value
    assert auroc(torch.sigmoid(scores) * 5 - 1, is_positive) == value
    assert auroc(-scores, is_positive) == pytest.approx(1 - value, abs=1e-12)


@pytest.mark.parametrize(
    ("scores", "is_positive", "error", "message"),
    [
        (torch.tensor([0.1, 0.2]), torch.tensor([True, True]), InputValueError, "2 positives and 0 negatives"),
        (torch.tensor([0.1, 0.2]), torch.tensor([False, False]), InputValueError, "needs both classes"),
        (torch.tensor([0.1, 0.2]), torch.tensor([True]), InputValueError, "must have the scores' shape"),
        (torch.tensor([]), torch.tensor([], dtype=torch.bool), InputValueError, "N >= 1"),
        (torch.ones(2, 2), torch.ones(2, 2, dtype=torch.bool), InputValueError, r"must be \(N,\)"),
        (torch.tensor([0.1, float("nan")]), torch.tensor([True, False]), InputValueError, "NaN"),
        (torch.tensor([1, 2]), torch.tensor([True, False]), InputTypeError, r"scores.float\(\)"),
        (torch.tensor([0.1, 0.2]), torch.tensor([1, 0]), InputTypeError, "labels == positive_class"),
        (np.array([0.1, 0.2]), torch.tensor([True, False]), InputTypeError, "must be tensors"),
    ],
)
def test_auroc_bad_inputs_raise_one_line(scores, is_positive, error, message) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message) as info:
        auroc(scores, is_positive)
    assert "\n" not in str(info.value)


def brute_force_recall(
    queries: np.ndarray, query_labels: np.ndarray, gallery: np.ndarray | None, gallery_labels: np.ndarray | None, ks
) -> dict[int, float]:
    """One query at a time in float64: full argsort of cosine similarity, own row removed without a gallery."""
    self_retrieval = gallery is None
    if self_retrieval:
        gallery, gallery_labels = queries, query_labels
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    gallery = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    hits = {k: 0 for k in ks}
    for q, (query, label) in enumerate(zip(queries, query_labels)):
        ranked = [i for i in np.argsort(-(gallery @ query), kind="stable") if not (self_retrieval and i == q)]
        for k in ks:
            hits[k] += int(any(gallery_labels[i] == label for i in ranked[:k]))
    return {k: hits[k] / len(queries) for k in ks}


def embedded(samples: int, classes: int, seed: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (samples,), generator=generator)
    centres = torch.randn(classes, 12, generator=generator)
    return centres[labels] + 1.5 * torch.randn(samples, 12, generator=generator), labels


@pytest.mark.parametrize("chunk", [1024, 17])
def test_recall_self_retrieval_matches_brute_force(chunk: int) -> None:
    features, labels = embedded(150, 20, seed=0)
    ks = (1, 2, 4, 8, 32)
    expected = brute_force_recall(features.double().numpy(), labels.numpy(), None, None, ks)
    result = recall_at_k(features, labels, ks=ks, chunk=chunk)
    assert list(result) == list(ks)
    assert result == expected
    assert 0.0 < result[1] < result[8] < 1.0  # non-trivial and increasing


@pytest.mark.parametrize("chunk", [1024, 9])
def test_recall_with_gallery_matches_brute_force(chunk: int) -> None:
    queries, query_labels = embedded(60, 10, seed=1)
    gallery, gallery_labels = embedded(90, 10, seed=1)
    ks = (1, 5, 10)
    expected = brute_force_recall(
        queries.double().numpy(), query_labels.numpy(), gallery.double().numpy(), gallery_labels.numpy(), ks
    )
    assert recall_at_k(queries, query_labels, gallery, gallery_labels, ks=ks, chunk=chunk) == expected


def test_recall_excludes_only_the_own_row() -> None:
    # Rows 0 and 1 are identical, so each is the other's nearest neighbour; row 2 is far away.
    features = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert recall_at_k(features, torch.tensor([4, 4, 7]), ks=(1, 2)) == {1: 2 / 3, 2: 2 / 3}
    # With the queries passed as an explicit gallery, each query finds itself.
    assert recall_at_k(features, torch.tensor([4, 4, 7]), features, torch.tensor([4, 4, 7]), ks=(1,)) == {1: 1.0}


QUERIES = (torch.ones(4, 2), torch.arange(4))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((torch.ones(4, 2), torch.arange(4)), {"ks": (4,)}, InputValueError, "pass ks <= 3"),
        ((*QUERIES, torch.ones(2, 2), torch.arange(2)), {"ks": (3,)}, InputValueError, "ks <= 2"),
        ((*QUERIES, torch.ones(2, 2)), {}, InputValueError, "pass both gallery_features"),
        ((*QUERIES, torch.ones(5, 3), torch.arange(5)), {"ks": (1,)}, InputValueError, "features per row"),
        ((*QUERIES, torch.ones(5, 2), torch.arange(4)), {"ks": (1,)}, InputValueError, "gallery_labels must"),
        ((torch.ones(4, 2), torch.arange(3)), {"ks": (1,)}, InputValueError, "query_labels must have shape"),
        ((torch.ones(0, 2), torch.arange(0)), {"ks": (1,)}, InputValueError, "at least one row"),
        ((torch.ones(4, 2).long(), torch.arange(4)), {"ks": (1,)}, InputTypeError, "must be floating"),
        ((torch.ones(4, 2), torch.arange(4).float()), {"ks": (1,)}, InputTypeError, "integer class indices"),
        ((torch.full((4, 2), float("nan")), torch.arange(4)), {"ks": (1,)}, InputValueError, "NaN or inf"),
        ((torch.ones(4, 2), torch.arange(4)), {"ks": ()}, InputValueError, "non-empty sequence"),
        ((torch.ones(4, 2), torch.arange(4)), {"ks": 2}, InputValueError, "non-empty sequence"),
        ((torch.ones(4, 2), torch.arange(4)), {"ks": (0, 1)}, InputValueError, "each of ks=0"),
        ((torch.ones(4, 2), torch.arange(4)), {"ks": (1,), "chunk": 0}, InputValueError, "chunk=0"),
    ],
)
def test_recall_bad_inputs_raise_one_line(args, kwargs, error, message) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message) as info:
        recall_at_k(*args, **kwargs)
    assert "\n" not in str(info.value)
