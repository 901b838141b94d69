"""Exponential-moving-average copies of a model (momentum encoders, EMA teachers) and their momentum ramp.

Reference:
    He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020
    (arXiv:1911.05722) for the momentum update; Grill et al., "Bootstrap Your Own Latent",
    NeurIPS 2020 (arXiv:2006.07733) for the cosine momentum ramp.
"""

from __future__ import annotations

import copy
import math
from typing import Generic, TypeVar

import torch
from torch import nn

from augbench.errors import InputValueError

__all__ = ["MomentumEncoder", "cosine_momentum"]

M = TypeVar("M", bound=nn.Module)


def cosine_momentum(step: int, total_steps: int, start: float, end: float) -> float:
    """EMA momentum at optimiser step ``step``: a cosine ramp from ``start`` (step 0) to ``end`` (last).

    ``m(t) = end - (end - start) * (1 + cos(pi * t / T)) / 2`` with ``t`` clipped to ``[0, T]``
    (BYOL's schedule, which ramps ``0.996 -> 1``).

    >>> cosine_momentum(0, 10, 0.5, 0.9), cosine_momentum(10, 10, 0.5, 0.9)
    (0.5, 0.9)
    """
    progress = min(max(step, 0), total_steps) / max(total_steps, 1)
    return end - (end - start) * 0.5 * (1.0 + math.cos(math.pi * progress))


class MomentumEncoder(Generic[M]):
    """A frozen copy ``f_k`` of a model that follows it by an exponential moving average.

    ``update(online, m)`` sets every parameter to ``m * p_k + (1 - m) * p_q`` and copies the
    buffers (batch-norm statistics). The copy is kept in eval mode and its parameters do not
    require gradients: gradients reach its *inputs* but never its weights.

    Args:
        online: the model being trained (``f_q``), any ``nn.Module``; it is deep-copied, and
            :attr:`model` keeps its type.

    >>> online = nn.Linear(2, 1)
    >>> ema = MomentumEncoder(online)
    >>> ema.model.weight.requires_grad, ema.model.training
    (False, False)
    """

    def __init__(self, online: M) -> None:
        self.model: M = copy.deepcopy(online).requires_grad_(False).eval()

    @torch.no_grad()
    def update(self, online: nn.Module, momentum: float) -> None:
        """One EMA step towards ``online`` (the module that was copied) with ``momentum`` in [0, 1]."""
        if not 0.0 <= momentum <= 1.0:
            raise InputValueError(f"MomentumEncoder.update: momentum={momentum!r} must be in [0, 1]")
        for target, source in zip(self.model.parameters(), online.parameters(), strict=True):
            target.mul_(momentum).add_(source.detach(), alpha=1.0 - momentum)
        for target, source in zip(self.model.buffers(), online.buffers(), strict=True):
            target.copy_(source)
