"""AugMix training with the Jensen-Shannon consistency loss (card: policies.md, AugMix)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as nnf

from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.policies.augmix import AugMix, jsd_loss

__all__ = ["AugMixJSD"]


@METHODS.register("augmix_jsd")
class AugMixJSD(Method):
    """Cross-entropy on the clean view plus ``jsd_weight`` x JS over (clean, AugMix, AugMix).

    The three views go through the model as one concatenated batch, as in the reference code
    (so batch-norm statistics mix the views), and the two AugMix views are independent draws.

    Args:
        augmix: the AugMix transform producing the two augmented views.
        jsd_weight: weight of the consistency term (12 in the paper).
    """

    def __init__(self, augmix: AugMix, jsd_weight: float = 12.0) -> None:
        self.augmix = augmix
        self.jsd_weight = float(jsd_weight)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        with ctx.timer.augmentation():
            views = [batch.images, *(self.augmix(batch.images, generator=ctx.generator) for _ in range(2))]
        logits = ctx.model(ctx.normalize(torch.cat(views)))
        clean, first, second = logits.chunk(3)
        cross_entropy = nnf.cross_entropy(clean, batch.labels)
        consistency = jsd_loss(clean, first, second)
        loss = cross_entropy + self.jsd_weight * consistency
        return StepOutput(loss, {"jsd": float(consistency.detach())})

    def describe(self) -> dict[str, Any]:
        return {"method": "augmix_jsd", "augmix": repr(self.augmix), "jsd_weight": self.jsd_weight}
