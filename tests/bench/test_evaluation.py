"""Evaluation of a trained run: metrics and artifacts as configured."""

from __future__ import annotations

import json

import pytest

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.evaluation import EVALUATIONS
from augbench.errors import ConfigError


def _spec(method: str = "baseline", evaluations: tuple[str, ...] = (), **data: object) -> RunSpec:
    return RunSpec.create(dataset="digits", model="harness_cnn", method=method, seed=0, epochs=2,
                          data=DataSpec(**{"train_size": 100, **data}), evaluations=evaluations)


@pytest.fixture(scope="module")
def robust_run():
    return train_run(_spec("erasing", ("calibration", "corruption", "adversarial")))


def test_every_asked_metric_is_reported_in_range(robust_run) -> None:
    metrics = robust_run.metrics
    for name in ("test_accuracy", "test_ece", "test_corruption_accuracy", "test_fgsm_accuracy", "test_pgd_accuracy",
                 "augmentation_time_fraction"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["test_pgd_accuracy"] <= metrics["test_accuracy"]
    assert metrics["test_nll"] > 0 and metrics["train_images_per_s"] > 0 and metrics["peak_memory_mb"] > 0
    assert metrics["augmentation_time_fraction"] > 0  # erasing runs inside the timed augmentation region


def test_artifacts_are_json_and_consistent(robust_run) -> None:
    artifacts = json.loads(json.dumps(robust_run.artifacts, allow_nan=False))
    reliability = artifacts["reliability"]
    assert len(reliability["count"]) == 15 and sum(reliability["count"]) == 1797 - 100
    assert set(artifacts["corruption"]["gaussian_noise"]) == {"1", "2", "3", "4", "5"}
    assert len(artifacts["corruption"]) == 13
    assert artifacts["adversarial"]["epsilon"] == pytest.approx(8 / 255)


def test_validation_split_is_reported_and_fixed() -> None:
    first = train_run(_spec(val_size=200))
    assert "val_accuracy" in first.metrics and "test_ece" in first.metrics
    assert "reliability" not in first.artifacts


def test_representation_evaluations_on_frozen_features() -> None:
    result = train_run(_spec(evaluations=("linear_probe", "knn", "recall_at_k")))
    for name in ("test_linear_probe_accuracy", "test_knn_accuracy", "test_recall_at_1", "test_recall_at_8"):
        assert 0.0 <= result.metrics[name] <= 1.0, name
    assert result.metrics["test_recall_at_1"] <= result.metrics["test_recall_at_8"]


def test_target_and_ood_evaluations_need_a_target_split() -> None:
    with pytest.raises(ConfigError, match="needs a 'target_test' split.*add target"):
        train_run(_spec(evaluations=("target_accuracy",)))
    result = train_run(_spec(evaluations=("target_accuracy", "auroc"), target={"dataset": "digits", "test_size": 300}))
    assert 0.0 <= result.metrics["target_accuracy"] <= 1.0 and 0.0 <= result.metrics["auroc"] <= 1.0


def test_continual_evaluations_refuse_a_single_task_method() -> None:
    with pytest.raises(ConfigError, match="needs a continual method that records task_accuracies"):
        train_run(_spec(evaluations=("forgetting",)))


def test_metric_names_are_stable() -> None:
    assert EVALUATIONS.names() == [
        "accuracy", "active_learning", "adversarial", "auroc", "average_accuracy", "calibration", "corruption",
        "feature_learning", "forgetting", "knn", "linear_probe", "linear_probe_n", "one_class_auroc", "ranking",
        "recall_at_k", "retrieval", "target_accuracy",
    ]
