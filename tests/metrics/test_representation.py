"""Weighted kNN and the linear probe against sklearn, a loop-based numpy kNN and hand examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.metrics import ProbeResult, knn_accuracy, linear_probe_accuracy


def clustered(samples: int, classes: int, dim: int, spread: float, seed: int) -> tuple[Tensor, Tensor]:
    """Gaussian clusters around random centres: ``(samples, dim)`` float32 and ``(samples,)`` int64 labels."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=generator)
    labels = torch.randint(0, classes, (samples,), generator=generator)
    features = centres[labels] + spread * torch.randn(samples, dim, generator=generator)
    return features, labels


def reference_weighted_knn(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, k: int, temperature: float, classes: int
) -> np.ndarray:
    """InstDisc kNN one query at a time in float64: cosine, top-k, sum exp(s / T) per class, argmax."""
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    predictions = []
    for query in test:
        similarity = train @ (query / np.linalg.norm(query))
        nearest = np.argsort(-similarity, kind="stable")[:k]
        votes = np.zeros(classes)
        for i in nearest:
            votes[train_labels[i]] += math.exp(similarity[i] / temperature)
        predictions.append(int(np.argmax(votes)))
    return np.array(predictions)


@pytest.fixture(scope="module")
def problem() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    features, labels = clustered(500, 5, 16, spread=1.2, seed=0)
    return features[:400], labels[:400], features[400:], labels[400:]


def test_k1_equals_sklearn_cosine_1nn(problem: tuple[Tensor, Tensor, Tensor, Tensor]) -> None:
    train, train_labels, test, test_labels = problem
    sklearn_knn = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
    expected = sklearn_knn.fit(train.numpy(), train_labels.numpy()).score(test.numpy(), test_labels.numpy())
    assert 0.3 < expected < 1.0  # a non-trivial problem
    for temperature in (0.07, 1.0):
        assert knn_accuracy(train, train_labels, test, test_labels, k=1, temperature=temperature) == expected


def test_high_temperature_is_sklearn_majority_vote() -> None:
    # Binary labels and odd k: no vote ties, so weights exp((s - s_max) / T) in [0.998, 1] decide like counts.
    features, labels = clustered(300, 2, 8, spread=2.0, seed=1)
    train, train_labels, test, test_labels = features[:200], labels[:200], features[200:], labels[200:]
    for k in (3, 5, 9):
        sklearn_knn = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
        expected = sklearn_knn.fit(train.numpy(), train_labels.numpy()).score(test.numpy(), test_labels.numpy())
        assert knn_accuracy(train, train_labels, test, test_labels, k=k, temperature=1e3) == expected


@pytest.mark.parametrize(("k", "temperature"), [(5, 0.07), (20, 0.07), (20, 0.5), (200, 0.1)])
def test_matches_loop_reference(problem: tuple[Tensor, Tensor, Tensor, Tensor], k: int, temperature: float) -> None:
    train, train_labels, test, test_labels = problem
    predictions = reference_weighted_knn(
        train.double().numpy(), train_labels.numpy(), test.double().numpy(), k, temperature, 5
    )
    expected = float(np.mean(predictions == test_labels.numpy()))
    assert knn_accuracy(train, train_labels, test, test_labels, k=k, temperature=temperature) == expected


def test_hand_computed_weighting() -> None:
    # Query at angle 0; train rows with cosine 1 (class 0), 0.8 and 0.6 (class 1).
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]])
    train_labels = torch.tensor([0, 1, 1])
    test, test_labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    # T = 0.1: e^10 = 22026 vs e^8 + e^6 = 3384 -> class 0. T = 1: e^1 = 2.72 vs e^0.8 + e^0.6 = 4.05 -> class 1.
    assert math.exp(10) > math.exp(8) + math.exp(6) and math.exp(1) < math.exp(0.8) + math.exp(0.6)
    assert knn_accuracy(train, train_labels, test, test_labels, k=3, temperature=0.1) == 1.0
    assert knn_accuracy(train, train_labels, test, test_labels, k=3, temperature=1.0) == 0.0
    # k = 2 drops the 0.6 row: e^1 vs e^0.8 -> class 0 at any temperature.
    assert knn_accuracy(train, train_labels, test, test_labels, k=2, temperature=1.0) == 1.0


