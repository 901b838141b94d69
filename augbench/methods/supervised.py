"""Plain supervised training, optionally with an augmentation: the baseline of every card."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as nnf

from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.transforms.base import Transform

__all__ = ["Supervised"]


@METHODS.register("supervised")
class Supervised(Method):
    """Cross-entropy on the (optionally augmented) batch; labels are untouched.

    The augmentation runs on the whole uint8 batch on the training device, one parameter
    set per sample, before normalisation (augbench's fast path).

    Args:
        augment: the transform applied to every training batch, or ``None`` for no augmentation.
    """

    def __init__(self, augment: Transform | None = None) -> None:
        self.augment = augment

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        images = batch.images
        if self.augment is not None:
            with ctx.timer.augmentation():
                images = self.augment(images, generator=ctx.generator)
        logits = ctx.model(ctx.normalize(images))
        loss = nnf.cross_entropy(logits, batch.labels)
        return StepOutput(loss)

    def describe(self) -> dict[str, Any]:
        return {"method": "supervised", "augment": repr(self.augment)}
