"""Early-stopped Mixup (Zou, Cao, Li, Gu, ICML 2023, "The Benefits of Mixup for Feature Learning")."""

from __future__ import annotations

import torch.nn.functional as nnf

from augbench.errors import ConfigError
from augbench.methods.base import METHODS
from augbench.methods.mix_supervised import MixSupervised
from augbench.mix import Mixer
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.transforms.base import Transform

__all__ = ["EarlyStoppedMix"]


@METHODS.register("early_stopped_mix")
class EarlyStoppedMix(MixSupervised):
    """Mix for the first ``mix_epochs`` epochs, then plain ERM for the rest of the same budget.

    Epochs ``0 .. mix_epochs - 1`` are :class:`~augbench.methods.MixSupervised` steps (soft-target
    cross-entropy on mixed batches); from epoch ``mix_epochs`` on, a step is cross-entropy with
    the hard labels on the (optionally augmented) unmixed batch, as ``supervised``. The optimiser,
    its state and the schedule run on unchanged across the switch (with a decaying schedule the
    ERM epochs train at the decayed rate: pick the schedule with that in mind). The paper's
    argument: Mixup's benefit (learning rare features through their mixtures with common ones)
    arrives early in training, so switching to ERM later keeps it.

    A separate method rather than an option of ``mix_supervised`` so that the canonical spec
    (the run identity) of every existing ``mix_supervised`` run stays as it was.

    Args:
        mixer, augment, num_classes: as :class:`~augbench.methods.MixSupervised`.
        mix_epochs: epochs trained with mixing (an integer >= 0; 0 is ERM throughout), or
            ``None`` to mix every epoch (then its steps are ``mix_supervised``'s, bit for bit).

    Logs ``mixing`` per epoch (1 while mixing, 0 after the switch) and ``mean_lam`` while mixing.
    """

    def __init__(
        self,
        mixer: Spec | Mixer = "mixup",
        augment: Spec | Transform | None = None,
        num_classes: int | None = None,
        mix_epochs: int | None = None,
    ) -> None:
        if mix_epochs is not None and (isinstance(mix_epochs, bool) or not isinstance(mix_epochs, int) or mix_epochs < 0):
            raise ConfigError(
                f"early_stopped_mix: mix_epochs={mix_epochs!r} must be an integer >= 0 (e.g. 40 % of the epochs) or null"
            )
        super().__init__(mixer, augment, num_classes)
        self.mix_epochs = mix_epochs

    def mixing(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) trains on mixed batches."""
        return self.mix_epochs is None or epoch < self.mix_epochs

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        if self.mixing(ctx.epoch):
            ctx.log.add("mixing", 1.0)
            return super().training_step(batch, ctx)
        ctx.log.add("mixing", 0.0)
        logits = ctx.model(ctx.normalize(ctx.augment(self.augment, "labeled")))
        return StepOutput(nnf.cross_entropy(logits, batch["labeled"].labels))
