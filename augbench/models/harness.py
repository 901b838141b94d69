"""The small CNN of the benchmark's small-scale harness (a 2-conv CNN on the 8x8 scikit-learn digits)."""

from __future__ import annotations

import math

from torch import nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["HarnessCNN"]


@MODELS.register("harness_cnn")
class HarnessCNN(StagedModel):
    """conv(C->32w, 3x3) - ReLU - conv(32w->64w, 3x3) - ReLU - maxpool 2 - linear.

    The small-scale check of RandAugment/TrivialAugment leaves padding open; both convolutions use
    padding 1, so an 8x8 digit gives 64 x 4 x 4 = 1,024 features. ``width`` (w) scales both
    convolutions' channels for teacher/student pairs (knowledge distillation): ``width=4`` has
    128 and 256 channels, ``width=0.25`` has 8 and 16; the default 1 is the harness network.

    Stages (see :class:`~augbench.models.staged.StagedModel`), for Manifold Mixup's mixing
    points: ``conv1`` (conv + ReLU) -> ``(B, 32w, H, W)``, ``conv2`` (conv + ReLU + maxpool) ->
    ``(B, 64w, H // 2, W // 2)``; head: flatten + linear. Mixing point 1 ("after conv1") is the
    harness's choice besides the input.

    Args:
        in_channels: image channels.
        num_classes: number of outputs.
        image_size: ``(height, width)`` of the inputs, both even.
        width: channel multiplier ``> 0``; the channels are ``round(32 * width)`` and
            ``round(64 * width)``, each at least 1.

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, image_size: tuple[int, int] = (8, 8), width: float = 1.0
    ) -> None:
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
            raise ConfigError(f"harness_cnn: width={width!r} must be a number > 0 (1 is the harness network)")
        height, image_width = image_size
        first, second = max(1, round(32 * width)), max(1, round(64 * width))
        stages = {
            "conv1": nn.Sequential(nn.Conv2d(in_channels, first, 3, padding=1), nn.ReLU()),
            "conv2": nn.Sequential(nn.Conv2d(first, second, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        }
        head = nn.Sequential(nn.Flatten(), nn.Linear(second * (height // 2) * (image_width // 2), num_classes))
        super().__init__(stages, head, in_channels=in_channels, image_size=(height, image_width))
