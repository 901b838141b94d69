"""Helpers for testing training methods (augbench's own tests use them; so can a new method's).

:class:`Recorder` wraps a model and keeps what a method's step fed it and got back, so a test can
check a method's inputs (which views, how many forward passes) and its loss against a hand
computation on the recorded logits.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Recorder"]


class Recorder(nn.Module):
    """Wraps a model: counts forward calls, keeps the last input and the last logits (with their grad).

    Attributes:
        calls: number of forward calls so far.
        inputs: the last input, detached ``(B, ...)``.
        logits: the last output ``(B, K)``, with ``retain_grad()`` (when it requires grad) so a test can read its gradient.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls = 0
        self.inputs = torch.empty(0)
        self.logits = torch.empty(0)

    def forward(self, inputs: Tensor) -> Tensor:
        self.calls += 1
        self.inputs = inputs.detach().clone()
        self.logits = self.model(inputs)
        if self.logits.requires_grad:  # under no_grad there is no gradient to keep
            self.logits.retain_grad()
        return self.logits
