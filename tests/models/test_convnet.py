"""The four-block ConvNet (augbench/models/convnet.py): registry, stages, pooled features, bad sizes."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError
from augbench.models import MODELS, ConvNet, StagedModel


def test_registered_and_built_from_the_data_context() -> None:
    model = MODELS.build({"type": "convnet", "base_channels": 8}, context={"in_channels": 3, "num_classes": 5,
                                                                         "image_size": (32, 32)})
    assert isinstance(model, ConvNet) and isinstance(model, StagedModel)
    assert MODELS.resolve("convnet", context=("in_channels", "num_classes", "image_size")) == {
        "type": "convnet", "base_channels": 16}
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 5)


@pytest.mark.parametrize(("channels", "side"), [(3, 32), (1, 28), (1, 8)])
def test_stage_shapes_and_pooled_feature(channels: int, side: int) -> None:
    torch.manual_seed(0)
    model = ConvNet(in_channels=channels, num_classes=10, image_size=(side, side), base_channels=4)
    assert model.stage_names == ("block1", "block2", "block3", "block4", "pool")
    images = torch.randn(3, channels, side, side, generator=torch.Generator().manual_seed(1))
    model.eval()
    shapes = [tuple(model.forward_features(images, stop_at=k).shape) for k in range(1, 6)]
    quarter, eighth = side // 2 // 2, side // 2 // 2 // 2
    assert shapes == [(3, 4, side // 2, side // 2), (3, 8, quarter, quarter), (3, 16, eighth, eighth),
                      (3, 32, eighth, eighth), (3, 32)]
    with torch.no_grad():
        expected = model(images)
        for point in range(6):
            hidden = model.forward_features(images, stop_at=point)
            torch.testing.assert_close(model.forward_from(hidden, start_at=point), expected)


def test_every_parameter_gets_a_gradient() -> None:
    model = ConvNet(in_channels=3, num_classes=10, image_size=(16, 16), base_channels=4)
    logits = model(torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2)))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert all(parameter.grad is not None and torch.isfinite(parameter.grad).all() for parameter in model.parameters())


@pytest.mark.parametrize(("options", "match"), [
    ({"image_size": (7, 32)}, "too small"),
    ({"base_channels": 0}, "base_channels=0"),
    ({"base_channels": 2.5}, "base_channels=2.5"),
])
def test_bad_options_are_one_line(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        ConvNet(**options)
    assert len(str(info.value).splitlines()) == 1
