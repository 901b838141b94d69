"""Accuracy, NLL and ECE against independent references (sklearn, a loop-based numpy ECE) and bin edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, log_loss
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.metrics import (
    CalibrationBins,
    ClassificationMetrics,
    accuracy,
    calibration_bins,
    expected_calibration_error,
    nll,
    reliability_diagram,
)


def reference_bins(confidences: np.ndarray, correct: np.ndarray, num_bins: int) -> list[list[tuple[float, bool]]]:
    """Sort samples into bins one by one: bin m holds (m/M, (m+1)/M], bin 0 also holds 0."""
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(num_bins)]
    for confidence, hit in zip(confidences.tolist(), correct.tolist()):
        for m in range(num_bins):
            low, high = m / num_bins, (m + 1) / num_bins
            if low < confidence <= high or (m == 0 and confidence == 0.0):
                bins[m].append((confidence, bool(hit)))
                break
        else:
            raise AssertionError(f"confidence {confidence} fell in no bin")
    return bins


def reference_ece(logits: Tensor, labels: Tensor, num_bins: int) -> float:
    """ECE = sum_m |B_m| / n * |mean accuracy - mean confidence| with explicit per-bin lists."""
    probabilities = np.exp(logits.double().numpy())
    probabilities /= probabilities.sum(1, keepdims=True)
    confidences = probabilities.max(1)
    correct = probabilities.argmax(1) == labels.numpy()
    total = 0.0
    for members in reference_bins(confidences, correct, num_bins):
        if members:
            mean_confidence = sum(c for c, _ in members) / len(members)
            mean_accuracy = sum(hit for _, hit in members) / len(members)
            total += len(members) / len(confidences) * abs(mean_accuracy - mean_confidence)
    return total


def random_problem(samples: int, classes: int, scale: float, seed: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(samples, classes, generator=generator, dtype=torch.float64) * scale
    labels = torch.randint(0, classes, (samples,), generator=generator)
    return logits, labels


@pytest.mark.parametrize(
    ("samples", "classes", "scale", "num_bins"),
    [(1, 2, 1.0, 15), (7, 3, 2.0, 15), (500, 10, 3.0, 15), (500, 2, 0.5, 15), (300, 5, 4.0, 10), (200, 4, 2.0, 1)],
)
def test_ece_matches_loop_reference(samples: int, classes: int, scale: float, num_bins: int) -> None:
    logits, labels = random_problem(samples, classes, scale, seed=samples + classes)
    expected = reference_ece(logits, labels, num_bins)
    assert float(expected_calibration_error(logits, labels, num_bins)) == pytest.approx(expected, abs=1e-12)
    single = float(expected_calibration_error(logits.float(), labels, num_bins))
    assert single == pytest.approx(expected, abs=1e-5)


def test_reliability_diagram_matches_reference() -> None:
    logits, labels = random_problem(400, 6, 2.5, seed=3)
    diagram = reliability_diagram(logits, labels)
    probabilities = logits.softmax(1)
    members = reference_bins(probabilities.max(1).values.numpy(), (probabilities.argmax(1) == labels).numpy(), 15)
    assert diagram.edges.shape == (16,) and diagram.edges[0] == 0 and diagram.edges[-1] == 1
    assert diagram.count.tolist() == [len(m) for m in members]
    assert int(diagram.count.sum()) == 400
    for m, bin_members in enumerate(members):
        if bin_members:
            assert float(diagram.confidence[m]) == pytest.approx(np.mean([c for c, _ in bin_members]), abs=1e-12)
            assert float(diagram.accuracy[m]) == pytest.approx(np.mean([h for _, h in bin_members]), abs=1e-12)
        else:
            assert math.isnan(diagram.confidence[m]) and math.isnan(diagram.accuracy[m])


def test_bin_edges_are_left_open_and_zero_and_one_stay_inside() -> None:
    confidences = torch.tensor([0.0, 0.1, 0.25, 0.2500001, 0.5, 0.75, 0.99, 1.0], dtype=torch.float64)
    bins = calibration_bins(confidences, torch.ones(8, dtype=torch.bool), num_bins=4)
    # (0, .25] gets 0 (first bin), .1 and .25; (.25, .5] gets .2500001 and .5; (.5, .75] gets .75; (.75, 1] the rest
    assert bins.count.tolist() == [3.0, 2.0, 1.0, 2.0]
    assert bins.confidence_sum.tolist() == pytest.approx([0.35, 0.7500001, 0.75, 1.99])


def test_confidence_exactly_one_goes_to_the_last_of_15_bins() -> None:
    logits = torch.tensor([[200.0, 0.0], [0.0, 200.0]])  # softmax saturates to exactly 1.0 in float32
    assert logits.softmax(1).max(1).values.tolist() == [1.0, 1.0]
    diagram = reliability_diagram(logits, torch.tensor([0, 0]))
    assert diagram.count.tolist() == [0] * 14 + [2]
    assert float(diagram.accuracy[-1]) == 0.5
    # one right and one wrong at confidence 1: |1 - 1| + |0 - 1| over 2 samples
    assert float(expected_calibration_error(logits, torch.tensor([0, 0]))) == 0.5


def test_confidence_zero_goes_to_the_first_bin() -> None:
    bins = calibration_bins(torch.tensor([0.0, 0.0, 1.0]), torch.tensor([True, False, True]))
    assert bins.count[0] == 2 and bins.count[-1] == 1 and bins.count.sum() == 3
    assert float(bins.ece()) == pytest.approx(1 / 3)


def test_ece_extremes() -> None:
    labels = torch.tensor([0, 1, 0, 1])
    uniform = torch.zeros(4, 2)  # confidence 0.5 everywhere, argmax 0: half right -> calibrated
    assert float(expected_calibration_error(uniform, labels)) == pytest.approx(0.0)
    confident_wrong = torch.tensor([[0.0, 50.0], [50.0, 0.0], [0.0, 50.0], [50.0, 0.0]])
    assert float(expected_calibration_error(confident_wrong, labels)) == pytest.approx(1.0)


def test_accuracy_and_nll_match_sklearn() -> None:
    logits, labels = random_problem(300, 7, 2.0, seed=11)
    assert float(accuracy(logits, labels)) == pytest.approx(accuracy_score(labels.numpy(), logits.argmax(1).numpy()))
    probabilities = logits.softmax(1).numpy()
    expected = log_loss(labels.numpy(), probabilities, labels=list(range(7)))
    assert float(nll(logits, labels)) == pytest.approx(expected, rel=1e-9)


def test_streaming_equals_one_shot() -> None:
    logits, labels = random_problem(257, 5, 2.0, seed=5)
    metrics = ClassificationMetrics()
    for chunk_logits, chunk_labels in zip(logits.float().split(64), labels.split(64)):
        metrics.update(chunk_logits, chunk_labels)
    result = metrics.compute()
    assert result["accuracy"] == pytest.approx(float(accuracy(logits, labels)))
    assert result["nll"] == pytest.approx(float(nll(logits, labels)), rel=1e-6)
    assert result["ece"] == pytest.approx(reference_ece(logits.float().double(), labels, 15), abs=1e-6)
    diagram = metrics.reliability_diagram()
    assert torch.equal(diagram.count, reliability_diagram(logits.float(), labels).count)
    assert ClassificationMetrics.higher_is_better == {"accuracy": True, "nll": False, "ece": False}
    metrics.reset()
    with pytest.raises(InputValueError, match="no batch"):
        metrics.compute()


def test_state_does_not_grow_with_samples() -> None:
    metrics = ClassificationMetrics(num_bins=15)
    for seed in range(3):
        metrics.update(*random_problem(1000, 3, 1.0, seed))
    tensors = [value for value in vars(metrics).values() if isinstance(value, Tensor)]
    for value in vars(metrics).values():
        if isinstance(value, CalibrationBins):
            tensors += [value.count, value.confidence_sum, value.correct_sum]
    assert len(tensors) == 5 and all(tensor.numel() <= 15 for tensor in tensors)
    assert not any(isinstance(value, (list, dict)) for value in vars(metrics).values())


@pytest.mark.parametrize(
    ("logits", "labels", "error", "match"),
    [
        (torch.zeros(3), torch.zeros(3, dtype=torch.long), InputValueError, r"\(N, K\)"),
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), InputValueError, "N >= 1"),
        (torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), InputValueError, "labels must have shape"),
        (torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.long), InputValueError, "one-hot"),
        (torch.zeros(3, 2), torch.zeros(3), InputTypeError, "integer class indices"),
        (torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, dtype=torch.long), InputTypeError, "floating"),
    ],
)
def test_bad_inputs_raise(logits: Tensor, labels: Tensor, error: type[Exception], match: str) -> None:
    for function in (accuracy, nll, expected_calibration_error, reliability_diagram):
        with pytest.raises(error, match=match):
            function(logits, labels)


def test_bad_bins_and_confidences_raise() -> None:
    with pytest.raises(InputValueError, match="num_bins"):
        expected_calibration_error(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), num_bins=0)
    with pytest.raises(InputValueError, match=r"\[0, 1\]"):
        calibration_bins(torch.tensor([0.5, 1.5]), torch.tensor([True, False]))
    with pytest.raises(InputValueError, match=r"\[0, 1\]"):
        calibration_bins(torch.tensor([float("nan")]), torch.tensor([True]))
    with pytest.raises(InputValueError, match="shape"):
        calibration_bins(torch.tensor([0.5, 0.5]), torch.tensor([True]))
