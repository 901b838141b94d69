"""Evaluation metrics: accuracy, NLL and calibration; common corruptions; adversarial attacks; training cost;
representation quality, ranking and continual learning.

Functional cores with thin helpers on top:

- :mod:`~augbench.metrics.classification`: :func:`accuracy`, :func:`nll`,
  :func:`expected_calibration_error` (15 equal-width bins), :func:`reliability_diagram` and the
  streaming :class:`ClassificationMetrics`.
- :mod:`~augbench.metrics.corruptions`: the CIFAR-10-C style suite in :data:`CORRUPTIONS`
  (16 corruptions x 5 severities) and :func:`corruption_accuracy`.
- :mod:`~augbench.metrics.adversarial`: :func:`fgsm`, :func:`pgd` and :func:`adversarial_accuracy`.
- :mod:`~augbench.metrics.cost`: :class:`StepTimer` (augmentation share of step time,
  images/s) and :func:`peak_memory_bytes`.
- :mod:`~augbench.metrics.representation`: :func:`knn_accuracy` (weighted kNN monitor) and
  :func:`linear_probe_accuracy` (-> :class:`ProbeResult`) on frozen features.
- :mod:`~augbench.metrics.ranking`: :func:`auroc` (Mann-Whitney), :func:`recall_at_k` and
  :func:`map_at_r` (cosine retrieval), :func:`target_ranks` with :func:`hit_rate_at_k` and :func:`ndcg_at_k`
  (next-item recommendation).
- :mod:`~augbench.metrics.continual`: :func:`average_accuracy` and :func:`forgetting` of a
  ``(T, T)`` accuracy matrix.
"""

from augbench.metrics.adversarial import ATTACKS, adversarial_accuracy, fgsm, pgd
from augbench.metrics.classification import (
    DEFAULT_BINS,
    CalibrationBins,
    ClassificationMetrics,
    ReliabilityDiagram,
    accuracy,
    calibration_bins,
    expected_calibration_error,
    nll,
    reliability_diagram,
)
from augbench.metrics.corruptions import (
    BENCHMARK_CORRUPTIONS,
    CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    SEVERITIES,
    corrupt,
    corruption_accuracy,
)
from augbench.metrics.continual import average_accuracy, forgetting
from augbench.metrics.cost import CostSummary, StepTimer, peak_memory_bytes, reset_peak_memory
from augbench.metrics.ranking import auroc, hit_rate_at_k, map_at_r, ndcg_at_k, recall_at_k, target_ranks
from augbench.metrics.representation import ProbeResult, knn_accuracy, linear_probe_accuracy

__all__ = [
    "ATTACKS",
    "BENCHMARK_CORRUPTIONS",
    "CORRUPTIONS",
    "DEFAULT_BINS",
    "EXTRA_CORRUPTIONS",
    "SEVERITIES",
    "CalibrationBins",
    "ClassificationMetrics",
    "CostSummary",
    "ProbeResult",
    "ReliabilityDiagram",
    "StepTimer",
    "accuracy",
    "adversarial_accuracy",
    "auroc",
    "average_accuracy",
    "calibration_bins",
    "corrupt",
    "corruption_accuracy",
    "expected_calibration_error",
    "fgsm",
    "forgetting",
    "hit_rate_at_k",
    "knn_accuracy",
    "linear_probe_accuracy",
    "map_at_r",
    "ndcg_at_k",
    "nll",
    "peak_memory_bytes",
    "pgd",
    "recall_at_k",
    "reliability_diagram",
    "reset_peak_memory",
    "target_ranks",
]
