"""Build a transform from a spec: a policy string, or ``{type: ClassName, **arguments}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from augbench.errors import ConfigError
from augbench.policies.strings import parse
from augbench.registry import Spec, spec_options, spec_type
from augbench.transforms.base import TRANSFORMS, Compose, Transform

__all__ = ["build_transform", "resolve_transform"]


def build_transform(spec: Spec | Transform | None) -> Transform | None:
    """The transform a spec describes; ``None`` stays ``None`` (no augmentation).

    Args:
        spec: a policy string (``"rand-m9-n2"``, ``"rrc32-hflip"``), a mapping
            ``{"type": "RandomAffine", "degrees": 15}`` naming a registered transform class with
            its constructor arguments (``Compose`` takes ``transforms: [spec, ...]``), or a
            built transform.

    >>> build_transform({"type": "HorizontalFlip", "p": 0.5})
    HorizontalFlip(p=0.5)
    >>> type(build_transform("rand-m9-n2")).__name__   # timm's meaning
    'TimmRandAugment'
    """
    if spec is None or isinstance(spec, Transform):
        return spec
    if isinstance(spec, str):
        if spec in TRANSFORMS:
            return TRANSFORMS.build(spec)
        return parse(spec).build()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"an augmentation spec is a policy string or {{type: TransformName, ...}}, got {spec!r}")
    name = spec_type(spec, "transform")
    options: dict[str, Any] = spec_options(spec)
    if name == "Compose":
        children = options.get("transforms")
        if not isinstance(children, list) or not children:
            raise ConfigError("Compose spec needs 'transforms': a non-empty list of transform specs")
        return Compose([build_transform(child) for child in children])
    return TRANSFORMS.build(name, **options)


def resolve_transform(spec: Spec | None) -> Any:
    """The canonical form of a transform spec: a policy string as :func:`~augbench.policies.parse`
    prints it, a class spec with every constructor default filled in (recursively for ``Compose``).

    >>> resolve_transform({"type": "HorizontalFlip"})
    {'type': 'HorizontalFlip', 'p': 0.5, 'same_on_batch': False}
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        return TRANSFORMS.resolve(spec) if spec in TRANSFORMS else str(parse(spec))
    if isinstance(spec, Mapping) and spec_type(spec, "transform") == "Compose":
        return {"type": "Compose", "transforms": [resolve_transform(child) for child in spec_options(spec).get("transforms", [])]}
    return TRANSFORMS.resolve(spec)
