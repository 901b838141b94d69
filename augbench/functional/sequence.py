"""Kernels for item sequences: crop, mask, reorder, insert and substitute on ``(B, L)`` id batches.

Layout (the ``sequence`` modality): ``(B, L)`` integer item ids, **left-padded**: a row holds
``L - n`` padding ids (:data:`PAD_ID` = 0) and then its ``n >= 1`` items, oldest first, the most
recent item in the last column. Ids :data:`PAD_ID` (0) and :data:`MASK_ID` (1) are reserved;
items are ``2, 3, ...`` (the MovieLens loader shifts the raw ids by one). The mask id is fixed,
not ``num_items + 1``, so that a transform built from a level alone (a policy op) knows it; a
model's embedding of ``vocab_size = num_items + 2`` rows covers padding, mask and items.

Every kernel works on the whole batch with index arithmetic along ``L`` (gather, scatter, one
sort), never a loop over the samples; per-sample parameters are ``(B,)`` or ``(B, L)`` tensors.
Outputs keep the shape, dtype and device, keep the padding on the left and never empty a row.
The parameters are positions and ids, not random numbers: :mod:`augbench.transforms.sequence`
draws them. Kernels check their input (``check=False`` skips it, for callers that just did).
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = [
    "PAD_ID",
    "MASK_ID",
    "FIRST_ITEM_ID",
    "item_lengths",
    "crop_items",
    "mask_items",
    "reorder_items",
    "insert_items",
    "substitute_items",
    "correlated_items",
    "cooccurrence_table",
]

PAD_ID = 0
"""The padding id; a row's padding comes first (left padding)."""
MASK_ID = 1
"""The reserved mask id that :func:`mask_items` writes by default."""
FIRST_ITEM_ID = 2
"""The smallest item id."""

_LAYOUT = "sequences are (B, L) item ids, left-padded with 0 (most recent item last)"


def item_lengths(items: Tensor, who: str = "item_lengths") -> Tensor:
    """The number of items ``n`` of every row, after checking the layout.

    Args:
        items: ``(B, L)`` integer ids, left-padded with 0; ``B = 0`` is allowed.
        who: the caller's name, for messages.

    Returns:
        ``(B,)`` int64 lengths in ``[1, L]``.

    Raises:
        InputTypeError: not a tensor, or not an integer dtype.
        InputValueError: not 2-D, a negative id, a row of padding only, or padding after an item
            (right or inner padding).

    >>> item_lengths(torch.tensor([[0, 0, 5, 7], [3, 2, 9, 4]])).tolist()
    [2, 4]
    """
    if not isinstance(items, Tensor):
        raise InputTypeError(f"{who}: expected a (B, L) tensor of item ids, got {type(items).__name__}")
    if items.is_floating_point() or items.is_complex() or items.dtype == torch.bool:
        raise InputTypeError(f"{who}: item ids must be an integer tensor, got {items.dtype}; use .long()")
    if items.ndim != 2 or items.shape[1] == 0:
        raise InputValueError(f"{who}: {_LAYOUT}; got shape {tuple(items.shape)}")
    present = items != PAD_ID
    lengths = present.sum(1)
    if items.shape[0] == 0:
        return lengths
    # One host sync when the batch is fine: a left-padded row has its items in exactly its last
    # `length` columns.
    last = torch.arange(items.shape[1], device=items.device) >= items.shape[1] - lengths[:, None]
    misplaced = (present != last).any(1)
    if bool(misplaced.any() | (lengths == 0).any() | (items < 0).any()):
        _raise_layout(items, lengths, misplaced, who)
    return lengths


def _raise_layout(items: Tensor, lengths: Tensor, misplaced: Tensor, who: str) -> None:
    """The one-line error of a batch :func:`item_lengths` refused."""
    if bool((items < 0).any()):
        raise InputValueError(f"{who}: item ids must be >= 0 (0 = padding), got {int(items.min())}")
    empty = lengths == 0
    if bool(empty.any()):
        row = int(empty.nonzero()[0, 0])
        raise InputValueError(f"{who}: row {row} holds padding only; drop empty sequences (every row needs an item)")
    row = int(misplaced.nonzero()[0, 0])
    raise InputValueError(f"{who}: row {row} has padding after an item; {_LAYOUT}: move the padding to the left")


