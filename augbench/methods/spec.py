"""Methods from specs: presets, registered names and policy strings, resolved and validated.

A method spec is a registered method (``supervised``, ``fixmatch``), a preset name from
``presets.yaml`` (``affine``, ``mixup``), a mapping ``{type: NAME, **options}`` (a preset's
options may be overridden this way), or any policy string, which means supervised training
with that pipeline (``rand-m9-n2`` -> ``{type: supervised, augment: rand-m9-n2}``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from augbench.errors import ConfigError
from augbench.methods.base import METHODS, Method
from augbench.mix import MIXERS
from augbench.models import MODEL_CONTEXT, MODELS
from augbench.policies import parse
from augbench.policies.build import resolve_transform
from augbench.registry import Spec, spec_options, spec_type

__all__ = ["MethodContext", "CONTEXT", "presets", "expand_method", "resolve_method", "build_method", "method_names"]

CONTEXT = ("num_classes", "input_shape", "modality")
"""What the run passes to method factories that ask for it (never set in a spec)."""

_PRESETS_FILE = Path(__file__).with_name("presets.yaml")


@dataclass(frozen=True)
class MethodContext:
    """What a method may know about the run's data when it is built.

    Attributes:
        num_classes: number of classes.
        input_shape: one sample's shape (``(C, H, W)`` for images).
        modality: the data's modality name.
    """

    num_classes: int
    input_shape: tuple[int, ...]
    modality: str = "image"

    def as_dict(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "input_shape": self.input_shape, "modality": self.modality}


@cache
def presets() -> dict[str, dict[str, Any]]:
    """The named method specs of ``presets.yaml`` (read once, ``yaml.safe_load``)."""
    data = yaml.safe_load(_PRESETS_FILE.read_text())
    for name, spec in data.items():
        if not isinstance(spec, dict) or spec.get("type") not in METHODS:
            raise ConfigError(f"{_PRESETS_FILE}: preset {name!r} must be a spec with a registered 'type'")
    return data


def method_names() -> list[str]:
    """Every name ``--methods`` accepts besides policy strings: presets and registered methods."""
    return sorted(set(presets()) | set(METHODS.names()))


def expand_method(spec: Spec) -> dict[str, Any]:
    """A method spec as ``{type: registered method, **options}``: presets and policy strings expanded."""
    name = spec_type(spec, "method")
    options = spec_options(spec)
    if name in presets():
        return {**presets()[name], **options}
    if name in METHODS:
        return {"type": name, **options}
    if isinstance(spec, str):
        try:
            parse(spec)
        except ConfigError as error:
            close = difflib.get_close_matches(name, method_names(), n=3)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise ConfigError(
                f"unknown method {name!r}; {hint}use one of {', '.join(method_names())} or a policy string ({error})"
            ) from None
        return {"type": "supervised", "augment": spec}
    raise ConfigError(f"unknown method type {name!r}; choose from {', '.join(method_names())}")


def _resolve_nested(kind: str, value: Any) -> Any:
    """Canonical form of a nested spec of ``kind`` (``transform``, ``mixer``, ``method``, ``model``)."""
    if value is None:
        return None
    if kind == "transform":
        return resolve_transform(value)
    if kind == "mixer":
        return MIXERS.resolve(value, context=("num_classes",))
    if kind == "method":
        return resolve_method(value)
    if kind == "model":
        return MODELS.resolve(value, context=MODEL_CONTEXT)
    raise ConfigError(f"unknown nested spec kind {kind!r}; use transform, mixer, method or model")


def resolve_method(spec: Spec) -> dict[str, Any]:
    """The canonical method spec, validated strictly: every option with its default, and nested
    specs (a method's ``spec_fields``: augmentations, mixers, base methods, models) resolved too,
    so two spellings of the same method are the same run."""
    resolved = METHODS.resolve(expand_method(spec), context=CONTEXT)
    for option, kind in getattr(METHODS.get(resolved["type"]), "spec_fields", {}).items():
        try:
            resolved[option] = _resolve_nested(kind, resolved.get(option))
        except ConfigError as error:
            raise ConfigError(f"{resolved['type']}: option {option!r} is not a valid {kind} spec ({error})") from None
    return resolved


def build_method(spec: Spec, context: MethodContext) -> Method:
    """Build the method of ``spec`` for a run's data; ``method.spec`` is its resolved spec."""
    resolved = resolve_method(spec)
    method = METHODS.build(resolved, context=context.as_dict())
    method.spec = resolved
    return method

