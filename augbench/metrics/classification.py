"""Classification metrics: top-1 accuracy, negative log-likelihood and calibration (ECE).

A functional core plus one streaming wrapper, in the torchmetrics pattern: each public
function validates its inputs and composes a private ``_update`` (per-batch sufficient
statistics) with a ``_compute``; :class:`ClassificationMetrics` keeps the same statistics
across batches. Calibration uses fixed-size binned sums (count, summed confidence and summed
correctness per bin), so memory does not grow with the number of samples.

Binning (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): ``M``
equal-width bins, bin ``m`` (0-based) holding confidences in ``(m / M, (m + 1) / M]``,
compared in float64. The first bin also takes confidence exactly 0 and the last holds
confidence exactly 1.0, so no sample falls outside the ``M`` bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = [
    "DEFAULT_BINS",
    "CalibrationBins",
    "ReliabilityDiagram",
    "ClassificationMetrics",
    "accuracy",
    "nll",
    "calibration_bins",
    "expected_calibration_error",
    "reliability_diagram",
]

DEFAULT_BINS = 15


@dataclass(frozen=True)
class CalibrationBins:
    """Binned sufficient statistics of calibration, each ``(M,)`` float64.

    Attributes:
        count: samples per bin.
        confidence_sum: sum of the confidences in each bin.
        correct_sum: number of correct predictions in each bin.
    """

    count: Tensor
    confidence_sum: Tensor
    correct_sum: Tensor

    def __add__(self, other: CalibrationBins) -> CalibrationBins:
        return CalibrationBins(
            self.count + other.count,
            self.confidence_sum + other.confidence_sum,
            self.correct_sum + other.correct_sum,
        )

    @property
    def num_bins(self) -> int:
        return self.count.shape[0]

    def ece(self) -> Tensor:
        """``ECE = sum_m (|B_m| / n) |acc_m - conf_m| = sum_m |correct_m - confidence_m| / n``; 0-d float64."""
        total = self.count.sum()
        if not bool(total > 0):
            raise InputValueError("expected_calibration_error: no samples were binned; pass at least one prediction")
        return (self.correct_sum - self.confidence_sum).abs().sum() / total

    def diagram(self) -> ReliabilityDiagram:
        """Per-bin mean confidence and accuracy (NaN for empty bins) with the bin edges."""
        occupied = self.count > 0
        safe = self.count.clamp(min=1)
        nan = torch.full_like(self.count, float("nan"))
        return ReliabilityDiagram(
            edges=_edges(self.num_bins, self.count.device),
            confidence=torch.where(occupied, self.confidence_sum / safe, nan),
            accuracy=torch.where(occupied, self.correct_sum / safe, nan),
            count=self.count.long(),
        )


@dataclass(frozen=True)
class ReliabilityDiagram:
    """Data of a reliability diagram.

    Attributes:
        edges: ``(M + 1,)`` float64 bin edges ``0, 1/M, ..., 1``.
        confidence: ``(M,)`` float64 mean confidence per bin, NaN where a bin is empty.
        accuracy: ``(M,)`` float64 fraction correct per bin, NaN where a bin is empty.
        count: ``(M,)`` int64 samples per bin.
    """

    edges: Tensor
    confidence: Tensor
    accuracy: Tensor
    count: Tensor


def _edges(num_bins: int, device: torch.device) -> Tensor:
    return torch.linspace(0.0, 1.0, num_bins + 1, dtype=torch.float64, device=device)


def _check_logits(logits: Tensor, labels: Tensor, who: str) -> None:
    if not isinstance(logits, Tensor) or not isinstance(labels, Tensor):
        raise InputTypeError(
            f"{who}: logits and labels must be tensors, got {type(logits).__name__} and {type(labels).__name__}"
        )
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise InputValueError(
            f"{who}: logits must be (N, K) with N >= 1 samples and K >= 2 classes, got shape {tuple(logits.shape)}"
        )
    if not logits.is_floating_point():
        raise InputTypeError(f"{who}: logits must be floating, got {logits.dtype}; pass the model's raw outputs")
    _check_labels(labels, logits.shape[0], who)


def _check_labels(labels: Tensor, count: int, who: str) -> None:
    if labels.shape != (count,):
        raise InputValueError(
            f"{who}: labels must have shape ({count},) to match the predictions, got {tuple(labels.shape)}; "
            "pass class indices, not one-hot rows"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputTypeError(f"{who}: labels must be integer class indices, got {labels.dtype}; use labels.long()")


def _check_bins(num_bins: int, who: str) -> None:
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
        raise InputValueError(f"{who}: num_bins={num_bins!r} must be a positive int, e.g. {DEFAULT_BINS}")


def _confidence_correct(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Max softmax probability and its correctness, both ``(N,)``."""
    confidence, predicted = logits.softmax(1).max(1)
    return confidence, predicted == labels


