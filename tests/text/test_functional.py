"""The token-id kernels of augbench.functional.text on hand-made rows."""

from __future__ import annotations

import pytest
import torch

import augbench.functional.text as F
from augbench.errors import InputValueError


def test_token_lengths_and_layout_errors(ragged):
    assert F.token_lengths(ragged([[5, 6, 7], [8]])).tolist() == [3, 1]
    assert F.token_lengths(torch.zeros(0, 4, dtype=torch.int64)).shape == (0,)
    with pytest.raises(InputValueError, match="row 1 is all padding"):
        F.token_lengths(torch.tensor([[5, 0], [0, 0]]))
    with pytest.raises(InputValueError, match="row 0 has padding .* before a real token"):
        F.token_lengths(torch.tensor([[0, 5], [6, 0]]))
    with pytest.raises(InputValueError, match=">= 0"):
        F.token_lengths(torch.tensor([[5, -1]]))


def test_uniform_positions_stay_inside():
    u = torch.tensor([0.0, 0.5, 0.9999999, 0.3])
    assert F.uniform_positions(u, torch.tensor([4, 4, 4, 1])).tolist() == [0, 2, 3, 0]
    assert F.uniform_positions(u, torch.tensor(0)).tolist() == [0, 0, 0, 0]


def test_lowest_positions_picks_exactly_the_count_among_the_allowed():
    scores = torch.tensor([[0.5, 0.1, 0.9, 0.3, 0.2]]).expand(3, 5)
    allowed = torch.tensor([[True, True, False, True, True]]).expand(3, 5)
    positions, chosen = F.lowest_positions(scores, allowed, torch.tensor([0, 2, 9]))
    picked = [sorted(p for p, c in zip(row, flags) if c) for row, flags in zip(positions.tolist(), chosen.tolist())]
    assert picked == [[], [1, 4], [0, 1, 3, 4]]
    positions, chosen = F.lowest_positions(scores, allowed, torch.tensor([1, 2, 2]), limit=2)
    assert positions.shape == (3, 2) and positions[0].tolist() == [1, 4] and chosen.sum(1).tolist() == [1, 2, 2]


def test_nth_true():
    mask = torch.tensor([[False, True, False, True, True]])
    assert F.nth_true(mask, torch.tensor([[0, 1, 2]])).tolist() == [[1, 3, 4]]


def test_delete_keeps_order_and_pads_at_the_end(ragged):
    ids = ragged([[5, 6, 7, 8], [9, 10]])
    drop = torch.tensor([[False, True, False, True], [True, False, False, False]])
    assert F.delete_tokens(ids, drop).tolist() == [[5, 7, 0, 0], [10, 0, 0, 0]]


def test_swap_applies_the_swaps_in_order():
    ids = torch.tensor([[5, 6, 7, 0]])
    first, second = torch.tensor([[0, 1]]), torch.tensor([[1, 2]])
    assert F.swap_tokens(ids, first, second, torch.tensor([[True, True]])).tolist() == [[6, 7, 5, 0]]
    assert F.swap_tokens(ids, first, second, torch.tensor([[False, True]])).tolist() == [[5, 7, 6, 0]]


def test_insert_places_tokens_before_the_gap_and_cuts_at_length():
    ids = torch.tensor([[5, 6, 0, 0, 0], [7, 0, 0, 0, 0]])
    positions = torch.tensor([[0, 2, 2], [1, 0, 0]])
    tokens = torch.tensor([[40, 41, 42], [43, 44, 45]])
    active = torch.tensor([[True, True, True], [True, False, True]])
    assert F.insert_tokens(ids, positions, tokens, active).tolist() == [[40, 5, 6, 41, 42], [45, 7, 43, 0, 0]]


def test_crop_and_splice(ragged):
    ids = ragged([[5, 6, 7, 8], [9, 10, 11]])
    assert F.crop_tokens(ids, torch.tensor([1, 2]), torch.tensor([2, 1])).tolist() == [[6, 7, 0, 0], [11, 0, 0, 0]]
    partner = ids.flip(0)
    out = F.splice_tokens(ids, partner, torch.tensor([2, 0]), torch.tensor([1, 3]), torch.tensor([2, 1]))
    assert out.tolist() == [[5, 6, 10, 11], [8, 10, 11, 0]]


def test_lookup_synonyms_picks_among_each_rows_synonyms():
    table = torch.tensor([[-1, -1], [-1, -1], [-1, -1], [4, 5], [3, -1], [-1, -1]])
    counts = (table >= 0).sum(1)
    ids = torch.tensor([[3, 3, 4, 5]])
    choice = torch.tensor([[0.1, 0.9, 0.7, 0.5]])
    assert F.lookup_synonyms(ids, table, counts, choice).tolist() == [[4, 5, 3, -1]]
    assert F.lookup_synonyms(ids, table[:, :0], counts * 0, choice).tolist() == [[-1, -1, -1, -1]]
