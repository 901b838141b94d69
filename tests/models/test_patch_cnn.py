"""The two-layer patch CNN: F_j(x) = sum_r sum_p relu(<w_{j,r}, x_p>)^q."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError
from augbench.models import MODELS, PatchCNN


def test_forward_is_the_sum_over_filters_and_patches_of_the_activation() -> None:
    model = PatchCNN(num_classes=2, input_shape=(2, 2), width=2, power=3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[[1.0, 0.0], [0.0, -1.0]], [[0.5, 0.5], [0.0, 0.0]]]))
    inputs = torch.tensor([[[2.0, 1.0], [-1.0, 3.0]]])  # patches (2, 1) and (-1, 3)
    # class 0: filter (1,0): relu(2)^3 + relu(-1)^3 = 8; filter (0,-1): relu(-1)^3 + relu(-3)^3 = 0
    # class 1: filter (.5,.5): relu(1.5)^3 + relu(1)^3 = 4.375; zero filter: 0
    assert torch.allclose(model(inputs), torch.tensor([[8.0, 4.375]]))


def test_built_from_the_registry_with_the_data_shape() -> None:
    context = {"num_classes": 4, "input_shape": (5, 7), "in_channels": 5, "length": 7}
    model = MODELS.build({"type": "patch_cnn", "width": 3}, context=context)
    assert model.weight.shape == (4, 3, 7)
    assert model(torch.randn(6, 5, 7)).shape == (6, 4)


@pytest.mark.parametrize("options", [{"width": 0}, {"power": 0.5}, {"init_std": 0.0}, {"input_shape": (3,)}])
def test_bad_options_raise(options: dict) -> None:
    with pytest.raises(ConfigError):
        PatchCNN(**{"num_classes": 2, "input_shape": (3, 4), **options})