def _per_sample(value: Tensor, batch: int, name: str, who: str) -> Tensor:
    """``value`` as a ``(B,)`` int64 tensor, or one line."""
    if not isinstance(value, Tensor) or value.shape != (batch,) or value.is_floating_point():
        got = f"{value.dtype} of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
        raise InputValueError(f"{who}: {name} must be a ({batch},) integer tensor, one value per row, got {got}")
    return value.long()


def _per_position(value: Tensor, items: Tensor, name: str, who: str, dtype: torch.dtype | None = None) -> Tensor:
    """``value`` checked to be ``(B, L)`` like ``items`` (of ``dtype`` when given)."""
    ok = isinstance(value, Tensor) and value.shape == items.shape
    if ok and dtype is torch.bool:
        ok = value.dtype == torch.bool
    elif ok and dtype is not None:
        ok = not value.is_floating_point() and value.dtype != torch.bool
    if not ok:
        kind = {torch.bool: "bool ", None: ""}.get(dtype, "integer ")
        got = f"{value.dtype} of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
        raise InputValueError(f"{who}: {name} must be a {kind}tensor shaped like the items {tuple(items.shape)}, got {got}")
    return value


def _check_span(start: Tensor, length: Tensor, lengths: Tensor, who: str, min_length: int) -> None:
    bad = (start < 0) | (length < min_length) | (start + length > lengths)
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        raise InputValueError(
            f"{who}: row {row}: start={int(start[row])}, length={int(length[row])} is not a span of its "
            f"{int(lengths[row])} items; need 0 <= start, {min_length} <= length, start + length <= n"
        )


def crop_items(items: Tensor, start: Tensor, length: Tensor, *, check: bool = True) -> Tensor:
    """Keep a contiguous sub-sequence of each row: items ``start .. start + length - 1``.

    Positions count the row's items from its oldest one (0); the kept items move to the right
    end of the row and the rest becomes padding (CL4SRec's item crop, Xie et al. 2022).

    Args:
        items: ``(B, L)`` ids, left-padded.
        start: ``(B,)`` integer first kept item, ``>= 0``.
        length: ``(B,)`` integer number of kept items, ``>= 1``, ``start + length <= n``.
        check: validate the inputs (one line on a bad one).

    Shape:
        ``(B, L)`` -> ``(B, L)``, same dtype; row ``b`` holds ``length[b]`` items.

    >>> crop_items(torch.tensor([[0, 4, 5, 6, 7]]), torch.tensor([1]), torch.tensor([2])).tolist()
    [[0, 0, 0, 5, 6]]
    """
    who = "crop_items"
    batch, width = items.shape if isinstance(items, Tensor) and items.ndim == 2 else (0, 0)
    if check:
        lengths = item_lengths(items, who)
        start, length = _per_sample(start, batch, "start", who), _per_sample(length, batch, "length", who)
        _check_span(start, length, lengths, who, 1)
    else:
        lengths = (items != PAD_ID).sum(1)
    columns = torch.arange(width, device=items.device)
    # Output column t (t >= L - length) takes the item in column (L - n) + start + t - (L - length).
    shift = (start + length - lengths).view(-1, 1)
    source = (columns + shift).clamp_(0, width - 1)
    kept = columns >= (width - length).view(-1, 1)
    return items.gather(1, source).masked_fill_(~kept, PAD_ID)