def _bins_update(confidences: Tensor, correct: Tensor, num_bins: int) -> CalibrationBins:
    """Binned sums of one batch (``_update``).

    ``bucketize`` on the inner edges gives each confidence its bin (``right=False``: a value
    equal to an edge goes to the lower bin, values <= the first inner edge to bin 0, values
    above the last to bin ``M - 1``); a ``(N, M)`` one-hot product then sums per bin,
    deterministically and without a host sync.
    """
    values = confidences.to(torch.float64)
    index = torch.bucketize(values, _edges(num_bins, values.device)[1:-1], right=False)
    one_hot = (index[:, None] == torch.arange(num_bins, device=values.device)[None, :]).to(torch.float64)
    sums = one_hot.T @ torch.stack([torch.ones_like(values), values, correct.to(torch.float64)], 1)
    return CalibrationBins(count=sums[:, 0], confidence_sum=sums[:, 1], correct_sum=sums[:, 2])


def accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    """Top-1 accuracy: the fraction of samples whose arg-max logit is the label.

    Args:
        logits: ``(N, K)`` floating scores (any monotone transform of the probabilities).
        labels: ``(N,)`` integer class indices.

    Returns:
        0-d float32 tensor in [0, 1] on the logits' device (higher is better).

    >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), torch.tensor([0, 1, 1]))
    tensor(0.6667)
    """
    _check_logits(logits, labels, "accuracy")
    return (logits.argmax(1) == labels).float().mean()


