"""PuzzleMix training: input-gradient saliency, then saliency-guided block mixing.

Reference:
    Kim, Choo and Song, "Puzzle Mix: Exploiting Saliency and Local Statistics for Optimal
    Mixup", ICML 2020.
"""

from __future__ import annotations


import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods.base import METHODS, Method
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.mix import build_mixer
from augbench.mix.puzzlemix import SIMPLIFICATIONS, PuzzleMix
from augbench.registry import Spec

__all__ = ["PuzzleMixSupervised", "input_gradient_saliency"]


def input_gradient_saliency(model: nn.Module, inputs: Tensor, labels: Tensor) -> Tensor:
    """PuzzleMix saliency ``sqrt(mean_c (dL/dx)^2)`` of the clean batch, in eval mode.

    One forward and backward pass of the summed cross-entropy; the gradient is taken with
    respect to the inputs only (``torch.autograd.grad``), so the parameters' ``.grad`` are
    untouched. The model runs in eval mode (in train mode the batch-norm statistics would
    drift) and is put back in its previous mode afterwards.

    Args:
        model: the classifier being trained.
        inputs: ``(B, C, H, W)`` float, normalised model inputs.
        labels: ``(B,)`` int64 class indices.

    Returns:
        ``(B, H, W)`` float, non-negative, detached.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            inputs = inputs.detach().requires_grad_(True)
            loss = nnf.cross_entropy(model(inputs), labels, reduction="sum")
            (gradient,) = torch.autograd.grad(loss, inputs)
    finally:
        model.train(was_training)
    return gradient.pow(2).mean(1).sqrt()


@METHODS.register("puzzlemix")
class PuzzleMixSupervised(Method):
    """Per step: saliency of the clean batch, a PuzzleMix batch, soft-target cross-entropy on it.

    The extra forward/backward pass for the saliency (:func:`input_gradient_saliency`) makes
    a step roughly twice as expensive as plain training, plus the mask and transport solve
    (see :mod:`augbench.mix.puzzlemix`, whose simplifications apply: checkerboard ICM instead
    of a graph cut, a bisected ratio multiplier, greedy transport over mask blocks, no
    adversarial noise or clean-loss term).

    Args:
        mixer: a PuzzleMix spec or mixer; ``None`` uses alpha 1, beta 1.2, gamma 0.5, eta 0.2,
            3 labels, transport eps 0.8 and grid sizes ``(2, 4)`` below 32 px (the benchmark's
            small-scale harness), ``(2, 4, 8, 16)`` otherwise.
        num_classes, input_shape: from the run's data (to build a spec).

    Shape:
        ``batch["labeled"].inputs`` ``(B, C, H, W)`` uint8 on the device -> a scalar float32 loss.
    """

    spec_fields = {"mixer": "mixer"}

    def __init__(
        self,
        mixer: Spec | PuzzleMix | None = None,
        num_classes: int | None = None,
        input_shape: tuple[int, ...] | None = None,
    ) -> None:
        if mixer is None:  # the small-scale harness's grid below 32 px, the paper's above
            small = input_shape is not None and min(input_shape[-2:]) < 32
            mixer = {"type": "puzzlemix", "grid_sizes": [2, 4] if small else [2, 4, 8, 16]}
        mixer = build_mixer(mixer, num_classes)
        if not isinstance(mixer, PuzzleMix):
            raise ConfigError(
                f"PuzzleMixSupervised: mixer must be a PuzzleMix, got {mixer!r}; pass PuzzleMix(num_classes)"
            )
        self.mixer = mixer

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        with ctx.timer.augmentation():  # the saliency pass is part of PuzzleMix's augmentation cost
            saliency = input_gradient_saliency(ctx.model, ctx.normalize(batch["labeled"].inputs), batch["labeled"].labels)
            mixed = self.mixer(batch["labeled"].inputs, batch["labeled"].labels, generator=ctx.generator, saliency=saliency)
        logits = ctx.model(ctx.normalize(mixed.inputs))
        ctx.log.add("mean_lam", mixed.lam.mean())
        return StepOutput(soft_cross_entropy(logits, mixed.targets))


PuzzleMixSupervised.__doc__ = (PuzzleMixSupervised.__doc__ or "") + (
    "\n    Simplifications against the paper: " + "; ".join(SIMPLIFICATIONS) + ".\n"
)
