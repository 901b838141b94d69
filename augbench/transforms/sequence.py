"""Item-sequence transforms ``(B, L)`` int64, left-padded, one draw per sample, and their policy ops.

The ops of CL4SRec (Xie et al., "Contrastive Learning for Sequential Recommendation", ICDE 2022):
:class:`ItemCrop`, :class:`ItemMask`, :class:`ItemReorder`; and CoSeRec's correlation-based ones
(Liu et al., "Contrastive Self-supervised Sequential Recommendation with Robust Augmentation",
2021): :class:`ItemInsert`, :class:`ItemSubstitute`.

Each transform draws unit uniforms in :meth:`~augbench.transforms.base.Transform.sample`
(``(B,)`` window offsets, ``(B, L)`` position scores) and its ``apply`` turns them into
positions of each row's ``n`` items with a batched kernel of :mod:`augbench.functional.sequence`,
so a draw can be replayed and keyed draws depend on a sample's key alone. "The ``m`` positions
with the smallest scores" is a uniform random subset of size ``m``. Rows keep their padding on
the left, never end up empty, and a row of padding only is refused with one line.

**Mask id.** :class:`ItemMask` writes the reserved id 1 (:data:`~augbench.functional.sequence.MASK_ID`)
by default; items are ids 2.. and a model's embedding of ``vocab_size`` rows covers it.

**Correlated items.** Insert and substitute pick, for an item ``i``, one of the ``neighbours``
items that co-occur most often with ``i`` in the training sequences (uniformly among them). The
table comes from either ``table=`` (an explicit ``(V, k)`` list of ids, row ``i`` best first,
0-padded) or ``dataset=`` naming a registered correlation source (:data:`ITEM_CORRELATIONS`,
e.g. ``"movielens_100k"``, built from that dataset's training split only, lazily on first use
and cached per process). Both are plain constructor options, so a YAML spec and ``to_dict``
carry them. These two ops are not policy ops: a policy op is built from a level alone, and they
need a table.

**Speed.** On the CPU, crop, mask and reorder of int64 ids with float32 draws run through
``augbench/native/sequence.c`` (one pass per row from the drawn uniforms: an order statistic
instead of a sort, the window sorted in place), and insert/substitute pick their positions
there; the torch code below stays the reference and runs without a C compiler or with
``AUGBENCH_NATIVE=0``, with identical results (``tests/native/test_sequence_kernel.py``).

**Policy ops** (``augbench list ops --modality sequence``): ``Crop``, ``Mask``, ``Reorder``,
each the identity at level 0.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

import augbench.functional.sequence as F
from augbench.distributions import AnyGenerator, rand
from augbench.errors import ConfigError, InputValueError
from augbench.native import library, thread_count
from augbench.policies.modal import register_op
from augbench.random import Params
from augbench.registry import Registry
from augbench.transforms.base import Transform

__all__ = ["ItemCrop", "ItemMask", "ItemReorder", "ItemInsert", "ItemSubstitute", "ITEM_CORRELATIONS"]

ITEM_CORRELATIONS: Registry[Tensor] = Registry("item correlation source")
"""Correlation tables by dataset name: ``factory(neighbours) -> (V, neighbours)`` int64
ids (see :func:`augbench.functional.sequence.cooccurrence_table`), built from that dataset's
training split; dataset modules register theirs (``movielens_100k``)."""

_EPS = 1e-9  # keeps ceil(0.6 * 5) at 3 despite float rounding
_OP = "sequence"


def _fraction(who: str, name: str, value: object, *, above_zero: bool = False) -> float:
    """``value`` as a float in ``[0, 1]`` (``(0, 1]`` when ``above_zero``), else one line."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (0.0 < value <= 1.0 if above_zero else 0.0 <= value <= 1.0):
        interval = "(0, 1]" if above_zero else "[0, 1]"
        raise InputValueError(f"{who}: {name}={value!r} must be a number in {interval}")
    return float(value)


