"""Registries: names -> factories, built from specs ``{type: NAME, **options}`` or a bare name.

Every configurable part of augbench (dataset, model, transform, policy, mixer, method,
optimiser, schedule, evaluation, modality) lives in one :class:`Registry`. A *spec* is either a
registered name or a mapping with a ``type`` key and the factory's options; building validates
it strictly: an unknown name lists the close matches and the choices, an unknown option lists
the valid ones. Runtime *context* (the number of classes, the input shape, the parameters to
optimise) is passed separately and only to factories whose signature asks for it, so a spec in
a YAML file never has to say it.

:meth:`Registry.resolve` turns a spec into its canonical form, every default filled in, which
is what the results store keeps and hashes: "the same run" means the same resolved spec.
"""

from __future__ import annotations

import difflib
import inspect
import enum
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from augbench.errors import ConfigError

__all__ = ["Registry", "Spec", "OptionError", "spec_type", "spec_options", "canonical_json"]

T = TypeVar("T")
Spec = str | Mapping[str, Any]
"""A registered name, or ``{"type": name, **options}``."""


class OptionError(ConfigError, TypeError):
    """An option a factory does not take (a ``ConfigError`` that is also a ``TypeError``)."""


def spec_type(spec: Any, kind: str = "component") -> str:
    """The registered name a spec refers to; one line if the spec is malformed."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping):
        name = spec.get("type")
        if isinstance(name, str):
            return name
        raise ConfigError(f"a {kind} spec needs a 'type' key naming the {kind}, got {_short(spec)}")
    raise ConfigError(f"a {kind} spec is a name or a mapping with a 'type' key, got {_short(spec)}")


def spec_options(spec: Spec) -> dict[str, Any]:
    """The options of a spec (everything but ``type``)."""
    return {} if isinstance(spec, str) else {k: v for k, v in spec.items() if k != "type"}


def canonical_json(value: Any) -> str:
    """Sorted-key, compact JSON: equal specs give equal strings (and hashes). Integral floats
    are written as integers, so ``1.0`` and ``1`` in a YAML file are the same run.

    >>> canonical_json({"b": [1.0, 0.5], "a": None})
    '{"a":null,"b":[1,0.5]}'
    """
    return json.dumps(_numbers(_plain(value)), sort_keys=True, separators=(",", ":"))


def _numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # e.g. an InterpolationMode default: its string value
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Registry(Generic[T]):
    """Maps names to factories (classes or functions) and builds them from specs.

    >>> MODELS = Registry("model")
    >>> @MODELS.register("tiny")
    ... def tiny(width: int = 4, num_classes: int = 2) -> list:
    ...     return [width, num_classes]
    >>> MODELS.build({"type": "tiny", "width": 2}, context={"num_classes": 10})
    [2, 10]
    >>> MODELS.resolve("tiny", context=("num_classes",))
    {'type': 'tiny', 'width': 4}
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator that adds a factory under ``name`` (a second use of a name is an error)."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ConfigError(f"{self.kind} {name!r} is already registered; pick another name")
            self._entries[name] = factory
            return factory

        return add

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._entries)

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``; unknown names list close matches."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            close = self.get_close(name) if isinstance(name, str) else []
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}; {hint}choose from: {', '.join(self.names())}"
            ) from None

    def get_close(self, name: str) -> list[str]:
        """Up to three registered names close to ``name`` (for "did you mean" hints)."""
        return difflib.get_close_matches(name, self._entries, n=3)

    def options(self, name: str, context: tuple[str, ...] | Mapping[str, Any] = ()) -> dict[str, Any]:
        """The options of ``name`` a spec may set, with their defaults (``inspect.Parameter.empty``
        for required ones); context parameters and ``*args``/``**kwargs`` are left out."""
        parameters = inspect.signature(self.get(name)).parameters.values()
        return {
            p.name: p.default
            for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in context
        }

    def _check(self, name: str, options: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        parameters = inspect.signature(self.get(name)).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        reserved = sorted(set(options) & set(context))
        if reserved:
            raise OptionError(
                f"{self.kind} {name!r}: option {reserved[0]!r} is set by the run (from the data), "
                "not by the spec; remove it"
            )
        unknown = sorted(set(options) - set(parameters))
        if unknown and not takes_any:
            valid = ", ".join(self.options(name, context)) or "none"
            raise OptionError(f"{self.kind} {name!r} got unknown option {unknown[0]!r}; valid options: {valid}")
        missing = [
            p.name for p in parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name not in options and p.name not in context
        ]
        if missing:
            raise OptionError(f"{self.kind} {name!r} needs option {missing[0]!r}; add it to the spec")

    def build(self, spec: Spec, /, *, context: Mapping[str, Any] | None = None, **options: Any) -> T:
        """Build a spec. ``options`` are merged over the spec's own; ``context`` entries are
        passed to the factory only if its signature names them.

        Raises:
            ConfigError: unknown name, malformed spec, or (as :class:`OptionError`, also a
                ``TypeError``) an unknown, missing or reserved option.
        """
        name = spec_type(spec, self.kind)
        merged = {**spec_options(spec), **options}
        context = dict(context or {})
        self._check(name, merged, context)
        parameters = inspect.signature(self.get(name)).parameters
        wanted = {k: v for k, v in context.items() if k in parameters}
        return self.get(name)(**merged, **wanted)

    def resolve(self, spec: Spec, *, context: tuple[str, ...] | Mapping[str, Any] = ()) -> dict[str, Any]:
        """The canonical spec: ``{"type": name}`` plus every option, defaults filled in, after
        the same validation as :meth:`build`. Tuples become lists (JSON form)."""
        name = spec_type(spec, self.kind)
        given = spec_options(spec)
        names = context if not isinstance(context, Mapping) else tuple(context)
        self._check(name, given, dict.fromkeys(names))
        resolved: dict[str, Any] = {"type": name}
        for option, default in self.options(name, names).items():
            value = given.get(option, default)
            resolved[option] = _plain(value)
        for option in sorted(set(given) - set(resolved)):  # **kwargs factories
            resolved[option] = _plain(given[option])
        return resolved

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
