"""A multi-layer perceptron on flattened samples: the small-scale harness's KD teacher and student."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["MLP"]


@MODELS.register("mlp")
class MLP(StagedModel):
    """Flatten, then ``Linear - ReLU`` per hidden width, then a linear head (any modality).

    The benchmark's small-scale harness distils a 2x512 teacher into a 1x32 student on the
    8x8 digits. Stages ``fc1 .. fcK`` (``fc1`` flattens first); ``forward_features`` returns the
    last hidden layer ``(B, hidden[-1])``.

    Args:
        input_shape: one sample's shape (from the data), flattened to ``prod(input_shape)`` inputs.
        num_classes: number of outputs.
        hidden: widths of the hidden layers, at least one.

    Shape:
        ``(B, *input_shape)`` float -> ``(B, num_classes)`` logits.

    >>> import torch
    >>> MLP(input_shape=(1, 8, 8), num_classes=10, hidden=(32,))(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, hidden: Sequence[int] = (512, 512)) -> None:
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or not hidden or any(
            isinstance(width, bool) or not isinstance(width, int) or width < 1 for width in hidden
        ):
            raise ConfigError(f"mlp: hidden={hidden!r} must be a non-empty list of positive widths, e.g. [512, 512]")
        widths = [math.prod(input_shape), *hidden]
        stages = {
            f"fc{index + 1}": nn.Sequential(*([nn.Flatten()] if index == 0 else []), nn.Linear(a, b), nn.ReLU())
            for index, (a, b) in enumerate(zip(widths, widths[1:]))
        }
        super().__init__(stages, nn.Linear(widths[-1], num_classes), input_shape=tuple(input_shape))