def test_small_temperature_does_not_overflow() -> None:
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]])
    train_labels = torch.tensor([0, 1, 1])
    # exp(1 / 0.001) overflows float32 and float64 without the max shift.
    test, test_labels = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    assert knn_accuracy(train, train_labels, test, test_labels, k=3, temperature=1e-3) == 1.0


def test_k_above_n_is_clipped_and_chunks_agree(problem: tuple[Tensor, Tensor, Tensor, Tensor]) -> None:
    train, train_labels, test, test_labels = problem[0][:30], problem[1][:30], problem[2], problem[3]
    clipped = knn_accuracy(train, train_labels, test, test_labels, k=1000)
    assert clipped == knn_accuracy(train, train_labels, test, test_labels, k=30)
    full = knn_accuracy(*problem)
    assert full == knn_accuracy(*problem, chunk=7) == knn_accuracy(*problem, chunk=1)


def test_scale_invariant_and_float64(problem: tuple[Tensor, Tensor, Tensor, Tensor]) -> None:
    train, train_labels, test, test_labels = problem
    expected = knn_accuracy(train, train_labels, test, test_labels)
    assert knn_accuracy(train * 7.0, train_labels, test * 0.01, test_labels) == expected
    assert knn_accuracy(train.double(), train_labels, test.double(), test_labels) == expected
    assert knn_accuracy(train.half(), train_labels.int(), test, test_labels) == expected


def test_num_classes_and_class_ties() -> None:
    train = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    test = torch.tensor([[1.0, 0.0]])
    # One vote each for classes 2 and 1: the smaller index wins.
    assert knn_accuracy(train, torch.tensor([2, 1]), test, torch.tensor([1]), k=2, num_classes=10) == 1.0
    with pytest.raises(InputValueError, match="num_classes >= 3"):
        knn_accuracy(train, torch.tensor([2, 1]), test, torch.tensor([1]), num_classes=2)


def test_digits_pixels_beat_chance(digits_split: tuple[Tensor, Tensor, Tensor, Tensor]) -> None:
    train, train_labels, test, test_labels = digits_split
    score = knn_accuracy(train.flatten(1).float(), train_labels, test.flatten(1).float(), test_labels, k=20)
    assert score > 0.9  # kNN on raw digits pixels is ~97%


def test_probe_separable_toy_is_perfect() -> None:
    generator = torch.Generator().manual_seed(3)
    centres = torch.tensor([[6.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 6.0]])
    labels = torch.arange(3).repeat(40)
    features = centres[labels] + 0.5 * torch.randn(120, 3, generator=generator)
    for batch_size in (256, 16):
        result = linear_probe_accuracy(
            features[:90], labels[:90], features[90:], labels[90:], epochs=20, batch_size=batch_size
        )
        assert result == ProbeResult(accuracy=1.0, train_accuracy=1.0)


def test_probe_is_deterministic(problem: tuple[Tensor, Tensor, Tensor, Tensor]) -> None:
    runs = [linear_probe_accuracy(*problem, epochs=5, batch_size=32, seed=seed) for seed in (0, 0, 1)]
    assert runs[0] == runs[1]
    assert isinstance(runs[0].accuracy, float) and 0.0 <= runs[0].accuracy <= 1.0
    with pytest.raises(AttributeError):
        runs[0].accuracy = 1.0  # type: ignore[misc]


def test_probe_close_to_sklearn_logistic_regression(digits_split: tuple[Tensor, Tensor, Tensor, Tensor]) -> None:
    images, train_labels, test_images, test_labels = digits_split
    train, test = images.flatten(1).float(), test_images.flatten(1).float()
    scaler = StandardScaler().fit(train.numpy())
    sklearn_probe = LogisticRegression(max_iter=2000).fit(scaler.transform(train.numpy()), train_labels.numpy())
    expected = sklearn_probe.score(scaler.transform(test.numpy()), test_labels.numpy())
    result = linear_probe_accuracy(train, train_labels, test, test_labels)  # the default protocol
    assert abs(result.accuracy - expected) <= 0.03
    assert result.train_accuracy >= result.accuracy - 0.01


