"""The MLP: shapes, stages and features, bad widths."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError
from augbench.models import MLP, MODELS


def test_shapes_stages_and_features() -> None:
    model = MODELS.build({"type": "mlp", "hidden": [64, 32]}, context={"input_shape": (1, 8, 8), "num_classes": 10})
    x = torch.zeros(5, 1, 8, 8)
    assert model(x).shape == (5, 10) and model.forward_features(x).shape == (5, 32)
    assert model.stage_names == ("fc1", "fc2")
    assert sum(p.numel() for p in MLP(input_shape=(1, 8, 8), hidden=(32,)).parameters()) == 64 * 32 + 32 + 32 * 10 + 10


@pytest.mark.parametrize("hidden", [[], [0], "512", [1.5]])
def test_bad_widths_are_one_line(hidden: object) -> None:
    with pytest.raises(ConfigError, match="mlp: hidden="):
        MLP(hidden=hidden)  # type: ignore[arg-type]