def nll(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean negative log-likelihood of the labels under ``softmax(logits)``, in nats.

    ``NLL = -(1/N) sum_i log softmax(z_i)[y_i]`` (the cross-entropy loss).

    Args:
        logits: ``(N, K)`` floating, unnormalised log-probabilities.
        labels: ``(N,)`` integer class indices.

    Returns:
        0-d tensor in the logits' dtype, >= 0 (lower is better).

    >>> round(float(nll(torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]))), 4)  # log 2
    0.6931
    """
    _check_logits(logits, labels, "nll")
    return nnf.cross_entropy(logits, labels.long())


def calibration_bins(confidences: Tensor, correct: Tensor, num_bins: int = DEFAULT_BINS) -> CalibrationBins:
    """Per-bin count, confidence sum and correct count of ``N`` predictions.

    Args:
        confidences: ``(N,)`` floating confidences in [0, 1] (e.g. the max softmax probability).
        correct: ``(N,)`` bool or 0/1 correctness of each prediction.
        num_bins: number of equal-width bins ``M``; bin ``m`` is ``(m / M, (m + 1) / M]``, the
            first bin also holds 0.

    Returns:
        :class:`CalibrationBins` of ``(M,)`` float64 sums; add two to merge batches.

    Raises:
        InputValueError: shapes that differ, confidences outside [0, 1] or NaN, a bad ``num_bins``.

    >>> bins = calibration_bins(torch.tensor([0.0, 0.25, 0.3, 1.0]), torch.tensor([0, 1, 1, 1]), num_bins=4)
    >>> bins.count.tolist(), bins.correct_sum.tolist()
    ([2.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 1.0])
    """
    _check_bins(num_bins, "calibration_bins")
    if not isinstance(confidences, Tensor) or confidences.ndim != 1 or not confidences.is_floating_point():
        raise InputValueError("calibration_bins: confidences must be a 1-D floating tensor (N,)")
    if not isinstance(correct, Tensor) or correct.shape != confidences.shape:
        raise InputValueError(
            f"calibration_bins: correct must have the confidences' shape {tuple(confidences.shape)}, "
            f"got {tuple(correct.shape) if isinstance(correct, Tensor) else type(correct).__name__}"
        )
    if bool(((confidences < 0) | (confidences > 1) | confidences.isnan()).any()):
        raise InputValueError(
            "calibration_bins: confidences must lie in [0, 1]; pass probabilities, e.g. softmax(...).max(1)"
        )
    return _bins_update(confidences, correct, num_bins)


def expected_calibration_error(logits: Tensor, labels: Tensor, num_bins: int = DEFAULT_BINS) -> Tensor:
    """Expected calibration error of the top-1 prediction with ``M`` equal-width bins.

    ``ECE = sum_m (|B_m| / N) * |acc(B_m) - conf(B_m)|``, confidence = max softmax probability,
    accuracy = top-1 correctness (Guo et al. 2017, M = 15). Report ``M`` and ``N`` with it: the
    estimate is biased upwards for small ``N``.

    Args:
        logits: ``(N, K)`` floating, N >= 1.
        labels: ``(N,)`` integer class indices.
        num_bins: ``M``.

    Returns:
        0-d float64 tensor in [0, 1] (lower is better).

    >>> logits = torch.log(torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]))
    >>> round(float(expected_calibration_error(logits, torch.tensor([0, 1, 1]))), 4)
    0.3
    """
    _check_logits(logits, labels, "expected_calibration_error")
    _check_bins(num_bins, "expected_calibration_error")
    return _bins_update(*_confidence_correct(logits, labels), num_bins).ece()


def reliability_diagram(logits: Tensor, labels: Tensor, num_bins: int = DEFAULT_BINS) -> ReliabilityDiagram:
    """Per-bin mean confidence, accuracy and count for a reliability diagram.

    Plot ``accuracy`` against ``confidence`` (or bar heights over ``edges``); a calibrated
    model lies on the diagonal. Bins as in :func:`expected_calibration_error`.

    Args:
        logits: ``(N, K)`` floating.
        labels: ``(N,)`` integer class indices.
        num_bins: ``M``.

    Returns:
        :class:`ReliabilityDiagram` with ``(M,)`` statistics; empty bins are NaN.
    """
    _check_logits(logits, labels, "reliability_diagram")
    _check_bins(num_bins, "reliability_diagram")
    return _bins_update(*_confidence_correct(logits, labels), num_bins).diagram()


class ClassificationMetrics:
    """Streaming accuracy, NLL and ECE over many batches, in constant memory.

    State: the number of samples and correct predictions, the summed NLL, and the
    :class:`CalibrationBins` of ``num_bins`` bins, all on the device of the first batch.
    ``update`` never syncs with the host; ``compute`` does once.

    >>> metrics = ClassificationMetrics()
    >>> metrics.update(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
    >>> metrics.update(torch.tensor([[0.0, 5.0]]), torch.tensor([1]))
    >>> {name: round(value, 4) for name, value in metrics.compute().items()}
    {'accuracy': 0.6667, 'nll': 0.4823, 'ece': 0.2857}

    Args:
        num_bins: calibration bins ``M`` (default 15).
    """

    higher_is_better = {"accuracy": True, "nll": False, "ece": False}

    def __init__(self, num_bins: int = DEFAULT_BINS) -> None:
        _check_bins(num_bins, "ClassificationMetrics")
        self.num_bins = num_bins
        self.reset()

    def reset(self) -> None:
        """Forget all batches."""
        self._samples = 0
        self._correct: Tensor | None = None
        self._nll_sum: Tensor | None = None
        self._bins: CalibrationBins | None = None

    def update(self, logits: Tensor, labels: Tensor) -> None:
        """Add a batch: ``logits`` ``(N, K)`` floating, ``labels`` ``(N,)`` integer."""
        _check_logits(logits, labels, "ClassificationMetrics.update")
        confidence, correct = _confidence_correct(logits.detach(), labels)
        bins = _bins_update(confidence, correct, self.num_bins)
        nll_sum = nnf.cross_entropy(logits.detach().double(), labels.long(), reduction="sum")
        correct_count = correct.sum()
        if self._bins is None:
            self._bins, self._nll_sum, self._correct = bins, nll_sum, correct_count
        else:
            self._bins = self._bins + bins
            self._nll_sum = self._nll_sum + nll_sum
            self._correct = self._correct + correct_count
        self._samples += logits.shape[0]

    def compute(self) -> dict[str, float]:
        """``{"accuracy", "nll", "ece"}`` over all batches since the last reset.

        Raises:
            InputValueError: no batch was added.
        """
        bins = self._require_bins()
        return {
            "accuracy": int(self._correct) / self._samples,
            "nll": float(self._nll_sum) / self._samples,
            "ece": float(bins.ece()),
        }

    def reliability_diagram(self) -> ReliabilityDiagram:
        """Reliability-diagram data over all batches since the last reset."""
        return self._require_bins().diagram()

    def _require_bins(self) -> CalibrationBins:
        if self._bins is None:
            raise InputValueError("ClassificationMetrics: no batch added yet; call update(logits, labels) first")
        return self._bins
