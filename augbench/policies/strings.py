"""Policy strings: a compact, timm-compatible grammar for policies and whole pipelines.

Grammar::

    pipeline := element ("-" element)*
    element  := NAME [ARGUMENT] ("-" KEY NUMBER)*

An element is a policy (``rand``, ``augmix``, ``trivialaugment``, ``autoaug``) or an engine op
(``rrc32``, ``crop32p4``, ``hflip``, ``erase0.25``); each policy has its own section keys
(``rand-m9-n2-mstd0.5-inc1``, ``augmix-m5-w3-d2``). A token that is not a key of the current
element starts the next element, so ``"rrc32-hflip-rand-m9-n2-erase0.25"`` is a random resized
crop to 32 px, a flip, RandAugment and Random Erasing with p 0.25, in that order.

Parsing gives a frozen :class:`PipelineSpec` whose ``str()`` is the canonical string; unknown
names, keys, missing numbers and out-of-range values raise one line naming the token and the
valid choices.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from augbench.errors import ConfigError
from augbench.transforms.base import Compose, Transform

__all__ = ["Section", "Grammar", "ElementSpec", "PipelineSpec", "ELEMENTS", "register_element", "parse", "policy"]

Value = int | float | str


@dataclass(frozen=True)
class Section:
    """One ``KEY NUMBER`` section of an element: its type and allowed interval."""

    kind: type = float
    low: float = float("-inf")
    high: float = float("inf")
    hint: str = ""

    def convert(self, element: str, key: str, text: str) -> int | float:
        try:
            value = self.kind(float(text)) if self.kind is int and float(text).is_integer() else self.kind(text)
        except ValueError:
            number = "a whole number" if self.kind is int else "a number"
            raise ConfigError(f"policy string: section {key!r} of {element!r} needs {number}, got {text!r} (e.g. {key}9)") from None
        if not self.low <= value <= self.high:
            hint = self.hint or f"{key} must lie in [{self.low}, {self.high}]"
            raise ConfigError(f"policy string: {key}{text} out of range for {element!r}; {hint}")
        return value


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
        sections: the ``KEY NUMBER`` sections that may follow.
        build: turns a parsed :class:`ElementSpec` into a transform.
        example: shown in error messages.
    """

    name: str
    build: Callable[[ElementSpec], Transform]
    argument: str = ""
    word_argument: tuple[str, ...] = ()
    sections: dict[str, Section] = field(default_factory=dict)
    example: str = ""


@dataclass(frozen=True)
class ElementSpec:
    """A parsed element: name, argument text and sections in the order given."""

    name: str
    argument: str = ""
    sections: tuple[tuple[str, int | float], ...] = ()

    def get(self, key: str, default: int | float | None = None) -> int | float | None:
        """The value of section ``key``, or ``default`` when absent."""
        return dict(self.sections).get(key, default)

    def __str__(self) -> str:
        joiner = "-" if self.name in _WORD_ELEMENTS() else ""
        head = f"{self.name}{joiner}{self.argument}" if self.argument else self.name
        return "-".join([head, *(f"{key}{_number(value)}" for key, value in self.sections)])


def _number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


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


_TOKEN = re.compile(r"^([a-z]+)(.*)$")
_SECTION = re.compile(r"^([a-z]+)(.*)$")


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
        sections: list[tuple[str, int | float]] = []
        while index < len(tokens):
            match = _SECTION.match(tokens[index])
            key = match.group(1) if match else ""
            if key not in grammar.sections:
                if grammar.sections and not any(tokens[index].startswith(name) for name in ELEMENTS):
                    raise ConfigError(
                        f"policy string {text!r}: unknown section {tokens[index]!r} of {grammar.name!r}; "
                        f"valid keys: {', '.join(grammar.sections)}"
                    )
                break
            if any(key == k for k, _ in sections):
                raise ConfigError(f"policy string {text!r}: section {key!r} of {grammar.name!r} is given twice")
            sections.append((key, grammar.sections[key].convert(grammar.name, key, match.group(2))))
            index += 1
        elements.append(ElementSpec(grammar.name, argument, tuple(sections)))
    return PipelineSpec(tuple(elements))


def policy(text: str) -> Transform:
    """Build the transform a policy string describes, e.g. ``policy("rand-m9-n2-mstd0.5")``."""
    return parse(text).build()