def _count(who: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputValueError(f"{who}: {name}={value!r} must be an int >= 1")
    return value


def _ceil(fraction: float, lengths: Tensor) -> Tensor:
    return torch.ceil(fraction * lengths.double() - _EPS).long()


def _compiled(like: Tensor, rows: Sequence[Tensor], positions: Sequence[Tensor]) -> ctypes.CDLL | None:
    """``augbench/native/sequence.c`` when it takes these tensors, else ``None`` (the torch path).

    All on the CPU, ``like`` ``(B, L)``, ``rows`` ``(B,)`` and ``positions`` ``(B, L)``; any other
    shape (a draw for another batch) goes to the torch path, which says what is wrong."""
    if like.device.type != "cpu" or like.ndim != 2 or any(t.device.type != "cpu" for t in (*rows, *positions)):
        return None
    if any(t.shape != like.shape[:1] for t in rows) or any(t.shape != like.shape for t in positions):
        return None
    return library("sequence")


def _run_compiled(function: str, items: Tensor, draws: Sequence[Tensor], *settings: float) -> Tensor | None:
    """``function`` of ``augbench/native/sequence.c`` on int64 ``items`` and float32 ``draws``
    (``(B,)`` offsets, then ``(B, L)`` scores), with the op's ``settings``; ``None`` when the
    kernel is not there, does not take these tensors, or leaves the batch to the torch path
    (a row breaking the layout, whose one-line error the torch path raises; a parameter out of
    range)."""
    if items.dtype != torch.int64 or any(d.dtype != torch.float32 for d in draws):
        return None
    compiled = _compiled(items, [d for d in draws if d.ndim == 1], [d for d in draws if d.ndim != 1])
    if compiled is None:
        return None
    items, draws = items.contiguous(), [d.contiguous() for d in draws]
    out = torch.empty_like(items)
    batch, width = items.shape
    status = getattr(compiled, function)(
        items.data_ptr(), batch, width, *(d.data_ptr() for d in draws), *settings, out.data_ptr(), thread_count(out.nbytes)
    )
    return out if status == 0 else None


def _smallest(scores: Tensor, allowed: Tensor, count: Tensor) -> Tensor:
    """``(B, L)`` bool: the ``count[b]`` allowed positions of row ``b`` with the smallest scores
    (all allowed ones when fewer, every position tied with the last one too).

    One pass per row in ``augbench/native/sequence.c`` (an order statistic, no sort) when it
    takes the tensors: the same positions as the torch sort below."""
    if scores.dtype == torch.float32 and allowed.dtype == torch.bool and count.dtype == torch.int64:
        compiled = _compiled(allowed, [count], [scores])
        if compiled is not None:
            scores, allowed, count = scores.contiguous(), allowed.contiguous(), count.contiguous()
            chosen = torch.empty_like(allowed)
            status = compiled.seq_smallest(scores.data_ptr(), allowed.data_ptr(), count.data_ptr(), *allowed.shape,
                                           chosen.data_ptr(), thread_count(chosen.nbytes))
            if status == 0:  # else (out of memory) the torch sort below
                return chosen
    ranked = torch.where(allowed, scores, 2.0)  # scores are in [0, 1)
    threshold = ranked.sort(1).values.gather(1, (count - 1).clamp(0, scores.shape[1] - 1).view(-1, 1))
    return allowed & (ranked <= threshold) & (count > 0).view(-1, 1)


class _ItemTransform(Transform):
    """Base of the item-sequence transforms: the modality, the row lengths, per-position draws."""

    modality = _OP

    def _lengths(self, items: Tensor) -> Tensor:
        return F.item_lengths(items, type(self).__name__)

    def _per_position(self, draws: Tensor, items: Tensor) -> Tensor:
        """``(B, L)`` draws of :meth:`sample`, checked to be for sequences of this length."""
        if draws.shape != items.shape:
            raise InputValueError(
                f"{type(self).__name__}: params were drawn for sequences of length {draws.shape[1]}, got "
                f"{items.shape[1]}; call sample() on this batch"
            )
        return draws


class ItemCrop(_ItemTransform):
    """Keep a random contiguous sub-sequence of ``ceil(eta * n)`` items (CL4SRec's item crop).

    The window start is uniform over the ``n - ceil(eta * n) + 1`` possible ones; the kept items
    move to the right end of the row (left padding). At least one item is kept.

    Args:
        eta: kept fraction in ``(0, 1]``; 1 is the identity.
        p: per-sample probability of cropping.

    Shape:
        ``(B, L)`` integer ids, left-padded -> same shape and dtype.

    >>> ItemCrop(eta=0.5)(torch.tensor([[0, 2, 3, 4, 5]]), generator=torch.Generator().manual_seed(0)).tolist()
    [[0, 0, 0, 3, 4]]
    """

    def __init__(self, eta: float = 0.6, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.eta = _fraction(type(self).__name__, "eta", eta, above_zero=True)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"offset": rand((n,), generator)}

    def transform(self, items: Tensor, params: Params, target: str) -> Tensor:
        compiled = _run_compiled("seq_crop", items, [params.offset], self.eta)
        if compiled is not None:
            return compiled
        lengths = self._lengths(items)
        kept = _ceil(self.eta, lengths).clamp_(min=1)
        start = (params.offset.double() * (lengths - kept + 1)).long().clamp_(max=lengths - kept)
        return F.crop_items(items, start, kept, check=False)

    def extra_repr(self) -> str:
        return f"eta={self.eta:g}"


class ItemMask(_ItemTransform):
    """Replace ``floor(gamma * n)`` random items with the mask id (CL4SRec's item mask).

    The count is rounded down as in CL4SRec's code; the masked positions are a uniform random
    subset of the row's items. Padding is never masked.

    Args:
        gamma: masked fraction in ``[0, 1]``; 0 is the identity.
        mask_id: the id written, ``>= 1`` (default the reserved id 1).
        p: per-sample probability of masking.

    Shape:
        ``(B, L)`` integer ids, left-padded -> same shape and dtype.
    """

    def __init__(self, gamma: float = 0.3, mask_id: int = F.MASK_ID, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.gamma = _fraction(who, "gamma", gamma)
        self.mask_id = _count(who, "mask_id", mask_id)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"scores": rand((n, *shape), generator)}

    def transform(self, items: Tensor, params: Params, target: str) -> Tensor:
        compiled = _run_compiled("seq_mask", items, [params.scores], self.gamma, self.mask_id)
        if compiled is not None:
            return compiled
        lengths = self._lengths(items)
        count = torch.floor(self.gamma * lengths.double() + _EPS).long()
        chosen = _smallest(self._per_position(params.scores, items), items != F.PAD_ID, count)
        return F.mask_items(items, chosen, self.mask_id, check=False)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma:g}, mask_id={self.mask_id}"


