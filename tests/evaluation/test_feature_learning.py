"""The feature_learning evaluation: filter/feature correlations and rare vs common test accuracy."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.feature_noise import feature_directions, make_feature_noise
from augbench.data.streams import DataSpec, RunData, Split
from augbench.errors import ConfigError
from augbench.evaluation import EVALUATIONS, EvalContext
from augbench.evaluation.feature_learning import feature_correlations
from augbench.methods import Supervised
from augbench.models import PatchCNN


def test_correlation_is_the_best_filter_projection_on_the_unit_direction() -> None:
    weight = torch.tensor([[[3.0, 4.0, 0.0], [1.0, 0.0, 0.0]], [[0.0, -2.0, 0.0], [0.0, 0.5, 2.0]]])
    directions = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, -5.0]])
    # class 0: max(3, 1) = 3; class 1: projections on -e_3 are 0 and -2 -> max 0
    assert torch.allclose(feature_correlations(weight, directions), torch.tensor([3.0, 0.0]))


def _context(weight: torch.Tensor, size: int = 2000) -> EvalContext:
    inputs, labels, _ = make_feature_noise(
        size, torch.Generator().manual_seed(3), dim=20, patches=4, num_classes=2, rho=0.25, alpha=0.3,
        noise_std=0.1, feature_norm=2.0,
    )
    model = PatchCNN(num_classes=2, input_shape=(4, 20), width=weight.shape[1])
    with torch.no_grad():
        model.weight.copy_(weight)
    data = RunData(streams={}, evals={"test": Split(inputs, labels, torch.arange(size), size)}, num_classes=2,
                   input_shape=(4, 20), modality="timeseries")
    return EvalContext(Supervised(), model.eval(), {"train": model}, data, lambda x: x, torch.device("cpu"), 0)


def test_a_model_that_knows_only_the_common_features_fails_the_rare_points() -> None:
    common, rare = feature_directions(2, 20)
    weight = torch.stack([common, torch.zeros_like(common)], 1)  # filter 0 of class j = v_j, filter 1 = 0
    metrics, artifacts = EVALUATIONS.get("feature_learning")(_context(weight))
    assert metrics["common_correlation"] == pytest.approx(1.0) and metrics["rare_correlation"] == pytest.approx(0.0)
    assert metrics["test_common_accuracy"] == 1.0
    assert metrics["test_rare_accuracy"] == 0.0  # the feature noise alpha * v_other decides every rare point
    assert 400 < artifacts["test_rare_count"] < 600


def test_a_model_that_knows_both_features_classifies_everything() -> None:
    common, rare = feature_directions(2, 20)
    metrics, _ = EVALUATIONS.get("feature_learning")(_context(torch.stack([common, 0.5 * rare], 1)))
    assert metrics["rare_correlation"] == pytest.approx(0.5)
    assert metrics["test_common_accuracy"] == 1.0 and metrics["test_rare_accuracy"] == 1.0


def test_other_models_are_refused_in_one_line() -> None:
    ctx = _context(torch.zeros(2, 1, 20))
    ctx.model = nn.Linear(3, 2)
    ctx.model.weight = nn.Parameter(torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="patch_cnn"):
        EVALUATIONS.get("feature_learning")(ctx)


def test_reported_by_a_benchmark_run() -> None:
    spec = RunSpec.create(
        dataset={"type": "feature_noise", "train_size": 100, "test_size": 200, "dim": 20}, model="patch_cnn",
        method="baseline", seed=0, epochs=2, batch_size=100, data=DataSpec(), evaluations=("feature_learning",),
    )
    metrics = train_run(spec).metrics
    for name in ("common_correlation", "rare_correlation", "test_common_accuracy", "test_rare_accuracy"):
        assert math.isfinite(metrics[name]), name
    assert 0.0 <= metrics["test_rare_accuracy"] <= 1.0
