"""Kernels of augbench.functional.sequence: invariants, references and one-line errors."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch

import augbench.functional.sequence as F
from augbench.errors import InputTypeError, InputValueError


def _rows(batch: int = 16, length: int = 12, seed: int = 0) -> torch.Tensor:
    """Left-padded ids in [2, 40), row b has 1 + (b mod length) items."""
    ids = torch.randint(2, 40, (batch, length), generator=torch.Generator().manual_seed(seed))
    lengths = 1 + torch.arange(batch) % length
    return ids.masked_fill(torch.arange(length).flip(0) >= lengths[:, None], 0)


def _items(row: torch.Tensor) -> list[int]:
    return [int(v) for v in row if v != 0]


def _left_padded(batch: torch.Tensor) -> bool:
    present = batch != 0
    return bool((present[:, 1:] >= present[:, :-1]).all() and present.any(1).all())


def test_item_lengths_and_layout_errors() -> None:
    assert F.item_lengths(torch.tensor([[0, 0, 5], [1, 2, 3]])).tolist() == [1, 3]
    assert F.item_lengths(torch.zeros(0, 4, dtype=torch.long)).shape == (0,)
    with pytest.raises(InputValueError, match="row 1 holds padding only"):
        F.item_lengths(torch.tensor([[0, 3], [0, 0]]))
    with pytest.raises(InputValueError, match="row 0 has padding after an item.*left"):
        F.item_lengths(torch.tensor([[3, 4, 0]]))  # right-padded
    with pytest.raises(InputValueError, match="padding after an item"):
        F.item_lengths(torch.tensor([[3, 0, 4]]))  # inner padding
    with pytest.raises(InputValueError, match=">= 0"):
        F.item_lengths(torch.tensor([[-1, 4]]))
    with pytest.raises(InputTypeError, match="integer"):
        F.item_lengths(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(InputValueError, match=r"\(B, L\)"):
        F.item_lengths(torch.tensor([1, 2]))


def test_crop_keeps_the_span_left_padded() -> None:
    items = _rows()
    lengths = F.item_lengths(items)
    length = (lengths + 1) // 2
    start = lengths - length  # the most recent half
    out = F.crop_items(items, start, length)
    assert out.shape == items.shape and out.dtype == items.dtype and _left_padded(out)
    for row, before, s, k in zip(out, items, start.tolist(), length.tolist()):
        assert _items(row) == _items(before)[s : s + k]


def test_crop_of_the_whole_row_is_the_identity() -> None:
    items = _rows()
    lengths = F.item_lengths(items)
    assert torch.equal(F.crop_items(items, torch.zeros_like(lengths), lengths), items)


def test_crop_refuses_a_span_outside_the_row() -> None:
    items = torch.tensor([[0, 4, 5, 6]])
    with pytest.raises(InputValueError, match="row 0: start=2, length=2 is not a span of its 3 items"):
        F.crop_items(items, torch.tensor([2]), torch.tensor([2]))
    with pytest.raises(InputValueError, match="length"):
        F.crop_items(items, torch.tensor([0]), torch.tensor([0]))  # never an empty row
    with pytest.raises(InputValueError, match=r"\(1,\) integer tensor"):
        F.crop_items(items, torch.tensor([0.5]), torch.tensor([1]))


def test_mask_replaces_exactly_the_chosen_items() -> None:
    items = _rows()
    chosen = (torch.rand(items.shape, generator=torch.Generator().manual_seed(1)) < 0.4) & (items != 0)
    out = F.mask_items(items, chosen, 99)
    assert torch.equal(out == 99, chosen) and torch.equal(out[~chosen], items[~chosen])
    with pytest.raises(InputValueError, match="padding positions"):
        F.mask_items(torch.tensor([[0, 4]]), torch.tensor([[True, False]]))
    with pytest.raises(InputValueError, match="mask_id=0"):
        F.mask_items(torch.tensor([[3, 4]]), torch.tensor([[True, False]]), 0)


def test_reorder_permutes_the_window_only() -> None:
    items = _rows()
    lengths = F.item_lengths(items)
    length = (lengths * 2 + 2) // 3
    start = lengths - length
    keys = torch.rand(items.shape, generator=torch.Generator().manual_seed(2))
    out = F.reorder_items(items, start, length, keys)
    width = items.shape[1]
    for b in range(items.shape[0]):
        a, before = _items(out[b]), _items(items[b])
        s, k, n = int(start[b]), int(length[b]), int(lengths[b])
        assert a[:s] == before[:s] and a[s + k :] == before[s + k :]
        window_keys = keys[b, width - n + s : width - n + s + k]
        assert a[s : s + k] == [before[s + j] for j in window_keys.argsort(stable=True).tolist()]


def test_reorder_window_of_one_is_the_identity_and_keys_are_checked() -> None:
    items = _rows()
    lengths = F.item_lengths(items)
    keys = torch.rand(items.shape, generator=torch.Generator().manual_seed(2))
    assert torch.equal(F.reorder_items(items, lengths - 1, torch.ones_like(lengths), keys), items)
    assert torch.equal(F.reorder_items(items, torch.zeros_like(lengths), torch.zeros_like(lengths), keys), items)
    with pytest.raises(InputValueError, match=r"keys must be floats in \[0, 1\)"):
        F.reorder_items(items, torch.zeros_like(lengths), lengths, keys + 1)


def test_insert_puts_each_id_after_its_item_and_keeps_the_most_recent() -> None:
    items = torch.tensor([[0, 0, 4, 5, 6], [2, 3, 4, 5, 6]])
    after = torch.tensor([[False, False, True, False, True], [True, False, False, False, False]])
    inserted = torch.full_like(items, 9)
    out = F.insert_items(items, after, inserted)
    assert out.tolist() == [[4, 9, 5, 6, 9], [9, 3, 4, 5, 6]]  # row 1 is full: the oldest item (2) drops off
    assert torch.equal(F.insert_items(items, torch.zeros_like(after), inserted), items)


def test_insert_reference() -> None:
    items = _rows(length=8)
    after = (torch.rand(items.shape, generator=torch.Generator().manual_seed(3)) < 0.5) & (items != 0)
    inserted = torch.randint(2, 40, items.shape, generator=torch.Generator().manual_seed(4))
    out = F.insert_items(items, after, inserted)
    assert _left_padded(out)
    for row, before, flags, new in zip(out, items, after, inserted):
        expected = list(itertools.chain.from_iterable(
            [int(v), int(n)] if f else [int(v)] for v, f, n in zip(before, flags, new) if v != 0
        ))
        assert _items(row) == expected[-items.shape[1] :]


def test_substitute_and_its_errors() -> None:
    items = _rows()
    chosen = (torch.rand(items.shape, generator=torch.Generator().manual_seed(5)) < 0.3) & (items != 0)
    replacement = torch.full_like(items, 77)
    out = F.substitute_items(items, chosen, replacement)
    assert torch.equal(out, torch.where(chosen, 77, items))
    with pytest.raises(InputValueError, match="replacement ids must be >= 1"):
        F.substitute_items(items, chosen, torch.zeros_like(items))


def test_correlated_items_picks_among_the_row() -> None:
    table = torch.tensor([[0, 0], [0, 0], [3, 4], [2, 0], [0, 0]])
    items = torch.tensor([[0, 2, 3, 4], [2, 2, 2, 2]])
    picks = torch.tensor([[0.9, 0.1, 0.9, 0.5], [0.0, 0.49, 0.5, 0.99]])
    assert F.correlated_items(items, table, picks).tolist() == [[0, 3, 2, 0], [3, 3, 4, 4]]
    with pytest.raises(InputValueError, match="item id 7 has no row in the correlation table of 5 ids"):
        F.correlated_items(torch.tensor([[7]]), table, torch.zeros(1, 1))


def _reference_table(sequences: torch.Tensor, num_ids: int, k: int, window: int) -> list[list[int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for row in sequences.tolist():
        for i, a in enumerate(row):
            for b in row[i + 1 : i + 1 + window]:
                if a and b and a != b:
                    counts[a, b] += 1
                    counts[b, a] += 1
    table = []
    for item in range(num_ids):
        ranked = sorted((-c, b) for (a, b), c in counts.items() if a == item)
        row = [b for _, b in ranked[:k]]
        table.append(row + [0] * (k - len(row)))
    return table


@pytest.mark.parametrize("window", [1, 3])
def test_cooccurrence_table_matches_a_counting_reference(window: int) -> None:
    sequences = _rows(batch=30, length=10, seed=7) % 12
    assert F.cooccurrence_table(sequences, 12, 4, window).tolist() == _reference_table(sequences, 12, 4, window)


def test_cooccurrence_table_errors() -> None:
    with pytest.raises(InputValueError, match=r"ids must lie in \[0, num_ids=5\)"):
        F.cooccurrence_table(torch.tensor([[1, 9]]), 5, 2)
    with pytest.raises(InputValueError, match="k=0"):
        F.cooccurrence_table(torch.tensor([[1, 2]]), 5, 0)


@pytest.mark.parametrize("kernel", ["crop", "mask", "reorder", "insert", "substitute"])
def test_empty_batch(kernel: str) -> None:
    items = torch.zeros(0, 6, dtype=torch.long)
    flags, ids, index = torch.zeros(0, 6, dtype=torch.bool), torch.zeros(0, 6, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    call = {
        "crop": lambda: F.crop_items(items, index, index),
        "mask": lambda: F.mask_items(items, flags),
        "reorder": lambda: F.reorder_items(items, index, index, torch.zeros(0, 6)),
        "insert": lambda: F.insert_items(items, flags, ids),
        "substitute": lambda: F.substitute_items(items, flags, ids),
    }[kernel]
    assert call().shape == (0, 6)
