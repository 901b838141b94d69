"""Policy strings: timm's grammar for policies, extended to whole pipelines.

Grammar::

    pipeline := element ("-" element)*
    element  := NAME [ARGUMENT] ("-" SECTION)*
    SECTION  := KEY VALUE      (the key is what precedes the first digit, as timm splits it;
                                word-valued keys such as rand's ``tweights`` take a listed word)

An element is a policy or an engine op (``rrc32``, ``crop32p4``, ``hflip``, ``erase0.25``).
The policies timm has (``rand``, ``augmix``, ``original``, ``originalr``, ``v0``, ``v0r``,
``3a``) mean what they mean in timm 1.0.31, with its keys, defaults and op conventions (see
:mod:`augbench.policies.timm_policies`); ``trivialaugment`` and ``autoaug-cifar10`` /
``-imagenet`` / ``-svhn``, which timm does not have, build augbench's torchvision-convention
classes. A token that is not a key of the current element starts the next element, so
``"rrc32-hflip-rand-m9-n2-erase0.25"`` is a random resized crop to 32 px, a flip, timm's
RandAugment and Random Erasing with p 0.25, in that order.

Parsing gives a frozen :class:`PipelineSpec` whose ``str()`` is the canonical string; unknown
names, keys, missing or malformed values and out-of-range values raise one line naming the
token and the valid choices. :func:`describe` gives the resolved parameters of one timm policy
as a plain dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from augbench.errors import ConfigError
from augbench.transforms.base import Compose, Transform

__all__ = [
    "Section", "Grammar", "ElementSpec", "PipelineSpec", "ELEMENTS", "register_element", "parse", "policy", "describe",
]  # fmt: skip

Value = int | float | str


@dataclass(frozen=True)
class Section:
    """One section of an element: its value type and allowed interval, or its allowed words.

    ``int`` values are read with Python's ``int()`` and ``float`` values with ``float()``, as timm
    reads them (so ``m9.5`` is refused: timm's ``m`` is an integer); ``str`` sections take one of
    ``choices``.
    """

    kind: type = float
    low: float = float("-inf")
    high: float = float("inf")
    hint: str = ""
    choices: tuple[str, ...] = ()

    def convert(self, element: str, key: str, text: str) -> Value:
        """The value of ``key`` written as ``text``; one-line errors name the fix."""
        if self.kind is str:
            if text not in self.choices:
                words = ", ".join(f"{key}{choice}" for choice in self.choices)
                raise ConfigError(f"policy string: section {key + text!r} of {element!r} is unknown; choose from {words}")
            return text
        try:
            value = self.kind(text)
        except ValueError:
            number = "a whole number" if self.kind is int else "a number"
            raise ConfigError(f"policy string: section {key!r} of {element!r} needs {number}, got {text!r} (e.g. {key}9)") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"policy string: section {key}{text} of {element!r} is not a finite number")
        if not self.low <= value <= self.high:
            bound = f"must be >= {_number(self.low)}" if self.high == float("inf") else f"must lie in [{_number(self.low)}, {_number(self.high)}]"
            raise ConfigError(f"policy string: {key}{text} out of range for {element!r}; {self.hint or key + ' ' + bound}")
        return value

    def spelling(self, key: str) -> str:
        """How the key is written in a list of valid keys, e.g. ``t (tweights, t3aw, t3a)``."""
        return f"{key} ({', '.join(key + choice for choice in self.choices)})" if self.choices else key


@dataclass(frozen=True)
class Grammar:
    """How an element is written and built.

    Attributes:
        name: the element's name, e.g. ``"rand"``.
        argument: pattern of what directly follows the name (``""`` for nothing), e.g.
            ``r"\\d+(?:p\\d+)?"`` for ``crop32p4``; a pattern that allows the empty string makes
            the argument optional.
        word_argument: the argument is the next dash-separated token (``autoaug-cifar10``);
            the allowed words.
        sections: the ``KEY VALUE`` sections that may follow.
        build: turns a parsed :class:`ElementSpec` into a transform.
        example: shown in error messages.
        describe: the resolved parameters of a parsed element as a plain dict (timm's
            policies), for :func:`describe`; ``None`` for the others.
    """

    name: str
    build: Callable[[ElementSpec], Transform]
    argument: str = ""
    word_argument: tuple[str, ...] = ()
    sections: dict[str, Section] = field(default_factory=dict)
    example: str = ""
    describe: Callable[[ElementSpec], dict[str, Any]] | None = None


@dataclass(frozen=True)
class ElementSpec:
    """A parsed element: name, argument text and sections in the order given."""

    name: str
    argument: str = ""
    sections: tuple[tuple[str, Value], ...] = ()

    def get(self, key: str, default: Value | None = None) -> Value | None:
        """The value of section ``key``, or ``default`` when absent."""
        return dict(self.sections).get(key, default)

    def __str__(self) -> str:
        joiner = "-" if self.name in _WORD_ELEMENTS() else ""
        head = f"{self.name}{joiner}{self.argument}" if self.argument else self.name
        return "-".join([head, *(f"{key}{_number(value)}" for key, value in self.sections)])


def _number(value: Value) -> str:
    """A section value as written canonically: words as they are, numbers without an exponent
    (``1e-05`` would put a dash into the string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    text = repr(float(value))
    return format(Decimal(text), "f") if "e" in text else text


@dataclass(frozen=True)
class PipelineSpec:
    """A parsed policy string; ``str()`` gives the canonical string back."""

    elements: tuple[ElementSpec, ...]

    def __str__(self) -> str:
        return "-".join(str(element) for element in self.elements)

    def build(self) -> Transform:
        """The transform: the single element's, or a ``Compose`` of all of them."""
        transforms = [ELEMENTS[element.name].build(element) for element in self.elements]
        return transforms[0] if len(transforms) == 1 else Compose(transforms)


ELEMENTS: dict[str, Grammar] = {}


def _WORD_ELEMENTS() -> set[str]:
    return {name for name, grammar in ELEMENTS.items() if grammar.word_argument}


def register_element(grammar: Grammar) -> Grammar:
    """Add an element to the grammar (policies register themselves on import)."""
    if grammar.name in ELEMENTS:
        raise ConfigError(f"policy element {grammar.name!r} is already registered")
    ELEMENTS[grammar.name] = grammar
    return grammar


_SECTION = re.compile(r"^(\D*)(\d.*)$")  # timm: re.split(r"(\d.*)", token) -> key, value


def _split_head(token: str, text: str) -> tuple[Grammar, str]:
    """Match ``token`` against element names (longest name first) -> (grammar, argument)."""
    for name in sorted(ELEMENTS, key=len, reverse=True):
        grammar = ELEMENTS[name]
        if token.startswith(name) and re.fullmatch(grammar.argument or "", token[len(name):]):
            return grammar, token[len(name):]
    valid = ", ".join(f"{g.name} (e.g. {g.example or g.name})" for g in ELEMENTS.values())
    raise ConfigError(f"policy string {text!r}: unknown element {token!r}; valid elements: {valid}")


def parse(text: str) -> PipelineSpec:
    """Parse a policy or pipeline string into a :class:`PipelineSpec`.

    >>> str(parse("rand-n2-m9"))
    'rand-n2-m9'
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"policy string must be a non-empty string, got {text!r}")
    tokens = text.strip().lower().split("-")
    if any(not token for token in tokens):
        raise ConfigError(f"policy string {text!r} has an empty token (two dashes or a trailing dash)")
    elements: list[ElementSpec] = []
    index = 0
    while index < len(tokens):
        grammar, argument = _split_head(tokens[index], text)
        index += 1
        if grammar.word_argument:
            if index >= len(tokens) or tokens[index] not in grammar.word_argument:
                seen = tokens[index] if index < len(tokens) else "nothing"
                raise ConfigError(
                    f"policy string {text!r}: {grammar.name!r} must be followed by one of "
                    f"{', '.join(grammar.word_argument)}, got {seen!r}"
                )
            argument = tokens[index]
            index += 1
        sections: list[tuple[str, Value]] = []
        while index < len(tokens):
            split = _split_section(grammar, tokens[index], text)
            if split is None:
                break
            key, value = split
            if any(key == k for k, _ in sections):
                raise ConfigError(
                    f"policy string {text!r}: section {key!r} of {grammar.name!r} is given twice; keep one"
                )
            sections.append((key, grammar.sections[key].convert(grammar.name, key, value)))
            index += 1
        elements.append(ElementSpec(grammar.name, argument, tuple(sections)))
    return PipelineSpec(tuple(elements))


def _split_section(grammar: Grammar, token: str, text: str) -> tuple[str, str] | None:
    """``(key, value text)`` of ``token`` as a section of ``grammar``; ``None`` when the token
    starts the next element; one-line errors for a token that is neither."""
    for key, section in grammar.sections.items():  # word sections: the key, then a listed word
        if section.choices and token.startswith(key) and token[len(key):] in section.choices:
            return key, token[len(key):]
    match = _SECTION.match(token)
    key, value = (match.group(1), match.group(2)) if match else (token, "")
    if key in grammar.sections:
        return key, value
    if not grammar.sections or any(token.startswith(name) for name in ELEMENTS):
        return None
    words = [k for k, section in grammar.sections.items() if section.choices and token.startswith(k)]
    if words:
        return words[0], token[len(words[0]):]
    valid = ", ".join(section.spelling(k) for k, section in grammar.sections.items())
    raise ConfigError(f"policy string {text!r}: unknown section {token!r} of {grammar.name!r}; valid keys: {valid}")


def policy(text: str) -> Transform:
    """Build the transform a policy string describes, e.g. ``policy("rand-m9-n2-mstd0.5")``."""
    return parse(text).build()


def describe(text: str) -> dict[str, Any]:
    """The resolved parameters of a string holding one timm policy, as a plain dict.

    Every key of the string is resolved to the value timm uses (defaults filled in, ``mstd``
    above 100 as ``inf`` for ``rand``, the op list that ``inc``/``t`` select); the fields are
    listed in :mod:`augbench.policies.timm_policies`. Always present: ``family`` (``"rand"``,
    ``"augmix"``, or the AutoAugment policy name), ``ops`` (timm's op names), ``magnitude_std``,
    ``magnitude_max`` (the clip of the magnitude), ``prob``, ``fill`` (0-255 per channel) and
    ``interpolation``.

    >>> info = describe("rand-m9-mstd0.5")
    >>> info["family"], info["magnitude"], info["num_ops"], info["increasing"], info["prob"]
    ('rand', 9, 2, False, 0.5)
    """
    elements = parse(text).elements
    describer = ELEMENTS[elements[0].name].describe if len(elements) == 1 else None
    if describer is None:
        timm = ", ".join(name for name, grammar in ELEMENTS.items() if grammar.describe is not None)
        raise ConfigError(f"describe: {text!r} is not one timm policy; give one of {timm} with its keys, e.g. rand-m9-n2")
    return describer(elements[0])
