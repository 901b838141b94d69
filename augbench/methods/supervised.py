"""Plain supervised training, optionally with an augmentation: the baseline of every method."""

from __future__ import annotations

import torch.nn.functional as nnf

from augbench.methods.base import METHODS, Method
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = ["Supervised"]


@METHODS.register("supervised")
class Supervised(Method):
    """Cross-entropy on the (optionally augmented) labeled stream; labels are untouched.

    The augmentation runs on the whole stored batch on the training device, one keyed
    parameter set per sample (``ctx.keys("labeled")``), before normalisation.

    Args:
        augment: a transform spec (policy string or ``{type: TransformName, ...}``), a built
            transform, or ``None`` for no augmentation.
    """

    spec_fields = {"augment": "transform"}

    def __init__(self, augment: Spec | Transform | None = None) -> None:
        self.augment = build_transform(augment)

    def keyed_views(self) -> list[KeyedView]:
        """The augmented labeled batch (key view 0)."""
        return [] if self.augment is None else [KeyedView(self.augment, "labeled", 0)]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        logits = ctx.model(ctx.normalize(ctx.augment(self.augment, "labeled")))
        return StepOutput(nnf.cross_entropy(logits, batch["labeled"].labels))
