"""The fully convolutional network (FCN) for time-series classification of Wang et al. 2017."""

from __future__ import annotations

from torch import nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["TimeSeriesCNN"]

_CHANNELS = (128, 256, 128)
_KERNELS = (8, 5, 3)


def _block(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """conv1d - BN - ReLU keeping the length ("same" padding; an even kernel pads one more on the right)."""
    left, right = (kernel_size - 1) // 2, kernel_size // 2
    if left == right:
        layers: list[nn.Module] = [nn.Conv1d(in_channels, out_channels, kernel_size, padding=left)]
    else:
        layers = [nn.ConstantPad1d((left, right), 0.0), nn.Conv1d(in_channels, out_channels, kernel_size)]
    return nn.Sequential(*layers, nn.BatchNorm1d(out_channels), nn.ReLU())


@MODELS.register("timeseries_cnn")
class TimeSeriesCNN(StagedModel):
    """FCN of Wang, Yan & Oates 2017, "Time series classification from scratch with deep neural
    networks": three conv-BN-ReLU blocks, global average pooling over time, a linear head.

    Stages (see :class:`~augbench.models.staged.StagedModel`):
    ``conv1``: conv1d(C->128w, kernel 8) - BN - ReLU -> ``(B, 128w, L)``;
    ``conv2``: conv1d(->256w, kernel 5) - BN - ReLU -> ``(B, 256w, L)``;
    ``conv3``: conv1d(->128w, kernel 3) - BN - ReLU -> ``(B, 128w, L)``;
    ``pool``: mean over time -> ``(B, D)`` features, ``D = round(128 * width)``;
    head: linear(D->num_classes). All convolutions use "same" padding (stride 1), so the length
    is kept and, thanks to the global pooling, any length works: ``length`` is the nominal
    length the model is built for (``input_shape = (in_channels, length)``), not a requirement.

    Args:
        in_channels: channels (dimensions) of the series, >= 1.
        num_classes: number of outputs, >= 1.
        length: nominal series length in steps, >= 1.
        width: multiplier of the channel counts 128/256/128 (> 0; e.g. 0.25 on a CPU).

    Shape:
        ``(B, in_channels, L)`` float -> ``(B, num_classes)`` logits, any ``L >= 1``;
        ``forward_features`` -> ``(B, D)``.

    >>> import torch
    >>> model = TimeSeriesCNN(in_channels=3, num_classes=4, length=50, width=0.25)
    >>> model(torch.randn(2, 3, 50)).shape, model.forward_features(torch.randn(2, 3, 70)).shape
    (torch.Size([2, 4]), torch.Size([2, 32]))
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, length: int = 150, width: float = 1.0) -> None:
        for option, value in (("in_channels", in_channels), ("num_classes", num_classes), ("length", length)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"timeseries_cnn: {option}={value!r} must be a whole number >= 1")
        if not isinstance(width, (int, float)) or isinstance(width, bool) or not width > 0:
            raise ConfigError(f"timeseries_cnn: width={width!r} must be > 0 (1.0 = the paper's 128/256/128 channels)")
        channels = [max(1, round(count * width)) for count in _CHANNELS]
        stages = {
            "conv1": _block(in_channels, channels[0], _KERNELS[0]),
            "conv2": _block(channels[0], channels[1], _KERNELS[1]),
            "conv3": _block(channels[1], channels[2], _KERNELS[2]),
            "pool": nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten()),
        }
        super().__init__(
            stages, nn.Linear(channels[2], num_classes), input_shape=(in_channels, length), free_axes=(1,)
        )
        self.width = float(width)
