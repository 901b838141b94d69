"""PuzzleMix training: input-gradient saliency, then saliency-guided block mixing (card: ``shared/methods/mixing.md``).

Reference:
    Kim, Choo and Song, "Puzzle Mix: Exploiting Saliency and Local Statistics for Optimal
    Mixup", ICML 2020.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.methods.mix_supervised import soft_cross_entropy
from augbench.mix.puzzlemix import SIMPLIFICATIONS, PuzzleMix

__all__ = ["PuzzleMixSupervised", "input_gradient_saliency"]


def input_gradient_saliency(model: nn.Module, inputs: Tensor, labels: Tensor) -> Tensor:
    """PuzzleMix saliency ``sqrt(mean_c (dL/dx)^2)`` of the clean batch, in eval mode.

    One forward and backward pass of the summed cross-entropy; the gradient is taken with
    respect to the inputs only (``torch.autograd.grad``), so the parameters' ``.grad`` are
    untouched. The model runs in eval mode (the card's pitfall: train-mode batch-norm
    statistics would drift) and is put back in its previous mode afterwards.

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
        mixer: the :class:`~augbench.mix.PuzzleMix` mixer (grid sizes ``(2, 4)`` for 8x8 digits).

    Shape:
        ``batch.images`` ``(B, C, H, W)`` uint8 on the device -> a scalar float32 loss.
    """

    def __init__(self, mixer: PuzzleMix) -> None:
        if not isinstance(mixer, PuzzleMix):
            raise ConfigError(
                f"PuzzleMixSupervised: mixer must be a PuzzleMix, got {mixer!r}; pass PuzzleMix(num_classes)"
            )
        self.mixer = mixer

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        with ctx.timer.augmentation():  # the saliency pass is part of PuzzleMix's augmentation cost
            saliency = input_gradient_saliency(ctx.model, ctx.normalize(batch.images), batch.labels)
            mixed = self.mixer(batch.images, batch.labels, generator=ctx.generator, saliency=saliency)
        logits = ctx.model(ctx.normalize(mixed.inputs))
        return StepOutput(soft_cross_entropy(logits, mixed.targets), {"mean_lam": float(mixed.lam.mean())})

    def describe(self) -> dict[str, Any]:
        return {"method": "puzzlemix", "mixer": repr(self.mixer), "simplifications": list(SIMPLIFICATIONS)}
