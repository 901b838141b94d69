"""The 1-D FCN for time series: shapes, stages, input checks, any series length."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.models import MODELS, StagedModel, TimeSeriesCNN
from augbench.modalities import get_modality


def series(batch: int = 3, channels: int = 6, length: int = 40) -> torch.Tensor:
    return torch.randn(batch, channels, length, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def model() -> TimeSeriesCNN:
    torch.manual_seed(0)
    return MODELS.build("timeseries_cnn", in_channels=6, num_classes=4, length=40, width=0.25)


def test_registered_and_staged(model: TimeSeriesCNN) -> None:
    assert isinstance(model, StagedModel)
    assert model.stage_names == ("conv1", "conv2", "conv3", "pool")
    assert model.input_shape == (6, 40)
    assert get_modality("timeseries").default_model == "timeseries_cnn"


def test_output_and_feature_shapes(model: TimeSeriesCNN) -> None:
    model.eval()
    inputs = series()
    with torch.no_grad():
        logits = model(inputs)
        features = model.forward_features(inputs)
        assert torch.allclose(model.head(features), logits, atol=1e-6)
        for point in range(model.num_stages + 1):
            hidden = model.forward_features(inputs, stop_at=point)
            assert torch.allclose(model.forward_from(hidden, start_at=point), logits, atol=1e-5)
    assert logits.shape == (3, 4) and logits.dtype == torch.float32
    assert features.shape == (3, 32)  # round(128 * 0.25)
    assert model.forward_features(inputs, stop_at=2).shape == (3, 64, 40)  # "same" padding keeps L


def test_full_width_follows_the_paper() -> None:
    model = TimeSeriesCNN()
    convs = [module for module in model.modules() if isinstance(module, torch.nn.Conv1d)]
    assert [(conv.out_channels, conv.kernel_size[0]) for conv in convs] == [(128, 8), (256, 5), (128, 3)]
    assert model.input_shape == (1, 150)
    assert model.forward_features(torch.randn(2, 1, 150)).shape == (2, 128)


def test_other_lengths_work_thanks_to_global_pooling(model: TimeSeriesCNN) -> None:
    model.train()
    for length in (7, 29, 101):
        logits = model(series(length=length))
        assert logits.shape == (3, 4)
    logits.sum().backward()
    assert all(parameter.grad is not None for parameter in model.parameters())


def test_bad_inputs_give_one_line_errors(model: TimeSeriesCNN) -> None:
    for bad, error in (
        (series()[0], InputValueError),  # (C, L): no batch axis
        (series().unsqueeze(1), InputValueError),  # (B, 1, C, L)
        (series(channels=3), InputValueError),  # wrong channel count
        (series().to(torch.int64), InputTypeError),
    ):
        with pytest.raises(error) as excinfo:
            model(bad)
        message = str(excinfo.value)
        assert "\n" not in message and "TimeSeriesCNN" in message
    with pytest.raises(InputValueError, match=r"expected \(B, 6, any\)"):
        model(series()[0])


@pytest.mark.parametrize(
    ("options", "message"),
    [({"width": 0}, "width=0"), ({"in_channels": 0}, "in_channels=0"), ({"length": 2.5}, "length=2.5")],
)
def test_config_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MODELS.build("timeseries_cnn", **options)
