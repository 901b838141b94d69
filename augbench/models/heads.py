"""Heads that self-supervised methods put on an encoder's features."""

from __future__ import annotations

from torch import nn

__all__ = ["projection_head"]


def projection_head(width: int, hidden: int, out: int) -> nn.Sequential:
    """SimCLR's projection head ``g``: ``Linear(width, hidden, bias=False) - BatchNorm1d - ReLU -
    Linear(hidden, out)`` (Chen et al. 2020), shared by SimCLR, SwAV and UniCon-HA.

    Build it under the caller's seeded RNG: the layers are created (and initialised) in this order.

    Shape:
        ``(B, width)`` float -> ``(B, out)``.
    """
    return nn.Sequential(
        nn.Linear(width, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, out),
    )
