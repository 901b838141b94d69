"""Training with a sample-mixing augmentation: soft-target cross-entropy on mixed batches."""

from __future__ import annotations

from augbench.losses import soft_cross_entropy
from augbench.methods.base import METHODS, Method
from augbench.mix import Mixer, build_mixer
from augbench.policies.build import build_transform
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.views import KeyedView
from augbench.transforms.base import Transform

__all__ = ["MixSupervised"]


@METHODS.register("mix_supervised")
class MixSupervised(Method):
    """Mix every batch with ``mixer`` (after an optional augmentation) and train on soft targets.

    The augmentation uses keyed per-sample draws; the mixer draws partners and weights from
    ``ctx.generator`` (a partner is another sample of the same batch, so mixing is batch-bound
    by nature).

    Args:
        mixer: a mixer spec (``"cutmix"``, ``{type: mixup, alpha: 1.0}``) or a built mixer.
        augment: a transform spec or transform applied to the stored batch before mixing, or ``None``.
        num_classes: from the run's data (builds the mixer spec).
    """

    spec_fields = {"mixer": "mixer", "augment": "transform"}

    def __init__(
        self, mixer: Spec | Mixer = "mixup", augment: Spec | Transform | None = None, num_classes: int | None = None
    ) -> None:
        self.mixer = build_mixer(mixer, num_classes)
        self.augment = build_transform(augment)

    def keyed_views(self) -> list[KeyedView]:
        """The augmented labeled batch before mixing (key view 0)."""
        return [] if self.augment is None else [KeyedView(self.augment, "labeled", 0)]

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        labeled = batch["labeled"]
        inputs = ctx.augment(self.augment, "labeled")
        with ctx.timer.augmentation():
            mixed = self.mixer(inputs, labeled.labels, generator=ctx.generator)
        logits = ctx.model(ctx.normalize(mixed.inputs))
        ctx.log.add("mean_lam", mixed.lam.mean())
        return StepOutput(soft_cross_entropy(logits, mixed.targets))
