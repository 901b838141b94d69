"""Policy-string elements for the engine ops: ``rrc``, ``crop``, ``hflip``, ``vflip``, ``erase``.

- ``rrc<size>[s<min_scale>]``: ``RandomResizedCrop(size, scale=(min_scale, 1))``, default 0.08.
- ``crop<size>[p<padding>]``: ``RandomCrop(size, padding)``.
- ``hflip[<p>]`` / ``vflip[<p>]``: flips with probability p (default 0.5).
- ``erase<p>``: ``RandomErasing(p)`` with torchvision's defaults otherwise.
"""

from __future__ import annotations

from augbench.policies.strings import ElementSpec, Grammar, register_element
from augbench.transforms import HorizontalFlip, RandomCrop, RandomErasing, RandomResizedCrop, VerticalFlip
from augbench.transforms.base import Transform

__all__: list[str] = []

_NUMBER = r"\d+(?:\.\d+)?"


def _rrc(spec: ElementSpec) -> Transform:
    size, _, min_scale = spec.argument.partition("s")
    return RandomResizedCrop(int(size), scale=(float(min_scale) if min_scale else 0.08, 1.0))


def _crop(spec: ElementSpec) -> Transform:
    size, _, padding = spec.argument.partition("p")
    return RandomCrop(int(size), padding=int(padding) if padding else None)


def _probability(spec: ElementSpec) -> float:
    return float(spec.argument) if spec.argument else 0.5


register_element(Grammar("rrc", _rrc, argument=rf"\d+(?:s{_NUMBER})?", example="rrc32 or rrc32s0.25"))
register_element(Grammar("crop", _crop, argument=r"\d+(?:p\d+)?", example="crop32p4"))
register_element(Grammar("hflip", lambda spec: HorizontalFlip(_probability(spec)), argument=rf"(?:{_NUMBER})?", example="hflip"))
register_element(Grammar("vflip", lambda spec: VerticalFlip(_probability(spec)), argument=rf"(?:{_NUMBER})?", example="vflip0.5"))
register_element(Grammar("erase", lambda spec: RandomErasing(p=float(spec.argument)), argument=_NUMBER, example="erase0.25"))

