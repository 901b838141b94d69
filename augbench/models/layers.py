"""Small autograd layers shared by methods: the gradient reversal layer of domain-adversarial training.

``grad_reverse(features, lam)`` is the identity in the forward pass and multiplies the incoming
gradient by ``-lam`` in the backward pass (Ganin & Lempitsky, "Unsupervised Domain Adaptation by
Backpropagation", ICML 2015). Put it between an encoder and an adversary (a domain discriminator,
a learnable style perturbation): the adversary descends its loss while everything before the
layer ascends it, in one ordinary backward pass.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = ["grad_reverse"]


class _GradReverse(torch.autograd.Function):
    """Identity forward; ``-lam * grad`` backward (no gradient for ``lam``)."""

    @staticmethod
    def forward(ctx: Any, inputs: Tensor, lam: float) -> Tensor:
        ctx.lam = lam
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad.mul(-ctx.lam), None


def grad_reverse(inputs: Tensor, lam: float = 1.0) -> Tensor:
    """The gradient reversal layer: returns ``inputs`` unchanged; back-propagates ``-lam * grad``.

    Args:
        inputs: any floating tensor (the encoder's features).
        lam: the reversal weight, a finite number >= 0 (0 blocks the gradient, 1 flips it).
            A Python number, so scheduling it costs no host sync.

    Shape:
        any shape -> the same shape and dtype (the forward values are not touched).

    Raises:
        InputTypeError: ``inputs`` is not a floating tensor or ``lam`` is not a number.
        InputValueError: ``lam`` is negative or not finite.

    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> grad_reverse(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000])
    """
    if not isinstance(inputs, Tensor) or not inputs.is_floating_point():
        kind = f"dtype {inputs.dtype}" if isinstance(inputs, Tensor) else type(inputs).__name__
        raise InputTypeError(f"grad_reverse: inputs must be a floating tensor, got {kind}; convert with .float()")
    if isinstance(lam, bool) or not isinstance(lam, (int, float)):
        raise InputTypeError(f"grad_reverse: lam must be a Python number, got {type(lam).__name__}; pass float(lam)")
    if not (math.isfinite(lam) and lam >= 0):
        raise InputValueError(f"grad_reverse: lam={lam!r} must be a finite number >= 0 (0 blocks, 1 reverses)")
    return _GradReverse.apply(inputs, float(lam))
