"""The harness CNN as a StagedModel (augbench/models/harness.py): stages, mixing points, unchanged output."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from augbench.errors import ConfigError
from augbench.models import MODELS, HarnessCNN, StagedModel, build_model


def test_registered_with_its_constructor_signature() -> None:
    model = MODELS.build("harness_cnn", in_channels=3, num_classes=5, image_size=(8, 12))
    assert isinstance(model, HarnessCNN) and isinstance(model, StagedModel)
    assert HarnessCNN().input_shape == (1, 8, 8)
    assert model(torch.zeros(2, 3, 8, 12)).shape == (2, 5)


def test_stages_and_hidden_shapes() -> None:
    model = build_model("harness_cnn", num_classes=10, input_shape=(1, 8, 8))
    assert model.stage_names == ("conv1", "conv2")
    images = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    shapes = [tuple(model.forward_features(images, stop_at=k).shape) for k in range(3)]
    assert shapes == [(4, 1, 8, 8), (4, 32, 8, 8), (4, 64, 4, 4)]
    assert bool((model.forward_features(images, stop_at=1) >= 0).all())  # conv1 ends with its ReLU
    with torch.no_grad():
        expected = model(images)
        for point in range(3):
            hidden = model.forward_features(images, stop_at=point)
            torch.testing.assert_close(model.forward_from(hidden, start_at=point), expected)


def test_same_initialisation_and_output_as_the_sequential_definition() -> None:
    torch.manual_seed(3)
    model = HarnessCNN(in_channels=1, num_classes=10, image_size=(8, 8))
    torch.manual_seed(3)  # the pre-stage layout: layers created in the same order
    reference = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 10),
    )
    images = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(images), reference(images))


def test_wrong_input_shape_raises() -> None:
    with pytest.raises(ValueError, match="expected"):
        HarnessCNN()(torch.zeros(2, 1, 6, 6))


def test_width_scales_the_channels_and_defaults_to_the_card_network() -> None:
    assert MODELS.resolve("harness_cnn", context=("in_channels", "num_classes", "image_size"))["width"] == 1.0
    torch.manual_seed(3)
    default = HarnessCNN()
    torch.manual_seed(3)
    explicit = HarnessCNN(width=1)
    assert all(torch.equal(a, b) for a, b in zip(default.state_dict().values(), explicit.state_dict().values()))
    for width, channels in ((4, (128, 256)), (0.25, (8, 16)), (0.001, (1, 1))):
        model = HarnessCNN(width=width)
        assert (model.stages["conv1"][0].out_channels, model.stages["conv2"][0].out_channels) == channels
        assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("width", [0, -1, float("nan"), True, "2"])
def test_bad_width_raises_one_line(width: object) -> None:
    with pytest.raises(ConfigError, match="harness_cnn: width=.* must be a number > 0"):
        HarnessCNN(width=width)  # type: ignore[arg-type]