class ItemReorder(_ItemTransform):
    """Shuffle a random contiguous sub-sequence of ``ceil(beta * n)`` items (CL4SRec's item reorder).

    The window start is uniform over its possible positions; the window's items are put in a
    uniform random order, the other items stay where they are.

    Args:
        beta: window fraction in ``[0, 1]``; 0 is the identity.
        p: per-sample probability of reordering.

    Shape:
        ``(B, L)`` integer ids, left-padded -> same shape and dtype; each row is a permutation.
    """

    def __init__(self, beta: float = 0.6, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.beta = _fraction(type(self).__name__, "beta", beta)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"offset": rand((n,), generator), "order": rand((n, *shape), generator)}

    def transform(self, items: Tensor, params: Params, target: str) -> Tensor:
        compiled = _run_compiled("seq_reorder", items, [params.offset, params.order], self.beta)
        if compiled is not None:
            return compiled
        lengths = self._lengths(items)
        window = _ceil(self.beta, lengths)
        start = (params.offset.double() * (lengths - window + 1)).long().clamp_(max=lengths - window)
        return F.reorder_items(items, start, window, self._per_position(params.order, items), check=False)

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}"


def _check_table(who: str, table: object) -> tuple[tuple[int, ...], ...]:
    """An explicit correlation table as a tuple of equally long rows of ids ``>= 0``."""
    rows = table.tolist() if isinstance(table, Tensor) else table
    ok = isinstance(rows, Sequence) and len(rows) > 0 and all(isinstance(row, Sequence) for row in rows)
    if ok:
        widths = {len(row) for row in rows}
        ok = len(widths) == 1 and widths.pop() > 0 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(rows) for row in rows for v in row
        )
    if not ok:
        raise ConfigError(
            f"{who}: table must be a (V, k) list of item ids in [0, V): row i lists the items correlated "
            "with item i, best first, 0-padded"
        )
    return tuple(tuple(row) for row in rows)


def _packed(table: Tensor) -> Tensor:
    """``table`` with every row's non-zero ids moved to its front, in order (0-padding last)."""
    order = (table == F.PAD_ID).to(torch.int8).argsort(dim=1, stable=True)
    return table.gather(1, order)