def test_probe_under_inference_mode_and_constant_feature() -> None:
    features = torch.tensor([[0.0, 1.0], [1.0, 1.0], [0.1, 1.0], [0.9, 1.0]])  # second feature constant
    labels = torch.tensor([0, 1, 0, 1])
    with torch.inference_mode():
        result = linear_probe_accuracy(features, labels, features, labels, epochs=20)
    assert result == ProbeResult(accuracy=1.0, train_accuracy=1.0)


FEATURES = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
LABELS = torch.tensor([0, 1, 0, 1, 2, 2])
BAD_INPUTS = [
    ((FEATURES, LABELS[:5], FEATURES, LABELS), {}, InputValueError, "train_labels must have shape"),
    ((FEATURES, LABELS, FEATURES[:, :2], LABELS), {}, InputValueError, "3 features per row"),
    ((FEATURES, LABELS, FEATURES[:0], LABELS[:0]), {}, InputValueError, "at least one row"),
    ((FEATURES[0], LABELS, FEATURES, LABELS), {}, InputValueError, r"must be \(rows, D\)"),
    ((FEATURES.long(), LABELS, FEATURES, LABELS), {}, InputTypeError, "must be floating"),
    ((FEATURES, LABELS.float(), FEATURES, LABELS), {}, InputTypeError, r"use train_labels.long\(\)"),
    ((FEATURES, LABELS == 1, FEATURES, LABELS), {}, InputTypeError, "integer class indices"),
    ((FEATURES.numpy(), LABELS, FEATURES, LABELS), {}, InputTypeError, "must be a tensor"),
    ((FEATURES, LABELS, torch.full((6, 3), float("nan")), LABELS), {}, InputValueError, "NaN or inf"),
    ((FEATURES, LABELS - 1, FEATURES, LABELS), {}, InputValueError, ">= 0"),
    ((FEATURES, LABELS, FEATURES, LABELS), {"num_classes": 0}, InputValueError, "num_classes=0"),
]


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), BAD_INPUTS)
@pytest.mark.parametrize("metric", [knn_accuracy, linear_probe_accuracy])
def test_bad_inputs_raise_one_line(metric, args, kwargs, error, message) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message) as info:
        metric(*args, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("metric", "kwargs", "message"),
    [
        (knn_accuracy, {"k": 0}, "k=0"),
        (knn_accuracy, {"k": True}, "k=True"),
        (knn_accuracy, {"temperature": 0.0}, "temperature=0.0"),
        (knn_accuracy, {"temperature": float("nan")}, "temperature=nan"),
        (knn_accuracy, {"chunk": 0}, "chunk=0"),
        (linear_probe_accuracy, {"epochs": 0}, "epochs=0"),
        (linear_probe_accuracy, {"lr": -0.1}, "lr=-0.1"),
        (linear_probe_accuracy, {"weight_decay": -1.0}, "weight_decay=-1.0"),
        (linear_probe_accuracy, {"weight_decay": float("inf")}, "weight_decay=inf"),
        (linear_probe_accuracy, {"batch_size": 0}, "batch_size=0"),
    ],
)
def test_bad_settings_raise_one_line(metric, kwargs: dict, message: str) -> None:  # noqa: ANN001
    with pytest.raises(InputValueError, match=message) as info:
        metric(FEATURES, LABELS, FEATURES, LABELS, **kwargs)
    assert "\n" not in str(info.value)


def test_probe_rejects_non_int_seed() -> None:
    with pytest.raises(InputTypeError, match="seed must be an int"):
        linear_probe_accuracy(FEATURES, LABELS, FEATURES, LABELS, seed=0.5)  # type: ignore[arg-type]
