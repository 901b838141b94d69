"""The policy op registry of every modality, and RandAugment for any of them.

Image policies dispatch through the kernel table :data:`augbench.policies.ops.OPS` (a kernel
and a level -> argument map per op). The other modalities register their policy ops here: an
op is a factory that builds the modality's :class:`~augbench.transforms.base.Transform` at a
*level* in [0, 1] (0 = the identity, 1 = the strongest setting the op offers in a policy).
:class:`ModalityRandAugment` then gives every sample ``num_ops`` ops drawn uniformly from the
registry, all at one magnitude, with the samples grouped by op (one batched call per op present
in a layer, never one per sample). :func:`list_ops` lists both tables: ``augbench list ops
--modality NAME``.

Keyed draws stay order-independent: in layer ``l`` every op ``k`` draws its parameters for
*every* sample (from the keyed child stream ``1 + l * K + k``) and is applied to the samples
that chose it, so a sample's augmentation depends on its key alone, never on which other
samples share its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from augbench.distributions import AnyGenerator, rand
from augbench.errors import ConfigError, InputValueError
from augbench.keyed import KeyedGenerator
from augbench.modalities import MODALITIES
from augbench.random import Params
from augbench.transforms.base import Transform

__all__ = ["ModalOp", "MODALITY_OPS", "register_op", "modality_ops", "list_ops", "ModalityRandAugment"]

OpFactory = Callable[[float], Transform]
"""``level in [0, 1] -> Transform`` of the op at that strength (level 0: the identity)."""


@dataclass(frozen=True)
class ModalOp:
    """A policy op of a modality.

    Attributes:
        modality: the registered modality the op's transform takes.
        name: the op's name in its modality's table (``"TimeWarp"``).
        build: ``level -> Transform``; the transform must keep the sample shape.
        description: one line for ``augbench list ops``, with the range level 0 -> 1.
    """

    modality: str
    name: str
    build: OpFactory
    description: str = ""

    def at(self, level: float) -> Transform:
        """The op's transform at ``level`` (checked: the modality's, ``p = 1``)."""
        transform = self.build(float(level))
        if not isinstance(transform, Transform) or transform.modality != self.modality:
            raise ConfigError(f"policy op {self.modality}/{self.name}: its factory must build a {self.modality} Transform")
        return transform


MODALITY_OPS: dict[str, dict[str, ModalOp]] = {}
"""modality -> op name -> op, filled by :func:`register_op` (images use ``OPS`` instead)."""


def register_op(modality: str, name: str, description: str = "") -> Callable[[OpFactory], OpFactory]:
    """Decorator registering ``factory(level) -> Transform`` as op ``name`` of ``modality``."""
    if modality not in MODALITIES or modality == "image":
        raise ConfigError(f"register_op: modality {modality!r} must be a registered non-image modality")

    def decorate(factory: OpFactory) -> OpFactory:
        table = MODALITY_OPS.setdefault(modality, {})
        if name in table:
            raise ConfigError(f"register_op: {modality} op {name!r} is already registered")
        table[name] = ModalOp(modality, name, factory, description)
        return factory

    return decorate


def _load_ops() -> None:
    """Import the modules that register policy ops (the modality transform modules)."""
    import augbench.transforms  # noqa: F401  (the modality modules register their ops on import)


def modality_ops(modality: str) -> dict[str, ModalOp]:
    """The policy ops of ``modality``; one line naming the choices for an unknown or op-less one."""
    _load_ops()
    if modality not in MODALITIES:
        raise ConfigError(f"unknown modality {modality!r}; choose from {', '.join(MODALITIES.names())}")
    table = MODALITY_OPS.get(modality)
    if not table:
        have = ", ".join(sorted(["image", *MODALITY_OPS]))
        raise ConfigError(f"modality {modality!r} has no policy ops yet; modalities with ops: {have}")
    return table


def list_ops(modality: str) -> list[tuple[str, str]]:
    """``(name, description)`` of every policy op of ``modality`` (images: the kernel table)."""
    if modality == "image":
        from augbench.policies.ops import OPS, SPACES

        standard = SPACES["standard"]
        return [
            (name, "no magnitude" if name not in standard or standard[name].at_zero == standard[name].at_one
             else f"{standard[name].at_zero:g} -> {standard[name].at_one:g}{' (random sign)' if standard[name].signed else ''}")
            for name in OPS
        ]
    return [(op.name, op.description) for op in modality_ops(modality).values()]


class ModalityRandAugment(Transform):
    """RandAugment for a non-image modality: ``num_ops`` ops per sample, one magnitude for all.

    Each sample draws its own op in each of ``num_ops`` layers, uniformly from ``ops`` (default:
    every op registered for the modality); every op runs at level ``magnitude / max_magnitude``
    (timm's convention: ``magnitude=9`` of 10). The samples of a layer are grouped by op and each
    group goes through the op's batched transform in one call.

    Args:
        modality: a registered modality with policy ops (``augbench list ops --modality NAME``).
        num_ops: ops per sample (RandAugment's N), ``>= 1``.
        magnitude: RandAugment's M, in ``[0, max_magnitude]``; 0 makes every op the identity.
        max_magnitude: the magnitude of level 1.
        ops: the op names to choose from (default: all of the modality's).
        same_on_batch: one op choice and one draw for the whole batch.

    Example (once a modality has registered ops, e.g. ``"timeseries"``)::

        policy = ModalityRandAugment("timeseries", num_ops=2, magnitude=9)
        policy(torch.randn(8, 1, 100), generator=torch.Generator().manual_seed(0)).shape  # (8, 1, 100)
    """

    blend_skipped = False
    modality = ""  # set per instance from the ``modality`` argument

    def __init__(
        self,
        modality: str,
        num_ops: int = 2,
        magnitude: float = 9.0,
        max_magnitude: float = 10.0,
        ops: Sequence[str] | None = None,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(same_on_batch=same_on_batch)
        table = modality_ops(modality)
        who = type(self).__name__
        if isinstance(num_ops, bool) or not isinstance(num_ops, int) or num_ops < 1:
            raise ConfigError(f"{who}: num_ops={num_ops!r} must be an int >= 1")
        if isinstance(max_magnitude, bool) or not isinstance(max_magnitude, (int, float)) or not max_magnitude > 0:
            raise ConfigError(f"{who}: max_magnitude={max_magnitude!r} must be a number > 0")
        if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float)) or not 0 <= magnitude <= max_magnitude:
            raise ConfigError(f"{who}: magnitude={magnitude!r} must be a number in [0, {max_magnitude:g}]")
        names = list(table) if ops is None else ops
        if isinstance(names, str) or not names:
            raise ConfigError(f"{who}: ops={ops!r} must be a non-empty list of {modality} op names")
        unknown = [name for name in names if name not in table]
        if unknown:
            raise ConfigError(f"{who}: unknown {modality} ops {unknown}; choose from {', '.join(table)}")
        self.modality = modality
        self.num_ops = num_ops
        self.magnitude = float(magnitude)
        self.max_magnitude = float(max_magnitude)
        self.ops = None if ops is None else tuple(ops)
        level = self.magnitude / self.max_magnitude
        self._names = tuple(names)
        self._transforms = tuple(table[name].at(level) for name in self._names)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Any]:
        count = len(self._transforms)
        op = (rand((n, self.num_ops), generator) * count).long().clamp_(max=count - 1)
        entries: dict[str, Any] = {"op": op}
        for layer in range(self.num_ops):
            for index, transform in enumerate(self._transforms):
                if transform.output_shape(shape) != shape:
                    raise InputValueError(f"{type(self).__name__}: op {self._names[index]} changes the sample shape")
                source = generator.child(1 + layer * count + index) if isinstance(generator, KeyedGenerator) else generator
                entries[f"{layer}_{index}"] = transform.sample_for(n, shape, source)
        return entries

    def transform(self, inputs: Tensor, params: Params, target: str) -> Tensor:
        count = len(self._transforms)
        op = params.op
        if inputs.shape[0] == 0:
            return inputs
        offsets = torch.arange(self.num_ops, device=op.device) * count
        counts = torch.bincount((op + offsets).reshape(-1), minlength=self.num_ops * count).view(self.num_ops, count).tolist()
        result = inputs
        for layer in range(self.num_ops):
            for index, transform in enumerate(self._transforms):
                if not counts[layer][index]:
                    continue
                child: Params = params[f"{layer}_{index}"]  # type: ignore[assignment]
                if counts[layer][index] == inputs.shape[0]:
                    result = transform.apply_checked(result, child)
                    continue
                chosen = (op[:, layer] == index).nonzero().squeeze(1)
                out = transform.apply_checked(result.index_select(0, chosen), child.select(chosen))
                result = result.index_copy(0, chosen, out)
        return result

    def extra_repr(self) -> str:
        return f"{self.modality!r}, num_ops={self.num_ops}, magnitude={self.magnitude:g}"
