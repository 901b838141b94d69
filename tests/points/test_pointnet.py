"""The PointNet model: shapes, order invariance, stages, any number of points, options."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError
from augbench.models import MODELS, PointNet, build_model


def _model(**options: object) -> PointNet:
    torch.manual_seed(0)
    return build_model({"type": "pointnet", **options}, num_classes=10, input_shape=(128, 3), modality="points")


def test_registered_and_built_from_the_data() -> None:
    assert "pointnet" in MODELS.names()
    model = _model(width=0.5)
    assert isinstance(model, PointNet) and model.input_shape == (128, 3)
    assert model.stage_names == ("mlp1", "mlp2", "mlp3", "pool", "fc")


def test_logits_gradients_and_point_order_invariance() -> None:
    model = _model()
    clouds = torch.randn(4, 128, 3, generator=torch.Generator().manual_seed(1))
    model.train()
    logits = model(clouds)
    assert logits.shape == (4, 10)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    shuffled = clouds[:, torch.randperm(128, generator=torch.Generator().manual_seed(2))]
    assert torch.allclose(model(clouds), model(shuffled), atol=1e-5)
    assert model(torch.randn(2, 40, 3)).shape == (2, 10)  # any number of points


def test_stages_compose_to_forward_and_features() -> None:
    model = _model().eval()
    clouds = torch.randn(3, 128, 3)
    for point in range(model.num_stages + 1):
        assert torch.allclose(model.forward_from(model.forward_features(clouds, point), point), model(clouds), atol=1e-5)
    assert model.forward_features(clouds).shape == (3, 128)


def test_extra_features_enter_the_first_layer() -> None:
    model = build_model("pointnet", num_classes=4, input_shape=(64, 6), modality="points")
    assert model(torch.randn(2, 64, 6)).shape == (2, 4)


@pytest.mark.parametrize(
    "options, message",
    [({"width": 0}, "width"), ({"dropout": 1.0}, "dropout"), ({"input_shape": (64, 2)}, "input_shape"), ({"num_classes": 0}, "num_classes")],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PointNet(**options)
