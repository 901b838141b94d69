"""One training run: determinism and that augmentation reaches the model."""

from __future__ import annotations

import torch

from augbench.bench.config import RunConfig
from augbench.bench.trainer import train_run


def test_same_config_gives_identical_results() -> None:
    config = RunConfig(method="affine", epochs=2, train_size=100, seed=3)
    first, second = train_run(config), train_run(config)
    assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]
    assert first.curves == second.curves


def test_global_rng_is_left_alone() -> None:
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    train_run(RunConfig(epochs=1, train_size=100))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_augmentation_changes_training() -> None:
    base = train_run(RunConfig(method="baseline", epochs=2, train_size=100))
    erased = train_run(RunConfig(method="erasing", epochs=2, train_size=100))
    assert base.curves != erased.curves
    assert len(base.curves) == 2 and base.curves[0][1] == "train_loss"
