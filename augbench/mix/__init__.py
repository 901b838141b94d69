"""Sample-mixing augmentations: Mixup, CutMix, ResizeMix, FMix, SaliencyMix, TransMix, PuzzleMix -> ``MixResult``.

Every mixer is registered in ``MIXERS`` (``MIXERS.build("cutmix", num_classes=10)``) and
follows the sample/apply split of the transforms: ``mixer(images, labels, generator=g)`` is
``mixer.apply(images, labels, mixer.sample(images, labels, g))``.
"""

from augbench.mix.audio import AudioMixup
from augbench.mix.base import MIXERS, MixResult, Mixer, build_mixer
from augbench.mix.cutmix import CutMix
from augbench.mix.fmix import FMix
from augbench.mix.mixup import Mixup
from augbench.mix.points import PointCutMix, PointMixup
from augbench.mix.puzzlemix import PuzzleMix
from augbench.mix.resizemix import ResizeMix
from augbench.mix.saliencymix import SaliencyMix, spectral_residual_saliency
from augbench.mix.series import SeriesCutMix, SeriesMixup
from augbench.mix.skeleton import SkeletonCutMix, SkeletonMixup
from augbench.mix.text import TextCutMix
from augbench.mix.transmix import TransMix

__all__ = [
    "AudioMixup",
    "MIXERS",
    "build_mixer",
    "CutMix",
    "FMix",
    "MixResult",
    "Mixer",
    "Mixup",
    "PointCutMix", "PointMixup",
    "PuzzleMix",
    "ResizeMix",
    "SaliencyMix",
    "SeriesCutMix", "SeriesMixup",
    "SkeletonCutMix", "SkeletonMixup",
    "TextCutMix",
    "TransMix",
    "spectral_residual_saliency",
]