class _CorrelatedItems(_ItemTransform):
    """Base of insert and substitute: the correlation table, explicit or from a dataset."""

    def __init__(
        self,
        rate: float,
        table: Sequence[Sequence[int]] | None,
        dataset: str | None,
        neighbours: int,
        p: float,
        same_on_batch: bool,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.rate = _fraction(who, "rate", rate)
        self.neighbours = _count(who, "neighbours", neighbours)
        if (table is None) == (dataset is None):
            raise ConfigError(f"{who}: pass exactly one of table= (explicit ids) and dataset= (e.g. 'movielens_100k')")
        self.table = None if table is None else _check_table(who, table)
        self.dataset = dataset
        self._resolved: Tensor | None = None
        if self.table is not None:
            self._resolved = _packed(torch.tensor(self.table, dtype=torch.int64))[:, : self.neighbours]
        else:
            _correlation_source(dataset)  # fails now on an unknown name; the table loads on first use

    def correlations(self) -> Tensor:
        """The ``(V, k)`` int64 table in use (``k <= neighbours``), loaded on first use."""
        if self._resolved is None:
            self._resolved = _correlation_source(str(self.dataset))(neighbours=self.neighbours)
        return self._resolved

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"scores": rand((n, *shape), generator), "picks": rand((n, *shape), generator)}

    def _chosen(self, items: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        """``(B, L)`` chosen positions (items with a correlated item) and the picked neighbours."""
        who = type(self).__name__
        lengths = self._lengths(items)
        table = self.correlations()
        if items.numel() and int(items.max()) >= table.shape[0]:
            raise InputValueError(
                f"{who}: item id {int(items.max())} has no row in the correlation table of {table.shape[0]} ids; "
                "use the table (or dataset) of these sequences"
            )
        picked = F.correlated_items(items, table, self._per_position(params.picks, items), check=False)
        count = _ceil(self.rate, lengths)
        return _smallest(self._per_position(params.scores, items), picked != F.PAD_ID, count), picked

    def extra_repr(self) -> str:
        source = f"dataset={self.dataset!r}" if self.dataset is not None else f"table=<{len(self.table or ())} rows>"
        return f"rate={self.rate:g}, {source}, neighbours={self.neighbours}"


def _correlation_source(name: str) -> Callable[..., Tensor]:
    """The registered correlation-table factory of dataset ``name`` (importing the dataset modules)."""
    import augbench.data  # noqa: F401  (dataset modules register their correlation sources)

    try:
        return ITEM_CORRELATIONS.get(name)
    except ConfigError as error:
        raise ConfigError(f"dataset={name!r} has no item correlation table ({error})") from None


class ItemInsert(_CorrelatedItems):
    """Insert, after ``ceil(rate * n)`` random items, an item correlated with each (CoSeRec's insert).

    Only items with a correlated item can be chosen (fewer insertions when fewer have one). The
    row keeps its most recent ``L`` items: a full row loses its oldest ones.

    Args:
        rate: fraction of the row's items followed by an insertion, in ``[0, 1]``; 0 is the identity.
        table: explicit ``(V, k)`` correlation table (ids; row ``i`` best first, 0-padded); or
        dataset: a registered correlation source (:data:`ITEM_CORRELATIONS`), e.g. ``"movielens_100k"``.
        neighbours: pick uniformly among the first ``neighbours`` entries of an item's row.
        p: per-sample probability of inserting.

    Shape:
        ``(B, L)`` integer ids, left-padded -> same shape and dtype.
    """

    def __init__(
        self,
        rate: float = 0.2,
        table: Sequence[Sequence[int]] | None = None,
        dataset: str | None = None,
        neighbours: int = 10,
        p: float = 1.0,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(rate, table, dataset, neighbours, p, same_on_batch)

    def transform(self, items: Tensor, params: Params, target: str) -> Tensor:
        chosen, picked = self._chosen(items, params)
        return F.insert_items(items, chosen, picked, check=False)


class ItemSubstitute(_CorrelatedItems):
    """Replace ``ceil(rate * n)`` random items with an item correlated with each (CoSeRec's substitute).

    Only items with a correlated item can be chosen.

    Args:
        rate: substituted fraction of the row's items, in ``[0, 1]``; 0 is the identity.
        table: explicit ``(V, k)`` correlation table (ids; row ``i`` best first, 0-padded); or
        dataset: a registered correlation source (:data:`ITEM_CORRELATIONS`), e.g. ``"movielens_100k"``.
        neighbours: pick uniformly among the first ``neighbours`` entries of an item's row.
        p: per-sample probability of substituting.

    Shape:
        ``(B, L)`` integer ids, left-padded -> same shape and dtype.
    """

    def __init__(
        self,
        rate: float = 0.1,
        table: Sequence[Sequence[int]] | None = None,
        dataset: str | None = None,
        neighbours: int = 10,
        p: float = 1.0,
        *,
        same_on_batch: bool = False,
    ) -> None:
        super().__init__(rate, table, dataset, neighbours, p, same_on_batch)

    def transform(self, items: Tensor, params: Params, target: str) -> Tensor:
        chosen, picked = self._chosen(items, params)
        return F.substitute_items(items, chosen, picked, check=False)


@register_op(_OP, "Crop", "kept fraction eta 1 -> 0.2")
def _crop_op(level: float) -> Transform:
    return ItemCrop(eta=1.0 - 0.8 * level)


@register_op(_OP, "Mask", "masked fraction gamma 0 -> 0.8 (mask id 1)")
def _mask_op(level: float) -> Transform:
    return ItemMask(gamma=0.8 * level)


@register_op(_OP, "Reorder", "shuffled window fraction beta 0 -> 1")
def _reorder_op(level: float) -> Transform:
    return ItemReorder(beta=level)
