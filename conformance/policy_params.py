"""What a policy string means to timm and to augbench: parsed parameters and op sets.

timm's side comes from its own parser (``timm.data.auto_augment``), dispatched on the prefix as
``timm.data.create_transform`` does, and read off the objects it builds. augbench's side comes
from ``augbench.policies.strings``: ``parse`` and ``build`` (a refusal is the row), then the
fields of ``describe`` and of the built transform's ``config()``; a field neither has is "not
reported". :data:`TIMM_OPS` maps every timm op
name to augbench's op name and says which variant timm means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from augbench.policies import strings
from timm.data import auto_augment as timm_aa

from report import one_line

__all__ = ["TIMM_OPS", "AUGBENCH_ONLY_OPS", "Meaning", "canonical_op", "timm_family", "timm_meaning", "augbench_meaning", "same"]

LEVEL_DENOM = 10.0
"""timm's magnitude scale: M runs 0-10 and the op's level is M / 10."""

TIMM_OPS: dict[str, tuple[str, str]] = {
    "AutoContrast": ("AutoContrast", ""),
    "Equalize": ("Equalize", ""),
    "Invert": ("Invert", ""),
    "Rotate": ("Rotate", "+-30 deg x M/10, random sign"),
    "Posterize": ("Posterize", "keeps int(4 M/10) bits: 0 -> 4 (severity falls with M)"),
    "PosterizeIncreasing": ("Posterize", "keeps 4 - int(4 M/10) bits: 4 -> 0"),
    "PosterizeOriginal": ("Posterize", "keeps int(4 M/10) + 4 bits: 4 -> 8 (the AutoAugment paper)"),
    "Solarize": ("Solarize", "threshold int(256 M/10): 0 -> 256 (severity falls with M)"),
    "SolarizeIncreasing": ("Solarize", "threshold 256 - int(256 M/10): 256 -> 0"),
    "SolarizeAdd": ("SolarizeAdd", "adds int(110 M/10) below 128"),
    "Color": ("Color", "factor 0.1 + 1.8 M/10 (identity at M=5)"),
    "ColorIncreasing": ("Color", "factor 1 +- 0.9 M/10, random sign"),
    "Contrast": ("Contrast", "factor 0.1 + 1.8 M/10 (identity at M=5)"),
    "ContrastIncreasing": ("Contrast", "factor 1 +- 0.9 M/10, random sign"),
    "Brightness": ("Brightness", "factor 0.1 + 1.8 M/10 (identity at M=5)"),
    "BrightnessIncreasing": ("Brightness", "factor 1 +- 0.9 M/10, random sign"),
    "Sharpness": ("Sharpness", "factor 0.1 + 1.8 M/10 (identity at M=5)"),
    "SharpnessIncreasing": ("Sharpness", "factor 1 +- 0.9 M/10, random sign"),
    "ShearX": ("ShearX", "factor +-0.3 M/10, random sign"),
    "ShearY": ("ShearY", "factor +-0.3 M/10, random sign"),
    "TranslateX": ("TranslateX", "+-250 px M/10 (translate_const), random sign"),
    "TranslateY": ("TranslateY", "+-250 px M/10 (translate_const), random sign"),
    "TranslateXRel": ("TranslateX", "+-45 % of the width M/10, random sign"),
    "TranslateYRel": ("TranslateY", "+-45 % of the height M/10, random sign"),
    "Desaturate": ("Desaturate", "colour factor 1 - (0.5 + 0.5 M/10)"),
    "GaussianBlur": ("GaussianBlur", "Pillow GaussianBlur radius 0.1 + 1.9 M/10"),
    "GaussianBlurRand": ("GaussianBlur", "Pillow GaussianBlur radius U(0.1, 2 M/10)"),
}
"""timm op name -> (augbench op name, what timm's op does with magnitude M)."""

AUGBENCH_ONLY_OPS = {"Identity": "no timm op: timm's RandAugment has no identity (its per-op p = 0.5 skips ops instead)"}


def canonical_op(name: str) -> str:
    """The augbench name of a timm or augbench op name (names timm uses map through :data:`TIMM_OPS`)."""
    return TIMM_OPS[name][0] if name in TIMM_OPS else name


@dataclass
class Meaning:
    """One library's reading of a string: family, fields, op names, or why it refused the string.

    ``fields`` map a field name to a comparable value (numbers, strings, tuples); a field absent
    from the map is not reported. ``subpolicies`` holds AutoAugment's ``(op, p, magnitude)``
    tables where the library exposes them; ``note`` says what went wrong reading the fields.
    """

    family: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    ops: tuple[str, ...] | None = None
    subpolicies: tuple[tuple[tuple[str, float, float | None], ...], ...] | None = None
    error: str = ""
    transform: Any = None
    note: str = ""


def timm_family(text: str) -> str:
    """``rand``, ``augmix`` or ``auto``, dispatched as ``timm.data.create_transform`` does."""
    if text.startswith("rand"):
        return "rand"
    if text.startswith("augmix"):
        return "augmix"
    return "auto"


def _interpolation_name(resample: Any) -> str:
    if isinstance(resample, (tuple, list)):
        return "random(" + ", ".join(_interpolation_name(mode) for mode in resample) + ")"
    return getattr(resample, "name", str(resample)).lower()


def _op_fields(op: Any) -> dict[str, Any]:
    """Fields every timm AugmentOp carries: magnitude noise, clip, fill, interpolation."""
    bound = op.magnitude_max or LEVEL_DENOM
    return {
        "mstd": float(op.magnitude_std),
        "mmax": float(bound),
        "fill": tuple(op.kwargs["fillcolor"]),
        "interpolation": _interpolation_name(op.kwargs["resample"]),
    }


def _increasing(names: Iterable[str]) -> bool:
    """Whether an op list uses timm's increasing variants: the ops that ``inc1`` (or a ``t``
    word's own list) selects, whose severity rises with M."""
    return any(name.endswith("Increasing") for name in names)


def _choice(weights: Any) -> str:
    """How ops are chosen, comparable between the two libraries."""
    if weights is None:
        return "uniform"
    values = [float(w) for w in weights]
    return "weighted " + ",".join(f"{w / sum(values):.4f}" for w in values)


def timm_meaning(text: str) -> Meaning:
    """timm 1.0.31's reading of ``text``, or the one-line error its parser raises."""
    family = timm_family(text)
    try:
        if family == "rand":
            transform = timm_aa.rand_augment_transform(text, hparams=None)
        elif family == "augmix":
            transform = timm_aa.augment_and_mix_transform(text, hparams=None)
        else:
            transform = timm_aa.auto_augment_transform(text, hparams=None)
    except Exception as error:  # noqa: BLE001 - timm's refusal is part of the comparison
        return Meaning(family, error=one_line(error))
    if family == "auto":
        ops = [op for subpolicy in transform.policy for op in subpolicy]
        tables = tuple(tuple((op.name, float(op.prob), float(op.magnitude)) for op in subpolicy) for subpolicy in transform.policy)
        fields = {**_op_fields(ops[0]), "subpolicies": len(tables), "increasing": _increasing(op.name for op in ops)}
        return Meaning(family, fields, tuple(op.name for op in ops), tables, transform=transform)
    first = transform.ops[0]
    names = tuple(op.name for op in transform.ops)
    fields = {
        **_op_fields(first),
        "magnitude": float(max(0.0, min(first.magnitude, first.magnitude_max or LEVEL_DENOM))),
        "op_prob": float(first.prob),
        "increasing": _increasing(names),
    }
    if family == "rand":
        fields["num_ops"] = int(transform.num_layers)
        fields["op_choice"] = _choice(transform.choice_weights)
    else:
        fields.update(width=int(transform.width), depth=int(transform.depth), alpha=float(transform.alpha), blended=bool(transform.blended))
    return Meaning(family, fields, names, transform=transform)


AUGBENCH_FIELDS: dict[str, str] = {
    "magnitude": "magnitude",
    "num_ops": "num_ops",
    "mstd": "magnitude_std",
    "mmax": "magnitude_max",
    "increasing": "increasing",
    "op_prob": "prob",
    "fill": "fill",
    "interpolation": "interpolation",
    "width": "width",
    "depth": "depth",
    "alpha": "alpha",
    "blended": "blended",
}
"""Comparison field -> augbench's name for it, looked up in ``strings.describe(text)`` (the
timm-meaning fields) and then in the built transform's ``config()``."""

INTERPOLATION_NAMES = {"random": "random(bilinear, bicubic)"}
"""augbench's interpolation words in timm's terms: ``"random"`` is documented in
``augbench.policies.timm_policies`` as timm's random choice of bilinear or bicubic."""


def _lookup(sources: Sequence[dict[str, Any]], name: str) -> Any:
    """The first non-``None`` value of ``name`` in ``sources``, else ``None``."""
    return next((source[name] for source in sources if source.get(name) is not None), None)


def _normalise(name: str, value: Any) -> Any:
    """augbench's value in timm's units: fill in 0-255 (from 0-1 where augbench uses it), timm's
    interpolation words, plain numbers and booleans."""
    if name == "fill":
        values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3
        in_unit_range = all(0.0 <= float(v) <= 1.0 for v in values)
        return tuple(round(float(v) * 255) if in_unit_range else round(float(v)) for v in values)
    if name == "interpolation":
        return INTERPOLATION_NAMES.get(str(value), _interpolation_name(value))
    if name in ("increasing", "blended"):
        return bool(value)
    if name in ("num_ops", "width", "depth"):
        return int(value)
    return float(value)


def _subpolicies(policy: Any) -> tuple[tuple[tuple[str, float, float | None], ...], ...] | None:
    """A sub-policy table ``[[name, p, magnitude], ...]`` as tuples; ``None`` if it is not one."""
    if not isinstance(policy, (tuple, list)):
        return None
    return tuple(tuple((str(name), float(p), None if m is None else float(m)) for name, p, m in subpolicy) for subpolicy in policy)


def _described(text: str) -> tuple[dict[str, Any], str]:
    """``strings.describe(text)``, and its one-line error if it fails."""
    try:
        return dict(strings.describe(text)), ""
    except Exception as error:  # noqa: BLE001 - a failing describe is reported in the row
        return {}, f"strings.describe failed: {one_line(error)}"


def augbench_meaning(text: str) -> Meaning:
    """augbench's reading of ``text`` through ``augbench.policies.strings``, or its one-line error."""
    try:
        spec = strings.parse(text)
        transform = spec.build()
    except Exception as error:  # noqa: BLE001 - augbench's refusal is a row
        return Meaning(error=one_line(error))
    elements = spec.elements
    if len(elements) != 1:
        names = ", ".join(element.name for element in elements)
        return Meaning(error=f"parsed as {len(elements)} elements ({names}), not one policy")
    described, describe_error = _described(text)
    sources = [described, transform.config()]
    fields: dict[str, Any] = {}
    for name, key in AUGBENCH_FIELDS.items():
        value = _lookup(sources, key)
        if value is not None:
            fields[name] = _normalise(name, value)
    if "magnitude" in fields and "mmax" in fields:
        fields["magnitude"] = max(0.0, min(fields["magnitude"], fields["mmax"]))
    if any("weights" in source for source in sources):
        fields["op_choice"] = _choice(_lookup(sources, "weights"))
    table = _subpolicies(_lookup(sources, "policy"))
    if table is not None:
        fields["subpolicies"] = len(table)
    ops = _lookup(sources, "ops")
    ops = tuple(ops) if isinstance(ops, (tuple, list)) else None
    if ops and all(name in TIMM_OPS for name in ops):
        fields["increasing"] = _increasing(ops)  # from the ops, as for timm (t words ignore inc)
    return Meaning(elements[0].name, fields, ops, table, transform=transform, note=describe_error)


def same(left: Any, right: Any) -> bool:
    """Equal values, numbers to 1e-9 (infinities equal)."""
    if isinstance(left, (int, float)) and isinstance(right, (int, float)) and not isinstance(left, bool) and not isinstance(right, bool):
        return left == right or (math.isfinite(left) and math.isfinite(right) and abs(left - right) <= 1e-9)
    return left == right
