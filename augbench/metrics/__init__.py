"""Evaluation metrics: accuracy, NLL and calibration; common corruptions; adversarial attacks; training cost.

Functional cores with thin helpers on top:

- :mod:`~augbench.metrics.classification`: :func:`accuracy`, :func:`nll`,
  :func:`expected_calibration_error` (15 equal-width bins), :func:`reliability_diagram` and the
  streaming :class:`ClassificationMetrics`.
- :mod:`~augbench.metrics.corruptions`: the CIFAR-10-C style suite in :data:`CORRUPTIONS`
  (16 corruptions x 5 severities) and :func:`corruption_accuracy`.
- :mod:`~augbench.metrics.adversarial`: :func:`fgsm`, :func:`pgd` and :func:`adversarial_accuracy`.
- :mod:`~augbench.metrics.cost`: :class:`StepTimer` (augmentation share of step time,
  images/s) and :func:`peak_memory_bytes`.
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
from augbench.metrics.cost import CostSummary, StepTimer, peak_memory_bytes, reset_peak_memory

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
    "ReliabilityDiagram",
    "StepTimer",
    "accuracy",
    "adversarial_accuracy",
    "calibration_bins",
    "corrupt",
    "corruption_accuracy",
    "expected_calibration_error",
    "fgsm",
    "nll",
    "peak_memory_bytes",
    "pgd",
    "reliability_diagram",
    "reset_peak_memory",
]
