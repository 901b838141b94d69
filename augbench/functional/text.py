"""Batched kernels on token ids ``(B, L)`` int64, right-padded with id 0.

Layout: each row holds its real tokens first (left-aligned) and padding (id 0) after them, so
the padding mask is ``ids != 0`` and a row's length is ``(ids != 0).sum(1)``. Reserved ids:
:data:`PAD_ID` 0, :data:`UNK_ID` 1 (a word outside the vocabulary), :data:`MASK_ID` 2; words
start at :data:`FIRST_WORD_ID` 3.

Every kernel is pure (no randomness: positions and choices arrive as tensors), keeps the shape
and dtype, works on all rows at once (sort / gather / scatter on ``(B, L)`` index tensors, no
loop over sentences) and returns rows in the same layout. :func:`token_lengths` checks a batch
and is called once by the transforms; the other kernels trust their input.
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import InputValueError

__all__ = [
    "PAD_ID", "UNK_ID", "MASK_ID", "FIRST_WORD_ID",
    "token_lengths", "uniform_positions", "lowest_positions", "nth_true", "replace_tokens", "delete_tokens", "swap_tokens",
    "insert_tokens", "crop_tokens", "splice_tokens", "lookup_synonyms",
]

PAD_ID = 0
UNK_ID = 1
MASK_ID = 2
FIRST_WORD_ID = 3


def token_lengths(ids: Tensor, who: str = "text") -> Tensor:
    """The ``(B,)`` int64 number of real tokens per row, after checking the layout.

    One host synchronisation for a valid batch; the error is worked out only for an invalid one.

    Raises:
        InputValueError: a negative id, padding (id 0) before a real token in a row, or a row of
            padding only; each in one line naming the fix.
    """
    if not ids.numel():
        return torch.zeros(ids.shape[0], dtype=torch.int64, device=ids.device)
    real = ids > PAD_ID
    lengths = real.sum(1)
    left_aligned = real == (torch.arange(ids.shape[1], device=ids.device) < lengths[:, None])
    if bool(left_aligned.all() & (lengths > 0).all() & (ids.min() >= 0)):
        return lengths
    if bool((ids < 0).any()):
        raise InputValueError(f"{who}: token ids must be >= 0 (0 = padding), got {int(ids.min())}")
    if not bool(lengths.all()):
        row = int((lengths == 0).nonzero()[0])
        raise InputValueError(f"{who}: row {row} is all padding (id 0); drop empty sentences from the batch")
    row = int((~left_aligned).any(1).nonzero()[0])
    raise InputValueError(
        f"{who}: row {row} has padding (id 0) before a real token; text rows are right-padded: "
        "put the tokens first and the zeros after them"
    )


def uniform_positions(uniform: Tensor, size: Tensor) -> Tensor:
    """Unit uniforms -> int64 positions ``floor(uniform * size)`` in ``[0, size - 1]`` (0 when ``size <= 1``).

    Args:
        uniform: float32 in [0, 1) (the product is rounded in float32, then clamped: fine for
            sizes far below 2**24).
        size: int64 counts broadcasting against ``uniform`` (e.g. ``(B, 1)`` row lengths).
    """
    return torch.minimum((uniform * size).long(), size - 1).clamp_(min=0)


def lowest_positions(scores: Tensor, allowed: Tensor, count: Tensor, limit: int | None = None) -> tuple[Tensor, Tensor]:
    """The ``count[b]`` allowed positions of row ``b`` with the lowest scores, as ``(B, K)`` slots.

    With ``scores`` i.i.d. uniform in [0, 1) this is a uniform random subset of ``count[b]``
    allowed positions (all of them when fewer are allowed; none when ``count[b] == 0``).

    Args:
        scores: ``(B, L)`` floats in [0, 1).
        allowed: ``(B, L)`` bool, the candidate positions.
        count: ``(B,)`` int64 subset sizes, ``>= 0``.
        limit: an upper bound ``K`` of ``count`` (default ``L``): only the ``K`` lowest scores
            of a row are ranked (a partial ``topk``, several times faster than a full sort).

    Returns:
        ``positions`` ``(B, K)`` int64, distinct within a row, and ``chosen`` ``(B, K)`` bool:
        slot ``k`` of row ``b`` is in the subset when ``chosen[b, k]``.
    """
    width = scores.shape[1] if limit is None else max(0, min(limit, scores.shape[1]))
    ranked = torch.where(allowed, scores, 2.0)
    values, positions = ranked.topk(width, dim=1, largest=False)
    chosen = (torch.arange(width, device=scores.device) < count[:, None]) & (values < 2.0)
    return positions, chosen


def nth_true(mask: Tensor, n: Tensor) -> Tensor:
    """``(B, K)`` int64: the position of the ``n[b, k]``-th (0-based) ``True`` of row ``b`` of ``mask``.

    Args:
        mask: ``(B, L)`` bool.
        n: ``(B, K)`` int64 in ``[0, mask[b].sum())``; larger values give ``L - 1`` (clamped).
    """
    counts = mask.long().cumsum(1)
    return torch.searchsorted(counts, n + 1).clamp_(max=mask.shape[1] - 1)


def replace_tokens(ids: Tensor, where: Tensor, values: Tensor | int) -> Tensor:
    """``ids`` with the positions ``where`` (``(B, L)`` bool) set to ``values`` (an id or ``(B, L)``)."""
    return torch.where(where, values, ids)


def delete_tokens(ids: Tensor, drop: Tensor) -> Tensor:
    """Delete the tokens at ``drop`` (``(B, L)`` bool), keeping the order of the others.

    Each kept token moves to its rank among the kept ones (a cumulative sum), the freed places
    at the end become padding; dropped tokens and padding are scattered into a spare column that
    is cut off. The caller keeps at least one real token per row.
    """
    keep = (ids != PAD_ID) & ~drop
    target = torch.where(keep, keep.cumsum(1) - 1, ids.shape[1])
    out = ids.new_zeros(ids.shape[0], ids.shape[1] + 1)
    return out.scatter_(1, target, ids)[:, :-1]


def swap_tokens(ids: Tensor, first: Tensor, second: Tensor, active: Tensor) -> Tensor:
    """Swap the tokens at ``first[:, k]`` and ``second[:, k]`` for ``k = 0, 1, ...`` in turn.

    Args:
        ids: ``(B, L)`` token ids.
        first, second: ``(B, K)`` int64 positions inside each row's real tokens.
        active: ``(B, K)`` bool; inactive swaps are skipped.

    One gather/scatter per swap step ``k`` (``K`` is a handful), all rows at once.
    """
    order = torch.arange(ids.shape[1], device=ids.device).expand_as(ids).clone()
    for k in range(first.shape[1]):
        i = first[:, k : k + 1]
        j = torch.where(active[:, k : k + 1], second[:, k : k + 1], i)
        at_i, at_j = order.gather(1, i), order.gather(1, j)
        order.scatter_(1, i, at_j).scatter_(1, j, at_i)
    return ids.gather(1, order)


def insert_tokens(ids: Tensor, positions: Tensor, tokens: Tensor, active: Tensor) -> Tensor:
    """Insert ``tokens[:, k]`` before the real token at ``positions[:, k]`` (the row's length: at the end).

    Args:
        ids: ``(B, L)`` token ids.
        positions: ``(B, K)`` int64 gaps in ``[0, length]``.
        tokens: ``(B, K)`` int64 ids to insert (> 0 where active).
        active: ``(B, K)`` bool; inactive insertions are skipped.

    Tokens inserted into the same gap keep their order ``k``. Each row is then cut to ``L``
    tokens (the caller leaves room, so nothing real is lost). No sort: real token ``i`` moves
    right by the number of insertions into gaps ``<= i``; insertion ``k`` lands at its gap plus
    the insertions placed before it (``(B, K, L)`` and ``(B, K, K)`` comparisons, ``K`` small);
    everything else goes to a spare column that is cut off.
    """
    length, slots = ids.shape[1], positions.shape[1]
    spots = torch.arange(length, device=ids.device)
    before_token = (active[:, :, None] & (positions[:, :, None] <= spots)).sum(1)  # (B, L)
    order = torch.arange(slots, device=ids.device)
    earlier = (positions[:, None, :] < positions[:, :, None]) | (
        (positions[:, None, :] == positions[:, :, None]) & (order[None, :] < order[:, None])
    )
    before_insert = (earlier & active[:, None, :]).sum(2)  # (B, K)
    target = torch.cat([
        torch.where(ids != PAD_ID, spots + before_token, length),
        torch.where(active, positions + before_insert, length),
    ], 1).clamp_(max=length)
    out = ids.new_zeros(ids.shape[0], length + 1)
    return out.scatter_(1, target, torch.cat([ids, tokens], 1))[:, :length]


def crop_tokens(ids: Tensor, start: Tensor, kept: Tensor) -> Tensor:
    """Keep tokens ``start[b] .. start[b] + kept[b] - 1`` of each row, moved to the front.

    Args:
        ids: ``(B, L)`` token ids.
        start: ``(B,)`` int64 first kept position.
        kept: ``(B,)`` int64 number of kept tokens, ``start + kept <= length``.
    """
    spots = torch.arange(ids.shape[1], device=ids.device)
    source = (start[:, None] + spots).clamp_(max=ids.shape[1] - 1)
    return ids.gather(1, source).masked_fill_(spots >= kept[:, None], PAD_ID)


def splice_tokens(ids: Tensor, partner_ids: Tensor, start: Tensor, partner_start: Tensor, size: Tensor) -> Tensor:
    """Replace tokens ``start[b] ..`` (``size[b]`` of them) of each row by the partner's from ``partner_start[b]``.

    Both spans lie inside the rows' real tokens, so lengths and padding are unchanged.

    Args:
        ids, partner_ids: ``(B, L)`` token ids.
        start, partner_start, size: ``(B,)`` int64.
    """
    spots = torch.arange(ids.shape[1], device=ids.device)
    inside = (spots >= start[:, None]) & (spots < (start + size)[:, None])
    source = (spots - start[:, None] + partner_start[:, None]).clamp_(0, ids.shape[1] - 1)
    return torch.where(inside, partner_ids.gather(1, source), ids)


def lookup_synonyms(ids: Tensor, table: Tensor, counts: Tensor, choice: Tensor) -> Tensor:
    """One synonym id per token: ``table[ids, floor(choice * counts[ids])]``, ``-1`` where there is none.

    Args:
        ids: int64 ids below ``V``, any shape (e.g. ``(B, K)`` chosen tokens).
        table: ``(V, S)`` int64 synonym ids of each id, padded with -1.
        counts: ``(V,)`` int64 number of synonyms of each id.
        choice: floats in [0, 1) of the shape of ``ids``, the pick among a token's synonyms.
    """
    if table.shape[1] == 0:
        return torch.full_like(ids, -1)
    have = counts.take(ids)
    picked = table.take(ids * table.shape[1] + uniform_positions(choice, have))
    return torch.where(have > 0, picked, -1)
