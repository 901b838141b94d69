"""Evaluation of a trained run: metrics and artifacts as configured."""

from __future__ import annotations

import json

import pytest

from augbench.bench.config import RunConfig
from augbench.bench.trainer import train_run


@pytest.fixture(scope="module")
def robust_run():
    config = RunConfig(method="erasing", epochs=2, train_size=100, evaluations=("calibration", "corruption", "adversarial"))
    return train_run(config)


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
    first = train_run(RunConfig(epochs=1, train_size=100, val_size=200, seed=0, evaluations=()))
    assert "val_accuracy" in first.metrics and "test_ece" in first.metrics
    assert "reliability" not in first.artifacts