def mask_items(items: Tensor, chosen: Tensor, mask_id: int = MASK_ID, *, check: bool = True) -> Tensor:
    """Replace the items at ``chosen`` positions with ``mask_id`` (CL4SRec's item mask).

    Args:
        items: ``(B, L)`` ids, left-padded.
        chosen: ``(B, L)`` bool, True only at items (never at padding).
        mask_id: the id written, ``>= 1`` (default the reserved :data:`MASK_ID`).
        check: validate the inputs.

    Shape:
        ``(B, L)`` -> ``(B, L)``, same dtype; the padding is unchanged.

    >>> mask_items(torch.tensor([[0, 4, 5, 6]]), torch.tensor([[False, True, False, True]])).tolist()
    [[0, 1, 5, 1]]
    """
    who = "mask_items"
    if check:
        item_lengths(items, who)
        _per_position(chosen, items, "chosen", who, torch.bool)
        if isinstance(mask_id, bool) or not isinstance(mask_id, int) or mask_id < 1:
            raise InputValueError(f"{who}: mask_id={mask_id!r} must be an int >= 1 (0 is padding)")
        _check_on_items(chosen, items, "chosen", who)
    return items.masked_fill(chosen, mask_id)


def _check_on_items(chosen: Tensor, items: Tensor, name: str, who: str) -> None:
    if bool((chosen & (items == PAD_ID)).any()):
        raise InputValueError(f"{who}: {name} marks padding positions; mark item positions only (items != 0)")


def reorder_items(items: Tensor, start: Tensor, length: Tensor, keys: Tensor, *, check: bool = True) -> Tensor:
    """Permute a contiguous sub-sequence of each row (CL4SRec's item reorder).

    Items ``start .. start + length - 1`` (counted from the oldest item) are put in the order of
    their ``keys`` (ascending, ties by position); every other item keeps its place.

    Args:
        items: ``(B, L)`` ids, left-padded.
        start: ``(B,)`` integer first item of the window, ``>= 0``.
        length: ``(B,)`` integer window length, ``>= 0`` (0 or 1: unchanged), ``start + length <= n``.
        keys: ``(B, L)`` floats in ``[0, 1)`` (e.g. uniform draws); only the window's are read.
        check: validate the inputs.

    Shape:
        ``(B, L)`` -> ``(B, L)``, same dtype; each row is a permutation of itself.

    >>> keys = torch.tensor([[0.0, 0.0, 0.9, 0.5, 0.1]])
    >>> reorder_items(torch.tensor([[0, 4, 5, 6, 7]]), torch.tensor([1]), torch.tensor([3]), keys).tolist()
    [[0, 4, 7, 6, 5]]
    """
    who = "reorder_items"
    batch, width = items.shape if isinstance(items, Tensor) and items.ndim == 2 else (0, 0)
    if check:
        lengths = item_lengths(items, who)
        start, length = _per_sample(start, batch, "start", who), _per_sample(length, batch, "length", who)
        _check_span(start, length, lengths, who, 0)
        _per_position(keys, items, "keys", who)
        if not keys.is_floating_point() or (keys.numel() and bool(((keys < 0) | (keys >= 1) | keys.isnan()).any())):
            raise InputValueError(f"{who}: keys must be floats in [0, 1), e.g. uniform draws")
    else:
        lengths = (items != PAD_ID).sum(1)
    columns = torch.arange(width, device=items.device)
    first = (width - lengths + start).view(-1, 1)  # column of the window's first item
    inside = (columns >= first) & (columns < first + length.view(-1, 1))
    # Integer sort keys (cheaper to sort than floats): a window column gets its window's first
    # column plus its key in [0, 1) as a 24-bit fraction (all a float32 uniform holds), any other
    # column itself; sorting keeps everything outside the window in place and orders the window.
    scale = 1 << 24
    sort_keys = torch.where(inside, first * scale + (keys * scale).long(), columns * scale)
    order = sort_keys.argsort(dim=1, stable=True)
    return items.gather(1, order)


