"""The ``Method`` interface: how a training recipe turns a batch into a loss.

The trainer owns the model, optimiser, schedule, device, data, timing and logging; a method
owns the step. Plain training with an augmentation, sample mixing and learned recipes
(extra networks, second optimisers, momentum models) all plug in here, so the benchmark
treats every card the same way. A new method is one file in ``augbench/methods/`` plus a
``@METHODS.register(name)`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from augbench.metrics.cost import StepTimer
from augbench.registry import Registry

__all__ = ["Batch", "StepOutput", "TrainContext", "Method", "METHODS"]


@dataclass
class Batch:
    """One training batch, already on the training device.

    Attributes:
        images: ``(B, C, H, W)`` uint8 in 0-255, not yet augmented or normalised.
        labels: ``(B,)`` int64 class indices.
        ids: ``(B,)`` int64 dataset indices of the samples (for keyed randomness).
    """

    images: Tensor
    labels: Tensor
    ids: Tensor


@dataclass
class StepOutput:
    """What a training step returns: the loss to minimise and scalars to log."""

    loss: Tensor
    logs: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainContext:
    """Everything a method may use during training.

    Attributes:
        model: the network being trained.
        optimizer: its optimiser (methods may create more in ``setup``).
        device: the training device.
        num_classes: number of classes.
        generator: the source of augmentation randomness for this run.
        normalize: maps a uint8 ``(B, C, H, W)`` batch to the float model input.
        total_steps: optimiser steps in the whole run.
        timer: splits step time into augmentation and the rest; wrap augmentation work in
            ``with ctx.timer.augmentation():`` so the benchmark can report its share.
        extra_optimizers: optimisers a method adds in ``setup`` (e.g. for a mix block or a
            policy network); the trainer zeroes and steps them with the main one, after the
            backward pass of the loss the method returns.
        epoch: current epoch (0-based), updated by the trainer.
        step: optimiser steps taken so far, updated by the trainer.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    num_classes: int
    generator: torch.Generator
    normalize: Callable[[Tensor], Tensor]
    total_steps: int
    timer: StepTimer = field(default_factory=StepTimer)
    extra_optimizers: list[torch.optim.Optimizer] = field(default_factory=list)
    epoch: int = 0
    step: int = 0


class Method:
    """Base class of training recipes. Override :meth:`training_step`; the rest is optional.

    Per batch the trainer calls :meth:`training_step`, zeroes the gradients of ``ctx.optimizer``
    and ``ctx.extra_optimizers``, back-propagates the returned loss, steps all optimisers and
    the learning-rate schedule, then calls :meth:`on_after_step` (e.g. for a momentum/EMA
    model). A method with a loss of its own for a second network returns the sum, or steps that
    network itself inside ``training_step``.
    """

    def setup(self, ctx: TrainContext) -> None:
        """Create extra networks or optimisers before training starts."""

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        """Compute the loss of one batch (the trainer calls backward and steps)."""
        raise NotImplementedError

    def on_after_step(self, ctx: TrainContext) -> None:
        """Hook after every optimiser step, e.g. a momentum-encoder or EMA-teacher update."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Hook after each epoch, e.g. to update a policy."""

    def predict(self, model: nn.Module, inputs: Tensor) -> Tensor:
        """Logits for normalised float inputs ``(B, C, H, W)``; test-time augmentation overrides."""
        return model(inputs)

    def describe(self) -> dict[str, Any]:
        """The method's configuration, stored with every result."""
        return {"method": type(self).__name__}


METHODS: Registry[Method] = Registry("method")
