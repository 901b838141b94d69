"""The small CNN of the method cards' shared small-scale harness."""

from __future__ import annotations

from torch import nn

from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["HarnessCNN"]


@MODELS.register("harness_cnn")
class HarnessCNN(StagedModel):
    """conv(C->32, 3x3) - ReLU - conv(32->64, 3x3) - ReLU - maxpool 2 - linear.

    The card (``shared/methods/policies.md``) leaves padding open; both convolutions use
    padding 1, so an 8x8 digit gives 64 x 4 x 4 = 1,024 features.

    Stages (see :class:`~augbench.models.staged.StagedModel`), for Manifold Mixup's mixing
    points: ``conv1`` (conv + ReLU) -> ``(B, 32, H, W)``, ``conv2`` (conv + ReLU + maxpool) ->
    ``(B, 64, H // 2, W // 2)``; head: flatten + linear. Mixing point 1 ("after conv1") is the
    card's harness choice besides the input.

    Args:
        in_channels: image channels.
        num_classes: number of outputs.
        image_size: ``(height, width)`` of the inputs, both even.

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: tuple[int, int] = (8, 8)) -> None:
        height, width = image_size
        stages = {
            "conv1": nn.Sequential(nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU()),
            "conv2": nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        }
        head = nn.Sequential(nn.Flatten(), nn.Linear(64 * (height // 2) * (width // 2), num_classes))
        super().__init__(stages, head, in_channels=in_channels, image_size=(height, width))
