"""A LeNet-5-style convolutional network for small greyscale images (28x28 MNIST-like)."""

from __future__ import annotations

from torch import nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["LeNet"]

_MIN_SIDE = 12  # conv 5x5 "same" -> pool 2 -> conv 5x5 "valid" -> pool 2 must leave >= 1 pixel


@MODELS.register("lenet")
class LeNet(StagedModel):
    """LeNet-5 layout (LeCun et al. 1998) with ReLU and max-pooling.

    Stages (see :class:`~augbench.models.staged.StagedModel`):
    ``conv1``: conv(C->6, 5x5, padding 2) - ReLU - maxpool 2 -> ``(B, 6, H/2, W/2)``;
    ``conv2``: conv(6->16, 5x5) - ReLU - maxpool 2 -> ``(B, 16, 5, 5)`` for 28x28 inputs;
    ``fc1``: flatten - linear(->120) - ReLU; ``fc2``: linear(120->84) - ReLU;
    head: linear(84->num_classes).

    Args:
        in_channels: image channels.
        num_classes: number of outputs.
        image_size: ``(height, width)``, each at least 12.

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.

    >>> import torch
    >>> LeNet(in_channels=1, num_classes=10, image_size=(28, 28))(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: tuple[int, int] = (28, 28)) -> None:
        height, width = image_size
        if min(height, width) < _MIN_SIDE:
            raise ConfigError(
                f"lenet: image_size={tuple(image_size)} is too small; both sides must be >= {_MIN_SIDE} "
                "(use harness_cnn for 8x8 digits)"
            )
        flat = 16 * ((height // 2 - 4) // 2) * ((width // 2 - 4) // 2)
        stages = {
            "conv1": nn.Sequential(nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2)),
            "conv2": nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2)),
            "fc1": nn.Sequential(nn.Flatten(), nn.Linear(flat, 120), nn.ReLU(inplace=True)),
            "fc2": nn.Sequential(nn.Linear(120, 84), nn.ReLU(inplace=True)),
        }
        super().__init__(stages, nn.Linear(84, num_classes), in_channels=in_channels, image_size=(height, width))
