"""A small four-block CNN with batch norm and global pooling: a CPU-sized encoder for SSL probes."""

from __future__ import annotations

from torch import nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["ConvNet"]

_MIN_SIDE = 8  # three 2x2 max-pools must leave at least one pixel


def _block(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


@MODELS.register("convnet")
class ConvNet(StagedModel):
    """Four conv-BN-ReLU blocks (``c, 2c, 4c, 8c`` channels), global average pooling, a linear head.

    Sized so that contrastive pretraining and linear probes run on a CPU: its feature is a
    pooled ``8 * base_channels``-dimensional vector (128-d at the default 16), where LeNet has 84
    dimensions and the harness CNN ``64 * H * W / 4`` (16,384 on 32x32 images).

    Stages (see :class:`~augbench.models.staged.StagedModel`):
    ``block1``: conv(C->c, 3x3, padding 1) - BN - ReLU - maxpool 2 -> ``(B, c, H/2, W/2)``;
    ``block2``: the same with 2c channels -> ``(B, 2c, H/4, W/4)``;
    ``block3``: 4c channels -> ``(B, 4c, H/8, W/8)``;
    ``block4``: conv - BN - ReLU without pooling -> ``(B, 8c, H/8, W/8)``;
    ``pool``: global average pooling and flatten -> ``(B, 8c)`` (what ``forward_features`` returns);
    head: linear(8c -> num_classes). Convolutions have no bias (batch norm follows); sides are
    floored by each pooling.

    Args:
        in_channels: image channels.
        num_classes: number of outputs.
        image_size: ``(height, width)``, each at least 8 (three poolings).
        base_channels: channels ``c`` of the first block, >= 1; the feature has ``8c`` dimensions.

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.

    >>> import torch
    >>> model = ConvNet(in_channels=3, num_classes=10, image_size=(32, 32))
    >>> model.forward_features(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 128])
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, image_size: tuple[int, int] = (32, 32), base_channels: int = 16
    ) -> None:
        height, width = image_size
        if min(height, width) < _MIN_SIDE:
            raise ConfigError(
                f"convnet: image_size={tuple(image_size)} is too small; both sides must be >= {_MIN_SIDE} "
                "(three 2x2 poolings)"
            )
        if isinstance(base_channels, bool) or not isinstance(base_channels, int) or base_channels < 1:
            raise ConfigError(f"convnet: base_channels={base_channels!r} must be a positive integer, e.g. 16")
        channels = [base_channels * factor for factor in (1, 2, 4, 8)]
        stages = {
            "block1": _block(in_channels, channels[0], pool=True),
            "block2": _block(channels[0], channels[1], pool=True),
            "block3": _block(channels[1], channels[2], pool=True),
            "block4": _block(channels[2], channels[3], pool=False),
            "pool": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        }
        super().__init__(stages, nn.Linear(channels[3], num_classes), in_channels=in_channels,
                         image_size=(height, width))
