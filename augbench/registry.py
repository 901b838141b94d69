"""A small name -> factory registry used for transforms, models, datasets and methods."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from augbench.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories (classes or functions).

    >>> MODELS = Registry("model")
    >>> @MODELS.register("tiny")
    ... def tiny(width: int = 4) -> list:
    ...     return [width]
    >>> MODELS.build("tiny", width=2)
    [2]
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
        except KeyError:
            close = self.get_close(name)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}; {hint}choose from: {', '.join(self.names())}"
            ) from None

    def get_close(self, name: str) -> list[str]:
        """Up to three registered names close to ``name`` (for "did you mean" hints)."""
        return difflib.get_close_matches(name, self._entries, n=3)

    def build(self, name: str, **kwargs: Any) -> T:
        """Call the factory of ``name`` with ``kwargs``; an unknown keyword is a ``TypeError``."""
        factory = self.get(name)
        parameters = inspect.signature(factory).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        unknown = sorted(set(kwargs) - set(parameters))
        if unknown and not takes_any:
            raise TypeError(
                f"{self.kind} {name!r} got unknown option(s) {unknown}; "
                f"valid options: {', '.join(parameters) or 'none'}"
            )
        return factory(**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