def insert_items(items: Tensor, after: Tensor, inserted: Tensor, *, check: bool = True) -> Tensor:
    """Insert ``inserted[b, j]`` right after the item in column ``j`` wherever ``after[b, j]``.

    The longer sequence keeps its most recent ``L`` items: when a row overflows, its oldest
    items drop off the left (the usual truncation of a history to the model's length).

    Args:
        items: ``(B, L)`` ids, left-padded.
        after: ``(B, L)`` bool, True only at items.
        inserted: ``(B, L)`` integer ids, ``>= 1`` wherever ``after`` is True (read there only).
        check: validate the inputs.

    Shape:
        ``(B, L)`` -> ``(B, L)``, same dtype.

    >>> after = torch.tensor([[False, True, False, True]])
    >>> insert_items(torch.tensor([[0, 4, 5, 6]]), after, torch.tensor([[0, 8, 0, 9]])).tolist()
    [[8, 5, 6, 9]]
    """
    who = "insert_items"
    if check:
        item_lengths(items, who)
        _per_position(after, items, "after", who, torch.bool)
        _per_position(inserted, items, "inserted", who, torch.int64)
        _check_on_items(after, items, "after", who)
        if bool((after & (inserted < 1)).any()):
            raise InputValueError(f"{who}: inserted ids must be >= 1 where after is True (0 is padding)")
    batch, width = items.shape
    # Each item followed by its candidate insertion: (B, 2L), kept where the flags say so.
    merged = torch.stack([items, inserted.to(items.dtype)], 2).view(batch, 2 * width)
    kept = torch.stack([items != PAD_ID, after], 2).view(batch, 2 * width)
    from_end = kept.flip(1).cumsum(1).flip(1)  # kept entries at or after each position
    column = width + 1 - from_end  # output column + 1 of a kept entry; <= 0 when it falls off the left
    target = torch.where(kept & (column > 0), column, 0)
    out = items.new_zeros(batch, width + 1)  # column 0 collects everything dropped
    out.scatter_(1, target, torch.where(target > 0, merged, 0))
    return out[:, 1:]


def substitute_items(items: Tensor, chosen: Tensor, replacement: Tensor, *, check: bool = True) -> Tensor:
    """Replace the items at ``chosen`` positions with ``replacement`` ids (CoSeRec's substitute).

    Args:
        items: ``(B, L)`` ids, left-padded.
        chosen: ``(B, L)`` bool, True only at items.
        replacement: ``(B, L)`` integer ids, ``>= 1`` wherever ``chosen`` is True.
        check: validate the inputs.

    Shape:
        ``(B, L)`` -> ``(B, L)``, same dtype.

    >>> chosen = torch.tensor([[False, False, True]])
    >>> substitute_items(torch.tensor([[0, 4, 5]]), chosen, torch.tensor([[0, 0, 9]])).tolist()
    [[0, 4, 9]]
    """
    who = "substitute_items"
    if check:
        item_lengths(items, who)
        _per_position(chosen, items, "chosen", who, torch.bool)
        _per_position(replacement, items, "replacement", who, torch.int64)
        _check_on_items(chosen, items, "chosen", who)
        if bool((chosen & (replacement < 1)).any()):
            raise InputValueError(f"{who}: replacement ids must be >= 1 where chosen is True (0 is padding)")
    return torch.where(chosen, replacement.to(items.dtype), items)


