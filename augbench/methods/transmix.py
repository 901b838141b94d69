"""TransMix training: CutMix/Mixup labels re-weighted by the ViT's own attention.

Reference:
    Chen et al., "TransMix: Attend to Mix for Vision Transformers", CVPR 2022.
"""

from __future__ import annotations


from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods.base import METHODS, Method
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.mix import build_mixer
from augbench.mix.transmix import TransMix
from augbench.models.vit import VisionTransformer
from augbench.registry import Spec

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
        ``batch["labeled"].inputs`` ``(B, C, H, W)`` uint8 on the device -> a scalar float32 loss.
        ``ctx.model`` must be a :class:`~augbench.models.VisionTransformer` (``vit_tiny``).
    """

    spec_fields = {"mixer": "mixer"}

    def __init__(self, mixer: Spec | TransMix = "transmix", num_classes: int | None = None) -> None:
        mixer = build_mixer(mixer, num_classes)
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
            params = self.mixer.sample(batch["labeled"].inputs, batch["labeled"].labels, generator=ctx.generator)
            mixed = self.mixer.apply(batch["labeled"].inputs, batch["labeled"].labels, params)
        logits, attention = model(ctx.normalize(mixed.inputs), return_attention=True)
        grid = attention.detach().view(attention.shape[0], attention.shape[1], *model.patch_grid)
        relabelled = self.mixer.relabel(mixed, batch["labeled"].labels, params, grid)
        ctx.log.add("mean_lam", relabelled.lam.mean())
        ctx.log.add("mean_area_lam", mixed.lam.mean())
        return StepOutput(soft_cross_entropy(logits, relabelled.targets))


    @staticmethod
    def _vit(ctx: TrainContext) -> VisionTransformer:
        model = ctx.model
        if not isinstance(model, VisionTransformer):
            raise ConfigError(
                f"transmix needs a ViT that returns class-token attention, but the model is {type(model).__name__}; "
                "train it with model vit_tiny (--model vit_tiny)"
            )
        return model
