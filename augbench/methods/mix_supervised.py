"""Training with a sample-mixing augmentation: soft-target cross-entropy on mixed batches."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.mix import Mixer
from augbench.transforms.base import Transform

__all__ = ["MixSupervised", "soft_cross_entropy"]


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean of ``-sum_k targets[b, k] log softmax(logits)[b, k]``; ``(B, K)`` float each.

    With ``targets = lam * onehot(y) + (1 - lam) * onehot(y[index])`` this equals the mixed
    loss ``lam * CE(logits, y) + (1 - lam) * CE(logits, y[index])`` of the mixing papers.
    """
    return -(targets * torch.log_softmax(logits, dim=1)).sum(1).mean()


@METHODS.register("mix_supervised")
class MixSupervised(Method):
    """Mix every batch with ``mixer`` (after an optional augmentation) and train on soft targets.

    Args:
        mixer: the mixer (``augbench.mix``), built for the dataset's number of classes.
        augment: a transform applied to the uint8 batch before mixing, or ``None``.
    """

    def __init__(self, mixer: Mixer, augment: Transform | None = None) -> None:
        self.mixer = mixer
        self.augment = augment

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        with ctx.timer.augmentation():
            images = batch.images if self.augment is None else self.augment(batch.images, generator=ctx.generator)
            mixed = self.mixer(images, batch.labels, generator=ctx.generator)
        logits = ctx.model(ctx.normalize(mixed.inputs))
        return StepOutput(soft_cross_entropy(logits, mixed.targets), {"mean_lam": float(mixed.lam.mean())})

    def describe(self) -> dict[str, Any]:
        return {"method": "mix_supervised", "mixer": repr(self.mixer), "augment": repr(self.augment)}
