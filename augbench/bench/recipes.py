"""Named training recipes for the benchmark (``--augs``): an augmentation, a policy or a mixer.

A recipe turns a name into a :class:`~augbench.methods.Method` for a dataset's image shape and
class count. Registered names cover the harness augmentations and the mixers; any other name is
parsed as a policy string (``rand-m9-n2``, ``trivialaugment``, ``autoaug-cifar10``,
``rrc32-hflip-rand-m9-n2-erase0.25``) and trained with plain cross-entropy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from augbench.errors import ConfigError
from augbench.methods import (
    AdAutoMix,
    AugMixJSD,
    AutoMix,
    ManifoldMixup,
    Method,
    MixSupervised,
    PuzzleMixSupervised,
    Supervised,
    TransMixSupervised,
)
from augbench.mix import MIXERS, Mixup, PuzzleMix, TransMix
from augbench.mix.puzzlemix import SIMPLIFICATIONS as PUZZLEMIX_SIMPLIFICATIONS
from augbench.policies import AugMix, parse
from augbench.registry import Registry
from augbench.transforms import HorizontalFlip, RandomAffine, RandomErasing, RandomResizedCrop

__all__ = ["RECIPES", "build_recipe", "check_recipe"]

ImageShape = tuple[int, int, int]
RecipeFactory = Callable[[ImageShape, int], Method]

RECIPES: Registry[Method] = Registry("recipe")


def check_recipe(name: str) -> None:
    """Raise one line unless ``name`` is a registered recipe or a valid policy string."""
    if name in RECIPES:
        return
    try:
        parse(name)
    except ConfigError as error:
        close = RECIPES.get_close(name)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ConfigError(
            f"unknown recipe {name!r}; {hint}use one of {', '.join(RECIPES.names())} or a policy string ({error})"
        ) from None


def build_recipe(name: str, image_shape: ImageShape, num_classes: int) -> Method:
    """The method for ``name`` (a registered recipe or a policy string)."""
    check_recipe(name)
    if name in RECIPES:
        return RECIPES.build(name, image_shape=image_shape, num_classes=num_classes)
    return Supervised(parse(name).build())


@RECIPES.register("baseline")
def baseline(image_shape: ImageShape, num_classes: int) -> Method:
    """No augmentation."""
    return Supervised(None)


@RECIPES.register("affine")
def affine(image_shape: ImageShape, num_classes: int) -> Method:
    """The card harness's random affine: rotation +-15 deg, shift +-1 px on 8x8 (1/8 of the side),
    shear factor +-0.2 (= +-11.3 deg), bilinear."""
    shear_degrees = math.degrees(math.atan(0.2))
    return Supervised(RandomAffine(degrees=15, translate=(0.125, 0.125), shear=shear_degrees, interpolation="bilinear"))


@RECIPES.register("erasing")
def erasing(image_shape: ImageShape, num_classes: int) -> Method:
    """Random Erasing with the card's defaults: p 0.5, area 2-40 %, aspect 0.3-3.3, zero fill."""
    return Supervised(RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3)))


@RECIPES.register("rrc")
def random_resized_crop(image_shape: ImageShape, num_classes: int) -> Method:
    """Random resized crop back to the input size, area 50-100 % (0.08 destroys 8x8 digits)."""
    return Supervised(RandomResizedCrop(image_shape[1:], scale=(0.5, 1.0)))


@RECIPES.register("hflip")
def horizontal_flip(image_shape: ImageShape, num_classes: int) -> Method:
    """Horizontal flip with p 0.5: label-breaking on digits, a useful negative control."""
    return Supervised(HorizontalFlip(p=0.5))


@RECIPES.register("augmix")
def augmix(image_shape: ImageShape, num_classes: int) -> Method:
    """AugMix (severity 3, width 3, random depth, alpha 1) with the JSD consistency loss (weight 12)."""
    return AugMixJSD(AugMix())


def _mixer_recipe(name: str, **options: object) -> RecipeFactory:
    def factory(image_shape: ImageShape, num_classes: int) -> Method:
        return MixSupervised(MIXERS.build(name, num_classes=num_classes, **options))

    draws = "one draw per batch (the reference code)" if options.get("per_sample") is False else "per-sample draws"
    factory.__doc__ = f"{name} with {draws}, options {options or 'default'}, soft-target cross-entropy."
    return factory


for _recipe, (_mixer, _options) in {
    "mixup": ("mixup", {"alpha": 1.0}),
    "cutmix": ("cutmix", {"alpha": 1.0}),
    "mixup_batchwide": ("mixup", {"alpha": 1.0, "per_sample": False}),
    "cutmix_batchwide": ("cutmix", {"alpha": 1.0, "per_sample": False}),
    "resizemix": ("resizemix", {}),
    "fmix": ("fmix", {}),
    "saliencymix": ("saliencymix", {}),
}.items():
    RECIPES.register(_recipe)(_mixer_recipe(_mixer, **_options))


# The cards' EMA momentum 0.999 means a horizon of ~2.5 epochs at CIFAR's 391 steps per epoch;
# the digits harness has 4-10 steps per epoch, so its recipes start the ramp at 0.9 (same horizon).
# Both mix on features after the first stage (the harness's conv1, 8x8); deeper models want a
# later stage (the cards use ResNet stage 3): build AutoMix/AdAutoMix with feature_stage directly.
_HARNESS_MOMENTUM = (0.9, 0.999999)


@RECIPES.register("automix")
def automix(image_shape: ImageShape, num_classes: int) -> Method:
    """AutoMix (alpha 2, Mix Block after the first stage, mask loss 0.1 / margin 0.1), EMA 0.9 -> 0.999999."""
    return AutoMix(feature_stage=1, momentum=_HARNESS_MOMENTUM)


@RECIPES.register("adautomix")
def adautomix(image_shape: ImageShape, num_classes: int) -> Method:
    """AdAutoMix (3-image mixes, alpha 1, beta 0.3, mixup ratio 0.5) after the first stage, EMA 0.9 -> 0.999999."""
    return AdAutoMix(feature_stage=1, momentum=_HARNESS_MOMENTUM)


@RECIPES.register("manifold_mixup")
def manifold_mixup(image_shape: ImageShape, num_classes: int) -> Method:
    """Manifold Mixup, alpha 2, mixing point drawn per batch from {input, after the first stage}
    (the card's harness), per-sample lam and partners, soft-target cross-entropy."""
    return ManifoldMixup(Mixup(num_classes, alpha=2.0), points=(0, 1))


@RECIPES.register("transmix")
def transmix(image_shape: ImageShape, num_classes: int) -> Method:
    """TransMix: per sample CutMix (p 0.8, alpha 1) or Mixup (alpha 0.8); a CutMix label weight is the
    mean of the pasted area and the last block's class-token attention mass on it. Needs model vit_tiny."""
    return TransMixSupervised(TransMix(num_classes))


@RECIPES.register("puzzlemix")
def puzzlemix(image_shape: ImageShape, num_classes: int) -> Method:
    grid_sizes = (2, 4) if min(image_shape[1:]) < 32 else (2, 4, 8, 16)
    return PuzzleMixSupervised(PuzzleMix(num_classes, grid_sizes=grid_sizes))


puzzlemix.__doc__ = (
    "PuzzleMix (alpha 1, beta 1.2, gamma 0.5, eta 0.2, 3 labels, transport eps 0.8), grid n in {2, 4} below "
    "32 px (the card's harness) else {2, 4, 8, 16}, saliency from input gradients in eval mode. Simplifications: "
    + "; ".join(PUZZLEMIX_SIMPLIFICATIONS)
    + "."
)
