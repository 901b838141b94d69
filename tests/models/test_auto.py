"""``auto``: a model sized to the input."""

from __future__ import annotations

import pytest

from augbench.errors import ConfigError
from augbench.models import ConvNet, HarnessCNN, TimeSeriesCNN, build_model


@pytest.mark.parametrize(
    ("shape", "modality", "expected"),
    [((1, 8, 8), "image", HarnessCNN), ((3, 15, 40), "image", HarnessCNN), ((3, 16, 16), "image", ConvNet),
     ((3, 96, 64), "image", ConvNet), ((2, 150), "timeseries", TimeSeriesCNN), ((1, 8000), "audio", TimeSeriesCNN)],
)
def test_auto_picks_the_smallest_model_that_suits_the_input(shape: tuple[int, ...], modality: str, expected: type) -> None:
    model = build_model("auto", num_classes=4, input_shape=shape, modality=modality)
    assert type(model) is expected


def test_auto_without_a_default_for_the_modality_is_one_line() -> None:
    with pytest.raises(ConfigError, match="name a model with --model"):
        build_model("auto", num_classes=4, input_shape=(1024, 3), modality="points")
