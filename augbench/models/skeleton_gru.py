"""A small recurrent classifier for skeleton sequences: joints flattened per frame, two GRU layers."""

from __future__ import annotations

import math

from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["SkeletonGRU"]


class _FrameGRU(nn.Module):
    """One GRU layer over frames: ``(B, T, D)`` -> ``(B, T, hidden)`` (its output sequence),
    flattening ``(B, T, J, 3)`` joints to ``D = 3 J`` features per frame first."""

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)

    def forward(self, inputs: Tensor) -> Tensor:
        return self.gru(inputs.flatten(2))[0]


class _TimeMean(nn.Module):
    """``(B, T, D)`` -> ``(B, D)``: the mean over frames."""

    def forward(self, inputs: Tensor) -> Tensor:
        return inputs.mean(1)


@MODELS.register("skeleton_gru")
class SkeletonGRU(StagedModel):
    """Skeleton action classifier: the ``J x 3`` coordinates of each frame as one vector, a
    2-layer GRU over the frames, the mean of its outputs over time, a linear head.

    In the spirit of the RNN baselines of skeleton action recognition (e.g. the 2-layer LSTM of
    Shahroudy et al., "NTU RGB+D", CVPR 2016), simplified: a GRU, unidirectional, no body-part
    structure, no graph; the joint topology is left to the network to learn. Inputs are used
    as given (the bundled loaders centre them, in metres; the skeleton modality does no
    normalisation). Mean pooling over the GRU outputs rather than the last state, which trains
    more steadily on short sequences.

    Stages (see :class:`~augbench.models.staged.StagedModel`):
    ``gru1``: flatten joints -> GRU(3J -> hidden) -> ``(B, T, hidden)``;
    ``gru2``: dropout -> GRU(hidden -> hidden) -> ``(B, T, hidden)``;
    ``pool``: dropout -> mean over frames -> ``(B, hidden)`` features;
    head: linear(hidden -> num_classes). Any number of frames works (``input_shape`` gives the
    nominal ``(T, J, 3)``).

    Args:
        num_classes: number of outputs, >= 1.
        input_shape: ``(T, J, 3)`` of one sequence.
        hidden: GRU width, >= 1.
        dropout: dropout between the layers and before the pooling, in [0, 1).

    Shape:
        ``(B, T, J, 3)`` float -> ``(B, num_classes)`` logits; ``forward_features`` -> ``(B, hidden)``.

    >>> import torch
    >>> model = SkeletonGRU(num_classes=20, input_shape=(32, 20, 3), hidden=16)
    >>> model(torch.randn(2, 32, 20, 3)).shape, model.forward_features(torch.randn(2, 50, 20, 3)).shape
    (torch.Size([2, 20]), torch.Size([2, 16]))
    """

    def __init__(
        self, num_classes: int = 20, input_shape: tuple[int, ...] = (32, 20, 3), hidden: int = 128, dropout: float = 0.2
    ) -> None:
        shape = tuple(input_shape)
        if len(shape) != 3 or shape[2] != 3 or not all(isinstance(v, int) and v >= 1 for v in shape):
            raise ConfigError(f"skeleton_gru: input_shape={input_shape!r} must be (frames, joints, 3)")
        for option, value in (("num_classes", num_classes), ("hidden", hidden)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"skeleton_gru: {option}={value!r} must be a whole number >= 1")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1 or math.isnan(dropout):
            raise ConfigError(f"skeleton_gru: dropout={dropout!r} must be a number in [0, 1)")
        stages = {
            "gru1": _FrameGRU(shape[1] * 3, hidden),
            "gru2": nn.Sequential(nn.Dropout(dropout), _FrameGRU(hidden, hidden)),
            "pool": nn.Sequential(nn.Dropout(dropout), _TimeMean()),
        }
        super().__init__(stages, nn.Linear(hidden, num_classes), input_shape=shape, free_axes=(0,))
        self.hidden = hidden
        self.dropout = float(dropout)
