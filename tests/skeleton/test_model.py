"""The skeleton GRU: shapes, stages, the registry context, bad options, a few training steps."""

from __future__ import annotations

import pytest
import torch

from augbench.bench.experiment import DEFAULT_MODELS
from augbench.errors import ConfigError
from augbench.models import SkeletonGRU, build_model


def test_builds_from_the_data_context() -> None:
    model = build_model("skeleton_gru", num_classes=20, input_shape=(32, 20, 3), modality="skeleton")
    assert isinstance(model, SkeletonGRU) and DEFAULT_MODELS["msr_action3d"] == DEFAULT_MODELS["utkinect"] == "skeleton_gru"
    assert model(torch.randn(5, 32, 20, 3)).shape == (5, 20)
    assert model.forward_features(torch.randn(2, 40, 20, 3)).shape == (2, 128)  # any number of frames


def test_stages_compose_to_the_forward_pass() -> None:
    model = SkeletonGRU(num_classes=4, input_shape=(8, 20, 3), hidden=8).eval()
    x = torch.randn(3, 8, 20, 3, generator=torch.Generator().manual_seed(0))
    assert model.stage_names == ("gru1", "gru2", "pool")
    for point in range(model.num_stages + 1):
        assert torch.allclose(model.forward_from(model.forward_features(x, stop_at=point), point), model(x), atol=1e-6)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"input_shape": (32, 20)}, "frames, joints, 3"),
        ({"num_classes": 0}, "num_classes=0"),
        ({"hidden": 2.5}, "hidden=2.5"),
        ({"dropout": 1.0}, "dropout=1.0"),
    ],
)
def test_bad_options_fail_in_one_line(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SkeletonGRU(**options)


def test_learns_a_separable_toy_problem() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(32) % 2
    x = torch.randn(32, 10, 20, 3, generator=generator) * 0.1 + labels.view(-1, 1, 1, 1).float()
    torch.manual_seed(0)
    model = SkeletonGRU(num_classes=2, input_shape=(10, 20, 3), hidden=16, dropout=0.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert float(loss.detach()) < 0.1
