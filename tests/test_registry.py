"""Registries: build from a name or a {type: ...} spec, strict options, context, canonical resolution."""

from __future__ import annotations

import pytest

from augbench.errors import ConfigError
from augbench.registry import OptionError, Registry, canonical_json

THINGS: Registry[tuple] = Registry("thing")


@THINGS.register("box")
def box(width: int = 2, depth: int = 3, num_classes: int = 0) -> tuple:
    return width, depth, num_classes


@THINGS.register("needs")
def needs(size: int) -> tuple:
    return (size,)


def test_build_from_a_name_or_a_spec_with_context_passed_only_where_asked() -> None:
    assert THINGS.build("box") == (2, 3, 0)
    assert THINGS.build({"type": "box", "width": 5}, context={"num_classes": 10, "unused": 1}) == (5, 3, 10)


@pytest.mark.parametrize(("spec", "message"), [
    ("boxx", r"unknown thing 'boxx'; did you mean 'box'\? choose from: box, needs"),
    ({"width": 1}, "a thing spec needs a 'type' key"),
    (3, "a thing spec is a name or a mapping"),
    ({"type": "box", "widht": 1}, "thing 'box' got unknown option 'widht'; valid options: width, depth$"),
    ({"type": "box", "num_classes": 3}, "option 'num_classes' is set by the run"),
    ("needs", "thing 'needs' needs option 'size'"),
])
def test_bad_specs_are_one_line(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        THINGS.build(spec, context={"num_classes": 10})
    assert len(str(info.value).splitlines()) == 1


def test_unknown_option_is_also_a_type_error() -> None:
    with pytest.raises(TypeError):
        THINGS.build({"type": "box", "colour": "red"})
    assert issubclass(OptionError, ConfigError)


def test_resolve_fills_defaults_and_canonical_json_is_spelling_free() -> None:
    assert THINGS.resolve({"type": "box", "width": (1, 2)}, context=("num_classes",)) == {"type": "box", "width": [1, 2], "depth": 3}
    assert canonical_json({"b": 1.0, "a": [2.0, 0.5]}) == canonical_json({"a": [2, 0.5], "b": 1})
