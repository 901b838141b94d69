"""Random transforms with the sample/apply split: one parameter set per sample."""

from augbench.transforms.audio import AudioBandPass, AudioGain, AudioLowPass, AudioNoise, AudioPitchShift, AudioPolarityInversion, AudioSpeed, AudioTimeMask, AudioTimeShift, SpecFrequencyMask, SpecTimeMask, SpecTimeWarp  # noqa: E501
from augbench.transforms.base import Compose, ImageShape, Transform
from augbench.transforms.color import ColorJitter, GaussianBlur, GaussianNoise, Grayscale, RandomGrayscale
from augbench.transforms.erasing import RandomErasing
from augbench.transforms.geometry import HorizontalFlip, RandomAffine, RandomCrop, RandomResizedCrop, VerticalFlip
from augbench.transforms.normalize import Normalize, ToDtype
from augbench.transforms.points import PointDropout, PointJitter, PointOcclusion, PointResample, PointRotate, PointRotateSO3, PointScale, PointTranslate  # noqa: E501
from augbench.transforms.random_field import RandomFieldAugment
from augbench.transforms.resize import CenterCrop, Pad, Resize
from augbench.transforms.skeleton import SkeletonCropResample, SkeletonFlip, SkeletonJitter, SkeletonJointMask, SkeletonLimbMask, SkeletonRotate, SkeletonScale, SkeletonShear  # noqa: E501
from augbench.transforms.text import TextMask, TextRandomDelete, TextRandomReplace, TextRandomSwap, TextRewrite, TextSpanCrop, TextSynonymInsert, TextSynonymReplace  # noqa: E501
from augbench.transforms.sequence import ItemCrop, ItemInsert, ItemMask, ItemReorder, ItemSubstitute
from augbench.transforms.timeseries import SeriesDrift, SeriesFrequencyMask, SeriesJitter, SeriesMagnitudeWarp, SeriesPermutation, SeriesScaling, SeriesSignFlip, SeriesTimeMask, SeriesTimeWarp, SeriesWindowSlice, SeriesWindowWarp  # noqa: E501

__all__ = [
    "AudioBandPass", "AudioGain", "AudioLowPass", "AudioNoise", "AudioPitchShift", "AudioPolarityInversion", "AudioSpeed",
    "AudioTimeMask", "AudioTimeShift", "SpecFrequencyMask", "SpecTimeMask", "SpecTimeWarp",
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "GaussianBlur",
    "GaussianNoise",
    "Grayscale",
    "HorizontalFlip",
    "ImageShape",
    "ItemCrop", "ItemInsert", "ItemMask", "ItemReorder", "ItemSubstitute",
    "Normalize",
    "Pad",
    "PointDropout", "PointJitter", "PointOcclusion", "PointResample", "PointRotate", "PointRotateSO3", "PointScale",
    "PointTranslate",
    "RandomAffine",
    "RandomCrop",
    "RandomErasing",
    "RandomFieldAugment",
    "RandomGrayscale",
    "RandomResizedCrop",
    "Resize",
    "SeriesDrift", "SeriesFrequencyMask", "SeriesJitter", "SeriesMagnitudeWarp", "SeriesPermutation", "SeriesScaling",
    "SeriesSignFlip", "SeriesTimeMask", "SeriesTimeWarp", "SeriesWindowSlice", "SeriesWindowWarp",
    "SkeletonCropResample", "SkeletonFlip", "SkeletonJitter", "SkeletonJointMask", "SkeletonLimbMask", "SkeletonRotate",
    "SkeletonScale", "SkeletonShear",
    "TextMask", "TextRandomDelete", "TextRandomReplace", "TextRandomSwap", "TextRewrite", "TextSpanCrop",
    "TextSynonymInsert", "TextSynonymReplace",
    "ToDtype",
    "Transform",
    "VerticalFlip",
]
