"""Item-sequence transforms: each op's invariant, identity at level 0, diversity, keyed draws,
replay, serialisation, the policy, and one-line errors (the generic contract covers the rest)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter

import pytest
import torch

import augbench.functional.sequence as F
from augbench.errors import AugbenchError, InputValueError
from augbench.policies.modal import ModalityRandAugment, list_ops, modality_ops
from augbench.serialization import from_dict
from augbench.transforms import ItemCrop, ItemInsert, ItemMask, ItemReorder, ItemSubstitute
from augbench.transforms.base import Transform

LENGTH = 20


def _batch(batch: int = 32, seed: int = 0) -> torch.Tensor:
    """Left-padded ids in [2, 60): row b has 1 + (b mod 20) items (row 0 has a single item)."""
    ids = torch.randint(2, 60, (batch, LENGTH), generator=torch.Generator().manual_seed(seed))
    lengths = 1 + torch.arange(batch) % LENGTH
    return ids.masked_fill(torch.arange(LENGTH).flip(0) >= lengths[:, None], 0)


def _table() -> list[list[int]]:
    """Item i (2..59) correlates with i + 1 and i + 2 (wrapping inside 2..59); rows 0, 1 empty."""
    return [[0, 0], [0, 0]] + [[2 + (i - 1) % 58, 2 + i % 58] for i in range(2, 60)]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _items(row: torch.Tensor) -> list[int]:
    return [int(v) for v in row if v != 0]


def _left_padded(batch: torch.Tensor) -> bool:
    present = batch != 0
    return bool((present[:, 1:] >= present[:, :-1]).all() and present.any(1).all())


ALL: dict[str, Transform] = {
    "crop": ItemCrop(eta=0.5),
    "mask": ItemMask(gamma=0.5),
    "reorder": ItemReorder(beta=0.5),
    "insert": ItemInsert(rate=0.3, table=_table()),
    "substitute": ItemSubstitute(rate=0.3, table=_table()),
}
AT_ZERO: dict[str, Transform] = {
    "crop": ItemCrop(eta=1.0),
    "mask": ItemMask(gamma=0.0),
    "reorder": ItemReorder(beta=0.0),
    "insert": ItemInsert(rate=0.0, table=_table()),
    "substitute": ItemSubstitute(rate=0.0, table=_table()),
}


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_padding_on_the_left_and_never_empty(name: str) -> None:
    x = _batch()
    out = ALL[name](x, generator=_gen())
    assert out.shape == x.shape and out.dtype == x.dtype and _left_padded(out)


@pytest.mark.parametrize("name", AT_ZERO)
def test_identity_at_strength_zero(name: str) -> None:
    x = _batch()
    assert torch.equal(AT_ZERO[name](x, generator=_gen()), x)


@pytest.mark.parametrize("name", ALL)
def test_diversity_across_copies_of_one_sequence(name: str) -> None:
    x = _batch()[19:20].expand(16, LENGTH).clone()  # 20 items
    out = ALL[name](x, generator=_gen())
    assert len({tuple(row.tolist()) for row in out}) > 5  # crop: 11 possible windows


@pytest.mark.parametrize("name", ALL)
def test_keyed_draws_replay_and_round_trip(name: str) -> None:
    transform, x = ALL[name], _batch()
    keys = torch.arange(100, 132)
    whole = transform(x, keys=keys, seed=3)
    order = torch.tensor([31, 4, 17, 0, 9])
    assert torch.equal(transform(x[order], keys=keys[order], seed=3), whole[order])
    params = transform.sample(x, generator=_gen(1))
    assert torch.equal(transform.apply(x, params), transform.apply(x, params))
    again = from_dict(transform.to_dict())
    assert torch.equal(again(x, generator=_gen(2)), transform(x, generator=_gen(2)))


def test_crop_keeps_a_contiguous_span_of_ceil_eta_n() -> None:
    x = _batch()
    out = ItemCrop(eta=0.6)(x, generator=_gen())
    for row, before in zip(out, x):
        kept, items = _items(row), _items(before)
        size = max(1, math.ceil(0.6 * len(items) - 1e-9))
        assert len(kept) == size
        assert any(items[s : s + size] == kept for s in range(len(items) - size + 1))


def test_crop_start_is_uniform() -> None:
    x = torch.tensor([[2, 3, 4, 5, 6]]).expand(3000, 5)
    starts = Counter(int(row[2]) for row in ItemCrop(eta=0.6)(x, generator=_gen()))  # 3 kept of 5
    assert set(starts) == {2, 3, 4} and min(starts.values()) > 900


def test_mask_masks_floor_gamma_n_items_and_nothing_else() -> None:
    x = _batch()
    out = ItemMask(gamma=0.45, mask_id=99)(x, generator=_gen())
    masked = out == 99
    assert torch.equal(masked.sum(1), torch.floor(0.45 * (x != 0).sum(1) + 1e-9).long())
    assert torch.equal(out[~masked], x[~masked]) and not bool((masked & (x == 0)).any())


def test_mask_uses_the_reserved_id_by_default() -> None:
    x = _batch()
    out = ItemMask(gamma=1.0)(x, generator=_gen())
    assert torch.equal(out, torch.where(x != 0, F.MASK_ID, 0))


def test_reorder_permutes_one_contiguous_window() -> None:
    x = _batch()
    out = ItemReorder(beta=0.4)(x, generator=_gen())
    for row, before in zip(out, x):
        a, b = _items(row), _items(before)
        assert Counter(a) == Counter(b)
        changed = [i for i in range(len(a)) if a[i] != b[i]]
        assert not changed or changed[-1] - changed[0] < max(1, math.ceil(0.4 * len(b) - 1e-9))


def test_insert_adds_correlated_items_after_their_item() -> None:
    x = _batch()
    out = ItemInsert(rate=0.3, table=_table(), neighbours=1)(x, generator=_gen())  # the neighbour of i is i + 1
    for row, before in zip(out, x):
        a, rest = _items(row), _items(before)
        count = math.ceil(0.3 * len(rest) - 1e-9)
        assert len(a) == min(len(rest) + count, LENGTH)
        inserted = 0
        for value in a[::-1]:  # from the most recent: an inserted id comes right after its item
            if value == rest[-1]:
                rest.pop()
            else:
                assert value == 2 + (rest[-1] - 1) % 58
                inserted += 1
        assert inserted <= count


def test_insert_overflow_drops_the_oldest_items() -> None:
    x = torch.arange(2, 2 + LENGTH).view(1, LENGTH)
    out = ItemInsert(rate=1.0, table=_table(), neighbours=1)(x, generator=_gen())
    assert out[0].tolist() == [v for i in range(12, 22) for v in (i, i + 1)]


def test_substitute_replaces_ceil_rate_n_items_with_neighbours() -> None:
    x = _batch()
    out = ItemSubstitute(rate=0.3, table=_table())(x, generator=_gen())
    changed = out != x
    assert torch.equal(changed.sum(1) <= torch.ceil(0.3 * (x != 0).sum(1) - 1e-9).long(), torch.ones(32, dtype=torch.bool))
    table = torch.tensor(_table())
    assert bool((table[x[changed]] == out[changed][:, None]).any(1).all())


def test_items_without_correlated_items_are_left_alone() -> None:
    table = [[0, 0]] * 60
    x = _batch()
    assert torch.equal(ItemSubstitute(rate=1.0, table=table)(x, generator=_gen()), x)
    assert torch.equal(ItemInsert(rate=1.0, table=table)(x, generator=_gen()), x)


def test_all_padding_and_right_padded_rows_are_refused() -> None:
    x = _batch()
    x[3] = 0
    for transform in ALL.values():
        with pytest.raises(InputValueError, match="row 3 holds padding only"):
            transform(x, generator=_gen())
    right = torch.tensor([[5, 6, 0, 0]])
    with pytest.raises(InputValueError, match="left"):
        ItemCrop()(right, generator=_gen())


def test_wrong_layout_and_dtype_fail_with_one_line() -> None:
    with pytest.raises(AugbenchError, match="sequence"):
        ItemMask()(torch.ones(2, 3, 4, dtype=torch.long), generator=_gen())
    with pytest.raises(AugbenchError, match="integer ids"):
        ItemMask()(torch.ones(2, 3), generator=_gen())


def test_an_item_outside_the_table_is_refused() -> None:
    with pytest.raises(InputValueError, match="item id 70 has no row in the correlation table of 60 ids"):
        ItemInsert(table=_table())(torch.tensor([[0, 70]]), generator=_gen())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ItemCrop(eta=0.0), r"eta=0.0 must be a number in \(0, 1\]"),
        (lambda: ItemMask(gamma=1.5), r"gamma=1.5 must be a number in \[0, 1\]"),
        (lambda: ItemMask(mask_id=0), "mask_id=0 must be an int >= 1"),
        (lambda: ItemReorder(beta=-0.1), "beta"),
        (lambda: ItemInsert(), "exactly one of table= .* and dataset="),
        (lambda: ItemInsert(table=_table(), dataset="movielens_100k"), "exactly one"),
        (lambda: ItemSubstitute(dataset="cifar10"), "dataset='cifar10' has no item correlation table"),
        (lambda: ItemSubstitute(table=[[0, 5]]), r"table must be a \(V, k\) list of item ids in \[0, V\)"),
        (lambda: ItemSubstitute(table=_table(), neighbours=0), "neighbours=0"),
    ],
)
def test_bad_options_fail_with_one_line(build, message: str) -> None:
    with pytest.raises(AugbenchError, match=message):
        build()


def test_the_policy_ops_and_level_zero() -> None:
    assert [name for name, _ in list_ops("sequence")] == ["Crop", "Mask", "Reorder"]
    x = _batch()
    for op in modality_ops("sequence").values():
        assert torch.equal(op.at(0.0)(x, generator=_gen()), x), op.name
        assert not torch.equal(op.at(1.0)(x, generator=_gen()), x), op.name


def test_modality_randaugment_on_sequences() -> None:
    policy = ModalityRandAugment("sequence", num_ops=2, magnitude=9)
    x = _batch()
    out = policy(x, generator=_gen())
    assert out.shape == x.shape and out.dtype == x.dtype and _left_padded(out) and not torch.equal(out, x)
    keys = torch.arange(32)
    order = torch.tensor([7, 30, 2])
    assert torch.equal(policy(x[order], keys=keys[order], seed=1), policy(x, keys=keys, seed=1)[order])
    again = from_dict(policy.to_dict())
    assert torch.equal(again(x, generator=_gen(4)), policy(x, generator=_gen(4)))
    assert torch.equal(ModalityRandAugment("sequence", magnitude=0)(x, generator=_gen()), x)


def test_cli_lists_the_sequence_ops() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "augbench.cli", "list", "ops", "--modality", "sequence"],
        capture_output=True, text=True, check=True,
    )
    assert all(name in result.stdout for name in ("Crop", "Mask", "Reorder"))


def test_same_on_batch_gives_one_draw() -> None:
    x = _batch()[19:20].expand(6, LENGTH).clone()
    out = ItemReorder(beta=0.8, same_on_batch=True)(x, generator=_gen())
    assert all(torch.equal(out[0], row) for row in out)


def test_p_selects_samples() -> None:
    x = _batch()[10:20].repeat(20, 1)
    out = ItemMask(gamma=1.0, p=0.5)(x, generator=_gen())
    changed = (out != x).any(1).float().mean()
    assert 0.3 < float(changed) < 0.7


def test_golden_pipeline_file_keeps_loading() -> None:
    """A version-1 pipeline of every sequence transform loads to the same transforms and options."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "pipeline_sequence_v1.json").read_text())
    pipeline = from_dict(data)
    assert [type(t).__name__ for t in pipeline.transforms] == [
        "ItemCrop", "ItemMask", "ItemReorder", "ItemInsert", "ItemSubstitute", "ModalityRandAugment",
    ]
    assert pipeline.to_dict() == data
    substitute = pipeline.transforms[4]
    x = torch.tensor([[0, 2, 3, 4]])
    assert substitute.apply(x, substitute.sample(x, generator=_gen())).shape == (1, 4)


def test_params_for_another_length_are_refused() -> None:
    x = _batch()
    params = ItemMask().sample(x, generator=_gen())
    with pytest.raises(InputValueError, match="drawn for sequences of length 20, got 10"):
        ItemMask().apply(x[:, 10:].clone().masked_fill_(x[:, 10:] == 0, 5), params)
