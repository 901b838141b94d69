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
from augbench.methods import AugMixJSD, Method, MixSupervised, Supervised
from augbench.mix import MIXERS
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

    factory.__doc__ = f"{name} with per-sample draws, options {options or 'default'}, soft-target cross-entropy."
    return factory


for _name, _options in {
    "mixup": {"alpha": 1.0},
    "cutmix": {"alpha": 1.0},
    "resizemix": {},
    "fmix": {},
    "saliencymix": {},
}.items():
    RECIPES.register(_name)(_mixer_recipe(_name, **_options))