def correlated_items(items: Tensor, table: Tensor, picks: Tensor, *, check: bool = True) -> Tensor:
    """For every position, one item correlated with its item: ``table[item, floor(u * count)]``.

    Args:
        items: ``(B, L)`` ids, left-padded; every id must be a row of ``table``.
        table: ``(V, k)`` integer ids, row ``i`` the items most correlated with item ``i``, best
            first, padded with 0 on the right (rows of 0 only: no correlated item).
        picks: ``(B, L)`` floats in ``[0, 1)``: which of the row's ``count`` neighbours to take
            (uniform draws give a uniform choice among them).
        check: validate the inputs.

    Returns:
        ``(B, L)`` ids of ``items``' dtype: the chosen neighbour, 0 at padding and where the
        item has no neighbour.
    """
    who = "correlated_items"
    if check:
        item_lengths(items, who)
        if not isinstance(table, Tensor) or table.ndim != 2 or table.is_floating_point() or table.shape[1] == 0:
            raise InputValueError(f"{who}: table must be a (V, k) integer tensor of item ids, k >= 1")
        _per_position(picks, items, "picks", who)
        if items.numel() and int(items.max()) >= table.shape[0]:
            raise InputValueError(
                f"{who}: item id {int(items.max())} has no row in the correlation table of {table.shape[0]} ids; "
                "build the table for this catalogue"
            )
    table = table.to(items.device)
    count = (table != PAD_ID).sum(1)[items]  # (B, L) neighbours of each position's item
    slot = (picks * count).long().clamp_(max=(count - 1).clamp(min=0))
    neighbours = table[items].gather(2, slot.unsqueeze(2)).squeeze(2)
    return torch.where((count > 0) & (items != PAD_ID), neighbours, 0).to(items.dtype)


def cooccurrence_table(sequences: Tensor, num_ids: int, k: int, window: int = 1) -> Tensor:
    """The ``k`` items co-occurring most often with each item in ``sequences``.

    Two items co-occur when they are at most ``window`` positions apart in a row (either
    order); a pair is counted once per occurrence, a pair of equal ids never. Row ``i`` lists
    the ids by decreasing count, ties by increasing id, padded with 0 when fewer than ``k``
    items co-occur with ``i``. Built from sorted pair keys (``torch.unique``), so memory grows
    with the number of distinct pairs, not with ``num_ids ** 2``.

    Args:
        sequences: ``(N, L)`` ids with 0 as padding (e.g. the training part of every user).
        num_ids: ``V``, the number of rows (every id in ``sequences`` is below it).
        k: neighbours kept per item, ``>= 1``.
        window: the largest distance of a co-occurring pair, ``>= 1`` (1: neighbours in time).

    Returns:
        ``(V, k)`` int64 on the device of ``sequences``.

    >>> cooccurrence_table(torch.tensor([[0, 2, 3, 4], [3, 4, 2, 5]]), 6, 2).tolist()
    [[0, 0], [0, 0], [3, 4], [4, 2], [3, 2], [2, 0]]
    """
    who = "cooccurrence_table"
    if not isinstance(sequences, Tensor) or sequences.ndim != 2 or sequences.is_floating_point():
        raise InputValueError(f"{who}: sequences must be an (N, L) integer tensor of ids, 0 = padding")
    for name, value in (("num_ids", num_ids), ("k", k), ("window", window)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputValueError(f"{who}: {name}={value!r} must be an int >= 1")
    if sequences.numel() and (int(sequences.min()) < 0 or int(sequences.max()) >= num_ids):
        raise InputValueError(f"{who}: ids must lie in [0, num_ids={num_ids}); got {int(sequences.min())}..{int(sequences.max())}")
    sequences = sequences.long()
    keys = []
    for distance in range(1, min(window, sequences.shape[1] - 1) + 1):
        first, second = sequences[:, :-distance].reshape(-1), sequences[:, distance:].reshape(-1)
        pair = (first != PAD_ID) & (second != PAD_ID) & (first != second)
        first, second = first[pair], second[pair]
        keys += [first * num_ids + second, second * num_ids + first]
    table = torch.zeros(num_ids, k, dtype=torch.int64, device=sequences.device)
    if not keys:
        return table
    pairs, counts = torch.cat(keys).unique(return_counts=True)  # sorted by (row, column)
    rows, columns = pairs // num_ids, pairs % num_ids
    # Order by row, then by decreasing count; the stable sorts keep increasing ids within ties.
    order = (-counts).argsort(stable=True)
    order = order[rows[order].argsort(stable=True)]
    rows, columns = rows[order], columns[order]
    rank = torch.arange(rows.shape[0], device=rows.device) - torch.searchsorted(rows, rows)
    top = rank < k
    table[rows[top], rank[top]] = columns[top]
    return table
