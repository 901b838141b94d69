"""Randomness for augbench: the ``Params`` container, the default generator and batched draws.

All randomness in the library flows through an explicit ``torch.Generator`` or a
:class:`~augbench.keyed.KeyedGenerator` (per-sample keyed draws). When none is passed, augbench
uses its own default generator (seed it with :func:`augbench.seed`), never torch's global RNG.
Draws happen on the generator's device and are then moved to the images' device, so a CPU
generator gives the same parameters whatever device the images are on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Union

import torch
from torch import Tensor

from augbench.distributions import AnyGenerator, rand
from augbench.errors import InputTypeError, InputValueError

__all__ = [
    "Params",
    "seed",
    "default_generator",
    "resolve_generator",
    "uniform",
    "log_uniform",
    "bernoulli",
    "randint",
    "seeded_init",
]

ParamValue = Union[Tensor, "Params"]

_default = torch.Generator()
_default.seed()


def seed(value: int) -> torch.Generator:
    """Seed augbench's default generator, used whenever no generator is passed.

    Args:
        value: any integer seed.

    Returns:
        The default generator (a CPU ``torch.Generator``).
    """
    _default.manual_seed(int(value))
    return _default


def default_generator() -> torch.Generator:
    """augbench's default CPU generator (see :func:`seed`)."""
    return _default


def resolve_generator(generator: torch.Generator | None) -> torch.Generator:
    """``generator`` itself, or the default generator when it is ``None``."""
    if generator is None:
        return _default
    if not isinstance(generator, torch.Generator):
        raise InputTypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}; "
            "pass torch.Generator().manual_seed(0)"
        )
    return generator


class Params(Mapping[str, ParamValue]):
    """Parameters of one draw: named tensors whose leading dimension is the batch size.

    A ``Params`` is immutable and may nest (``Compose`` keeps one per child). Attribute access
    reads an entry: ``params.angle`` is ``params["angle"]``.

    Args:
        batch_size: number of samples the draw is for.
        drawn_by: name of the transform that drew them, checked when they are applied.
        **entries: tensors of shape ``(batch_size, ...)`` or nested ``Params``.
    """

    def __init__(self, batch_size: int, *, drawn_by: str = "", **entries: ParamValue) -> None:
        for name, value in entries.items():
            if not isinstance(value, (Params, Tensor)) or (isinstance(value, Tensor) and value.ndim == 0):
                raise InputValueError(
                    f"param {name!r} must be a tensor with a leading batch dimension or a Params, got "
                    f"{type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}"
                )
            size = value.batch_size if isinstance(value, Params) else value.shape[0]
            if size != batch_size:
                raise InputValueError(
                    f"param {name!r} has leading size {size}, expected batch size {batch_size}"
                )
        object.__setattr__(self, "_batch_size", int(batch_size))
        object.__setattr__(self, "_drawn_by", drawn_by)
        object.__setattr__(self, "_entries", dict(entries))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Params are immutable; build a new Params instead of setting {name!r}")

    @property
    def drawn_by(self) -> str:
        """Name of the transform that drew these parameters ("" when unknown)."""
        return self._drawn_by

    @property
    def batch_size(self) -> int:
        """The number of samples these parameters were drawn for."""
        return self._batch_size

    def __getitem__(self, name: str) -> ParamValue:
        return self._entries[name]

    def __getattr__(self, name: str) -> ParamValue:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._entries[name]
        except KeyError:
            raise AttributeError(f"Params has no entry {name!r}; it has {sorted(self._entries)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{k}={v!r}" if isinstance(v, Params) else f"{k}={tuple(v.shape)}:{v.dtype}"
            for k, v in self._entries.items()
        )
        return f"Params(batch_size={self._batch_size}, {inner})"

    def to(self, device: torch.device | str) -> Params:
        """The same parameters on ``device`` (``self`` when every entry is already there)."""
        device = torch.device(device)
        if self._is_on(device):
            return self
        return Params(self._batch_size, drawn_by=self.drawn_by, **{k: v.to(device) for k, v in self._entries.items()})

    def _is_on(self, device: torch.device) -> bool:
        return all(v._is_on(device) if isinstance(v, Params) else v.device == device for v in self._entries.values())

    def select(self, index: Tensor) -> Params:
        """The draws of the samples ``index`` (``(k,)`` int64), nested ``Params`` included."""
        return Params(
            int(index.shape[0]),
            drawn_by=self.drawn_by,
            **{k: v.select(index) if isinstance(v, Params) else v.index_select(0, index.to(v.device))
               for k, v in self._entries.items()},
        )

    def expand(self, batch_size: int) -> Params:
        """Repeat a single draw (batch size 1) for ``batch_size`` samples, without copying."""
        if self._batch_size != 1:
            raise InputValueError(f"only a draw of batch size 1 can be expanded, got {self._batch_size}")
        return Params(
            batch_size,
            drawn_by=self.drawn_by,
            **{
                k: v.expand(batch_size) if isinstance(v, Params) else v.expand(batch_size, *v.shape[1:])
                for k, v in self._entries.items()
            },
        )


@contextmanager
def seeded_init(generator: torch.Generator) -> Iterator[None]:
    """Run the block under torch's global RNG seeded from one draw of ``generator``, then restore it.

    For building the extra networks of a method (a projection head, a policy network): their
    initialisation then follows from the run's seed alone, and torch's global RNG is left as it
    was (``torch.random.fork_rng`` on the CPU).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        yield


def _shape(size: int | tuple[int, ...]) -> tuple[int, ...]:
    return (size,) if isinstance(size, int) else tuple(size)


def uniform(low: float, high: float, size: int | tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """float32 draws from U[low, high) of shape ``size`` (an int ``n`` means ``(n,)``)."""
    return low + (high - low) * rand(_shape(size), generator)


def log_uniform(low: float, high: float, size: int | tuple[int, ...], generator: AnyGenerator) -> Tensor:
    """Draws whose logarithm is uniform on [log low, log high), of shape ``size``."""
    return torch.exp(uniform(math.log(low), math.log(high), size, generator))


def bernoulli(p: float, n: int, generator: AnyGenerator) -> Tensor:
    """``n`` booleans, each True with probability ``p``, shape ``(n,)``."""
    return rand((n,), generator) < p


def randint(high: Tensor, generator: AnyGenerator) -> Tensor:
    """One integer per entry of ``high``, uniform on ``[0, high)``; int64, same shape as ``high``.

    ``high`` may differ per sample (e.g. the number of valid crop positions), which
    ``torch.randint`` cannot do.
    """
    u = rand(tuple(high.shape), generator)
    return torch.minimum((u * high).long(), (high - 1).clamp(min=0).long())
