"""A small PointNet (Qi et al. 2017) for point-cloud classification, without the T-Nets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["PointNet"]

_WIDTHS = (64, 128, 256)
_HIDDEN = 128


class _PointsFirst(nn.Module):
    """``(B, N, D)`` clouds -> ``(B, D, N)`` for the 1x1 convolutions."""

    def forward(self, points: Tensor) -> Tensor:
        return points.transpose(1, 2)


class _MaxPool(nn.Module):
    """Symmetric max over the points: ``(B, C, N)`` -> ``(B, C)``; the order of the points does not matter."""

    def forward(self, features: Tensor) -> Tensor:
        return features.amax(-1)


def _shared_mlp(in_channels: int, out_channels: int) -> list[nn.Module]:
    """The same linear map on every point (conv1d, kernel 1) - BN - ReLU."""
    return [nn.Conv1d(in_channels, out_channels, 1), nn.BatchNorm1d(out_channels), nn.ReLU()]


@MODELS.register("pointnet")
class PointNet(StagedModel):
    """PointNet of Qi, Su, Mo & Guibas 2017, "PointNet: Deep Learning on Point Sets for 3D
    Classification and Segmentation", sized for a CPU.

    A shared per-point MLP, a max over the points (the symmetric function that makes the model
    invariant to the order of the points) and a small classifier. Stages (see
    :class:`~augbench.models.staged.StagedModel`):
    ``mlp1``: per point 3+F -> 64w, BN, ReLU -> ``(B, 64w, N)``;
    ``mlp2``: -> 128w -> ``(B, 128w, N)``; ``mlp3``: -> 256w -> ``(B, 256w, N)``;
    ``pool``: max over the points -> ``(B, 256w)``;
    ``fc``: linear -> 128w, BN, ReLU, dropout -> ``(B, 128w)``; head: linear -> ``num_classes``.

    Simplified from the paper: no input or feature transform networks (T-Nets) and so no
    orthogonality regulariser (the paper's "vanilla" PointNet, which its ablation finds a few
    points less accurate on ModelNet40), a 64-128-256 per-point MLP instead of 64-64-64-128-1024, and one hidden
    classifier layer of 128 instead of 512-256. Extra point features (``D > 3``) enter the first
    layer with the coordinates.

    Args:
        num_classes: number of outputs, >= 1.
        input_shape: ``(N, D)`` of one cloud, ``D >= 3``; ``N`` is nominal (any number of points
            works, the max-pool removes it).
        width: multiplier of the channel counts (> 0).
        dropout: dropout probability before the head, in [0, 1) (the paper's keep ratio 0.7).

    Shape:
        ``(B, N, D)`` float -> ``(B, num_classes)`` logits; ``forward_features`` -> ``(B, 128w)``.

    >>> model = PointNet(num_classes=10, input_shape=(256, 3), width=0.5)
    >>> model(torch.randn(2, 256, 3)).shape, model.forward_features(torch.randn(2, 100, 3)).shape
    (torch.Size([2, 10]), torch.Size([2, 64]))
    """

    def __init__(
        self, num_classes: int = 10, input_shape: Sequence[int] = (1024, 3), width: float = 1.0, dropout: float = 0.3
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"pointnet: num_classes={num_classes!r} must be a whole number >= 1")
        shape = tuple(input_shape)
        if len(shape) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape) or shape[0] < 1 or shape[1] < 3:
            raise ConfigError(f"pointnet: input_shape={input_shape!r} must be (points, values per point >= 3), e.g. (1024, 3)")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ConfigError(f"pointnet: width={width!r} must be > 0 (1.0 = 64-128-256 channels)")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"pointnet: dropout={dropout!r} must be in [0, 1)")
        channels = [max(1, round(count * width)) for count in _WIDTHS]
        hidden = max(1, round(_HIDDEN * width))
        stages = {
            "mlp1": nn.Sequential(_PointsFirst(), *_shared_mlp(shape[1], channels[0])),
            "mlp2": nn.Sequential(*_shared_mlp(channels[0], channels[1])),
            "mlp3": nn.Sequential(*_shared_mlp(channels[1], channels[2])),
            "pool": _MaxPool(),
            "fc": nn.Sequential(nn.Linear(channels[2], hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)),
        }
        super().__init__(stages, nn.Linear(hidden, num_classes), input_shape=shape, free_axes=(0,))
        self.width = float(width)
        self.dropout = float(dropout)
