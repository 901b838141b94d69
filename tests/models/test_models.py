"""Registered models: shapes, gradients, the stage (mixing point) API and ViT attention."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.models import MODELS, StagedModel, VisionTransformer, build_model

# name -> (in_channels, image side, stage names)
CASES = {
    "lenet": (1, 28, ("conv1", "conv2", "fc1", "fc2")),
    "preact_resnet18": (3, 32, ("stem", "layer1", "layer2", "layer3", "layer4")),
    "vit_tiny": (3, 32, ("embed",) + tuple(f"block{i}" for i in range(1, 7))),
}


def build(name: str, num_classes: int = 10) -> StagedModel:
    torch.manual_seed(0)
    channels, side, _ = CASES[name]
    return build_model(name, num_classes=num_classes, input_shape=(channels, side, side))


def images_for(name: str, batch: int = 3) -> torch.Tensor:
    channels, side, _ = CASES[name]
    return torch.randn(batch, channels, side, side, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module", params=sorted(CASES))
def named_model(request: pytest.FixtureRequest) -> tuple[str, StagedModel]:
    return request.param, build(request.param)


def test_all_registered() -> None:
    assert set(CASES) <= set(MODELS.names())


def test_output_shape_and_backward(named_model: tuple[str, StagedModel]) -> None:
    name, model = named_model
    model.train()
    model.zero_grad()
    logits = model(images_for(name))
    assert logits.shape == (3, 10) and logits.dtype == torch.float32
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    missing = [key for key, parameter in model.named_parameters() if parameter.grad is None]
    assert not missing
    assert all(torch.isfinite(parameter.grad).all() for parameter in model.parameters())


def test_stage_names(named_model: tuple[str, StagedModel]) -> None:
    name, model = named_model
    assert model.stage_names == CASES[name][2]
    assert model.num_stages == len(CASES[name][2])


def test_running_all_stages_equals_forward(named_model: tuple[str, StagedModel]) -> None:
    name, model = named_model
    model.eval()
    images = images_for(name)
    with torch.no_grad():
        expected = model(images)
        assert torch.equal(model.forward_features(images, stop_at=0), images)
        assert torch.allclose(model.head(model.forward_features(images)), expected, atol=1e-5)
        for point in range(model.num_stages + 1):
            hidden = model.forward_features(images, stop_at=point)
            assert torch.allclose(model.forward_from(hidden, start_at=point), expected, atol=1e-5), point


def test_mixing_a_hidden_state_is_differentiable(named_model: tuple[str, StagedModel]) -> None:
    name, model = named_model
    model.train()
    images = images_for(name, batch=4)
    hidden = model.forward_features(images, stop_at=2)
    mixed = 0.7 * hidden + 0.3 * hidden.flip(0)
    model.forward_from(mixed, start_at=2).sum().backward()
    assert next(model.stages[model.stage_names[0]].parameters()).grad is not None


def test_bad_inputs_and_points(named_model: tuple[str, StagedModel]) -> None:
    name, model = named_model
    images = images_for(name, batch=1)
    with pytest.raises(InputValueError, match="stop_at=99"):
        model.forward_features(images, stop_at=99)
    with pytest.raises(InputValueError, match="start_at=-1"):
        model.forward_from(images, start_at=-1)
    with pytest.raises(InputTypeError, match="uint8"):
        model(images.to(torch.uint8))
    with pytest.raises(InputValueError, match="expected"):
        model(images[:, :, :-4])


def test_vit_attention_shape_and_rows_sum_to_one() -> None:
    model = build("vit_tiny").eval()
    images = images_for("vit_tiny")
    with torch.no_grad():
        logits, attention = model(images, return_attention=True)
        assert torch.allclose(logits, model(images), atol=1e-6)
    assert attention.shape == (3, 3, 64)  # (B, heads, (32 / 4) ** 2)
    assert (attention >= 0).all()
    assert torch.allclose(attention.sum(-1), torch.ones(3, 3), atol=1e-5)
    assert model.patch_grid == (8, 8)


def test_vit_attention_from_a_mixing_point() -> None:
    model = build("vit_tiny").eval()
    images = images_for("vit_tiny")
    with torch.no_grad():
        expected_logits, expected_attention = model(images, return_attention=True)
        hidden = model.forward_features(images, stop_at=3)
        logits, attention = model.forward_from(hidden, start_at=3, return_attention=True)
    assert torch.allclose(logits, expected_logits, atol=1e-5)
    assert torch.allclose(attention, expected_attention, atol=1e-6)
    with pytest.raises(InputValueError, match="last block"):
        model.forward_from(model.forward_features(images), start_at=model.num_stages, return_attention=True)


def test_vit_configurable_greyscale() -> None:
    model = VisionTransformer(in_channels=1, num_classes=5, image_size=(28, 28), patch_size=7, dim=32, depth=2, heads=4)
    logits, attention = model(torch.randn(2, 1, 28, 28), return_attention=True)
    assert logits.shape == (2, 5) and attention.shape == (2, 4, 16)
    assert model.stage_names == ("embed", "block1", "block2")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("vit_tiny", {"image_size": (30, 30)}, "patch_size=4"),
        ("vit_tiny", {"dim": 100, "heads": 3}, "dim=100"),
        ("vit_tiny", {"depth": 0}, "depth=0"),
        ("lenet", {"image_size": (8, 8)}, "too small"),
    ],
)
def test_config_errors(name: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MODELS.build(name, **options)
