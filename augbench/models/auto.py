"""``auto``: the smallest shipped model that suits the data, for datasets the user brings."""

from __future__ import annotations

from torch import nn

from augbench.errors import ConfigError
from augbench.models.convnet import ConvNet
from augbench.models.harness import HarnessCNN
from augbench.models.registry import MODELS
from augbench.models.timeseries_cnn import TimeSeriesCNN

__all__ = ["auto_model", "SMALL_IMAGE_SIDE"]

SMALL_IMAGE_SIDE = 16
"""Images with a shorter side get the small-scale harness CNN; larger ones the pooled ConvNet."""


@MODELS.register("auto")
def auto_model(
    num_classes: int,
    input_shape: tuple[int, ...],
    image_size: tuple[int, int] | None = None,
    length: int | None = None,
    in_channels: int | None = None,
) -> nn.Module:
    """A model sized to the input, so a folder of small images does not train a ResNet-18.

    Images: :class:`~augbench.models.harness.HarnessCNN` when the shorter side is under 16 px
    (the small-scale harness's 2-conv network), else :class:`~augbench.models.convnet.ConvNet`
    (four pooled blocks, a 128-d feature: seconds per epoch on a CPU for a few thousand 32-96 px
    images, where ``preact_resnet18`` takes minutes). Time series and waveforms:
    :class:`~augbench.models.timeseries_cnn.TimeSeriesCNN`. Name a model explicitly
    (``--model preact_resnet18``) for accuracy on large datasets.

    Args:
        num_classes, input_shape, image_size, length, in_channels: from the data (the modality
            says which it provides: ``image_size`` for images, ``length`` for series).
    """
    channels = 1 if in_channels is None else in_channels
    if image_size is not None:
        height, width = image_size
        if min(height, width) < SMALL_IMAGE_SIDE:
            return HarnessCNN(in_channels=channels, num_classes=num_classes, image_size=(height, width))
        return ConvNet(in_channels=channels, num_classes=num_classes, image_size=(height, width))
    if length is not None:
        return TimeSeriesCNN(in_channels=channels, num_classes=num_classes, length=length)
    raise ConfigError(f"model 'auto' has no default for samples of shape {tuple(input_shape)}; name a model with --model")
