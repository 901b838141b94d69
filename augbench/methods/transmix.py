"""TransMix training: CutMix/Mixup labels re-weighted by the ViT's own attention (card: ``shared/methods/mixing.md``).

Reference:
    Chen et al., "TransMix: Attend to Mix for Vision Transformers", CVPR 2022.
"""

from __future__ import annotations

from typing import Any

from augbench.errors import ConfigError
from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.methods.mix_supervised import soft_cross_entropy
from augbench.mix.transmix import TransMix
from augbench.models.vit import VisionTransformer

__all__ = ["TransMixSupervised"]


@METHODS.register("transmix")
class TransMixSupervised(Method):
    """Mix with :class:`~augbench.mix.TransMix`, forward once with attention, relabel, soft-target CE.

    The forward pass of the mixed batch returns the last block's class-token attention
    (``model(x, return_attention=True)``, ``(B, heads, P)``); it is detached, viewed on the
    model's ``patch_grid`` and turned into the CutMix label weights by
    :meth:`TransMix.relabel` (no extra pass: cost ≈ 1x plain training).

    Args:
        mixer: the TransMix mixer.

    Shape:
        ``batch.images`` ``(B, C, H, W)`` uint8 on the device -> a scalar float32 loss.
        ``ctx.model`` must be a :class:`~augbench.models.VisionTransformer` (``vit_tiny``).
    """

    def __init__(self, mixer: TransMix) -> None:
        if not isinstance(mixer, TransMix):
            raise ConfigError(
                f"TransMixSupervised: mixer must be a TransMix, got {mixer!r}; pass TransMix(num_classes)"
            )
        self.mixer = mixer

    def setup(self, ctx: TrainContext) -> None:
        """Check that the model exposes class-token attention."""
        self._vit(ctx)

    def training_step(self, batch: Batch, ctx: TrainContext) -> StepOutput:
        model = self._vit(ctx)
        with ctx.timer.augmentation():
            params = self.mixer.sample(batch.images, batch.labels, generator=ctx.generator)
            mixed = self.mixer.apply(batch.images, batch.labels, params)
        logits, attention = model(ctx.normalize(mixed.inputs), return_attention=True)
        grid = attention.detach().view(attention.shape[0], attention.shape[1], *model.patch_grid)
        relabelled = self.mixer.relabel(mixed, batch.labels, params, grid)
        logs = {"mean_lam": float(relabelled.lam.mean()), "mean_area_lam": float(mixed.lam.mean())}
        return StepOutput(soft_cross_entropy(logits, relabelled.targets), logs)

    def describe(self) -> dict[str, Any]:
        return {"method": "transmix", "mixer": repr(self.mixer)}

    @staticmethod
    def _vit(ctx: TrainContext) -> VisionTransformer:
        model = ctx.model
        if not isinstance(model, VisionTransformer):
            raise ConfigError(
                f"transmix needs a ViT that returns class-token attention, but the model is {type(model).__name__}; "
                "train it with model='vit_tiny' (RunConfig(model='vit_tiny'))"
            )
        return model
