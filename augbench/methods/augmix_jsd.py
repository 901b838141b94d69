"""AugMix training with the Jensen-Shannon consistency loss.

Reference:
    Hendrycks et al., "AugMix: A Simple Data Processing Method to Improve Robustness and
    Uncertainty", ICLR 2020; the official code (github.com/google-research/augmix).
"""

from __future__ import annotations


import torch
import torch.nn.functional as nnf

from augbench.methods.base import METHODS, Method
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.errors import ConfigError
from augbench.policies.augmix import AugMix, jsd_loss
from augbench.policies.build import build_transform
from augbench.registry import Spec

__all__ = ["AugMixJSD"]


@METHODS.register("augmix_jsd")
class AugMixJSD(Method):
    """Cross-entropy on the clean view plus ``jsd_weight`` x JS over (clean, AugMix, AugMix).

    The three views go through the model as one concatenated batch, as in the reference code
    (so batch-norm statistics mix the views), and the two AugMix views are independent draws.

    Args:
        augmix: the AugMix spec (``augmix-m3-w3``) or transform making the two augmented views;
            ``None``: severity 3, width 3, random depth, alpha 1.
        jsd_weight: weight of the consistency term (12 in the paper).
    """

    spec_fields = {"augmix": "transform"}

    def __init__(self, augmix: Spec | AugMix | None = None, jsd_weight: float = 12.0) -> None:
        augmix = AugMix() if augmix is None else build_transform(augmix)
        if not isinstance(augmix, AugMix):
            raise ConfigError(f"AugMixJSD: augmix must be an AugMix spec (e.g. augmix-m3-w3), got {augmix!r}")
        self.augmix = augmix
        self.jsd_weight = float(jsd_weight)

    def keyed_views(self) -> list[KeyedView]:
        """The two AugMix views of the labeled batch (key views 1 and 2)."""
        return [KeyedView(self.augmix, "labeled", view) for view in (1, 2)]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        views = [batch["labeled"].inputs, *(ctx.augment(self.augmix, "labeled", view) for view in (1, 2))]
        logits = ctx.model(ctx.normalize(torch.cat(views)))
        clean, first, second = logits.chunk(3)
        cross_entropy = nnf.cross_entropy(clean, batch["labeled"].labels)
        consistency = jsd_loss(clean, first, second)
        loss = cross_entropy + self.jsd_weight * consistency
        ctx.log.add("jsd", consistency)
        return StepOutput(loss)

