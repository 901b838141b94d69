"""The compiled item-sequence ops (augbench/native/sequence.c) against the torch path: same ids.

Every transform is run twice on the same batch and the same draw, once compiled and once with
``AUGBENCH_NATIVE=0``, and the outputs must be equal: random batches with rows of one item up to
full rows, ties among the scores and the reorder keys, draws outside [0, 1) (scores of 2.0 and
more, NaN, negative or huge offsets and keys, which the kernel sorts or hands back to torch),
long rows (the selection path of the kernel), and bad layouts (the same one-line error).
"""

from __future__ import annotations

import pytest
import torch

import augbench.transforms.sequence as sequence
from augbench import native
from augbench.errors import InputValueError
from augbench.policies.modal import ModalityRandAugment
from augbench.random import Params
from augbench.transforms import Compose, ItemCrop, ItemInsert, ItemMask, ItemReorder, ItemSubstitute


@pytest.fixture(autouse=True)
def compiled(compiled_library):
    return compiled_library("sequence")


def _batch(batch: int = 64, length: int = 20, seed: int = 0) -> torch.Tensor:
    """Left-padded ids: lengths cycle through 1..length (row 0: one item; row length - 1: full)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, 40, (batch, length), generator=generator)
    lengths = 1 + torch.arange(batch) % length
    return ids.masked_fill(torch.arange(length).flip(0) >= lengths[:, None], 0)


def _table() -> list[list[int]]:
    """Items 2..39 correlate with the next two (wrapping); ids 0, 1 and every 5th item with none."""
    return [[0, 0] if i < 2 or i % 5 == 0 else [2 + (i - 1) % 38, 2 + i % 38] for i in range(40)]


TRANSFORMS = {
    "crop": lambda: ItemCrop(eta=0.6),
    "crop-small": lambda: ItemCrop(eta=0.05),
    "crop-identity": lambda: ItemCrop(eta=1.0),
    "crop-tiny": lambda: ItemCrop(eta=1e-12),  # ceil(eta * n - 1e-9) = 0, kept at 1
    "mask": lambda: ItemMask(gamma=0.3),
    "mask-all": lambda: ItemMask(gamma=1.0, mask_id=7),
    "mask-rounding": lambda: ItemMask(gamma=0.58),  # 0.58 * 50 = 28.999999999999996: floor(+ 1e-9) = 29
    "mask-none": lambda: ItemMask(gamma=0.0),
    "reorder": lambda: ItemReorder(beta=0.6),
    "reorder-all": lambda: ItemReorder(beta=1.0),
    "reorder-none": lambda: ItemReorder(beta=0.0),
    "insert": lambda: ItemInsert(rate=0.4, table=_table()),
    "substitute": lambda: ItemSubstitute(rate=1.0, table=_table()),
}


def _same(torch_only, transform, items: torch.Tensor, params: Params) -> torch.Tensor:
    expected = torch_only(lambda: transform.apply(items, params))
    result = transform.apply(items, params)
    assert result.dtype == expected.dtype and torch.equal(result, expected)
    return result


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("length", [1, 7, 50, 200])
def test_the_compiled_ops_give_the_torch_ids(torch_only, name, length) -> None:
    transform = TRANSFORMS[name]()
    items = _batch(length=length, seed=length)
    for seed in range(3):
        _same(torch_only, transform, items, transform.sample(items, generator=torch.Generator().manual_seed(seed)))


def test_the_kernels_run_on_the_benchmark_layout() -> None:
    """The compiled path is taken (not silently the torch one) for int64 ids and float32 draws."""
    items = _batch()
    offset, scores = torch.rand(len(items)), torch.rand(items.shape)
    assert sequence._run_compiled("seq_crop", items, [offset], 0.6) is not None
    assert sequence._run_compiled("seq_mask", items, [scores], 0.3, 1) is not None
    assert sequence._run_compiled("seq_reorder", items, [offset, scores], 0.6) is not None
    assert sequence._run_compiled("seq_crop", items.int(), [offset], 0.6) is None  # int32 ids: torch
    assert sequence._run_compiled("seq_crop", items, [offset.double()], 0.6) is None  # float64 draws: torch


def _quantised(shape: tuple[int, ...], levels: int, seed: int) -> torch.Tensor:
    """Uniform-like float32 draws taking only ``levels`` values: many ties."""
    return torch.randint(0, levels, shape, generator=torch.Generator().manual_seed(seed)).float() / levels


@pytest.mark.parametrize("levels", [1, 2, 3, 8])
def test_ties_choose_and_order_as_the_torch_sort(torch_only, levels) -> None:
    """Tied mask scores keep every position tied with the threshold; tied reorder keys keep
    their positions' order (the stable argsort)."""
    items = _batch(length=30)
    shape, batch = items.shape, items.shape[0]
    mask = ItemMask(gamma=0.4)
    _same(torch_only, mask, items, Params(batch, drawn_by="ItemMask", scores=_quantised(shape, levels, 0)))
    reorder = ItemReorder(beta=0.8)
    offset = _quantised((batch,), levels, 1)
    _same(torch_only, reorder, items, Params(batch, drawn_by="ItemReorder", offset=offset, order=_quantised(shape, levels, 2)))
    # Keys 2**-25 apart become the same 24-bit sort key: ties after the truncation too.
    close = torch.full(shape, 0.3) + torch.randint(0, 2, shape).float() * 2.0**-25
    _same(torch_only, reorder, items, Params(batch, drawn_by="ItemReorder", offset=offset, order=close))
    insert = ItemInsert(rate=0.5, table=_table())
    draw = Params(batch, drawn_by="ItemInsert", scores=_quantised(shape, levels, 3), picks=_quantised(shape, levels, 4))
    _same(torch_only, insert, items, draw)


ODD_VALUES = [2.0, 2.5, -1.0, -2.5, 5.0, -0.0, float("nan"), float("inf"), -float("inf"), 1.0, 1 - 2**-24, 3e38, 1e-30]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_draws_outside_the_unit_interval_give_the_torch_ids(torch_only, value) -> None:
    """Replayed params need not be uniform draws: the kernel sorts them as torch does, or hands
    the batch back to the torch path where C's float-to-integer conversion is undefined."""
    items = _batch(length=30)
    batch, shape = items.shape[0], items.shape
    generator = torch.Generator().manual_seed(0)
    scores = torch.rand(shape, generator=generator)
    scores[::3, ::4] = value  # some entries of some rows
    offset = torch.rand(batch, generator=generator)
    offset[::5] = value
    mask = Params(batch, drawn_by="ItemMask", scores=scores)
    _same(torch_only, ItemMask(gamma=0.5), items, mask)
    _same(torch_only, ItemMask(gamma=0.5), items, Params(batch, drawn_by="ItemMask", scores=torch.full(shape, value)))
    _same(torch_only, ItemCrop(eta=0.5), items, Params(batch, drawn_by="ItemCrop", offset=offset))
    ordered = Params(batch, drawn_by="ItemReorder", offset=torch.rand(batch, generator=generator), order=scores)
    _same(torch_only, ItemReorder(beta=0.7), items, ordered)
    _same(torch_only, ItemReorder(beta=0.7), items, Params(batch, drawn_by="ItemReorder", offset=offset, order=scores))
    for chosen in (ItemSubstitute(rate=0.5, table=_table()), ItemInsert(rate=0.5, table=_table())):
        draw = Params(batch, drawn_by=type(chosen).__name__, scores=scores, picks=torch.rand(shape, generator=generator))
        _same(torch_only, chosen, items, draw)


def test_long_rows_select_the_threshold(torch_only) -> None:
    """Rows of more than the kernel's counting limit (96 items) take its selection path."""
    items = _batch(batch=40, length=300, seed=3)
    items[:, 150:] = torch.randint(2, 40, (40, 150))  # every row at least 150 items
    substitute = (ItemSubstitute(rate=rate, table=_table()) for rate in (0.7, 1.0))  # 1.0: more than can be chosen
    for transform in (ItemMask(gamma=0.3), ItemMask(gamma=1.0), *substitute):
        for seed in range(2):
            _same(torch_only, transform, items, transform.sample(items, generator=torch.Generator().manual_seed(seed)))
    # Ties filling the kernel's buckets past its counting limit; scores in [1, 2) and below 0
    # (no buckets: its rank count, then its selection).
    for scores in (_quantised(items.shape, 1, 5), _quantised(items.shape, 2, 5), torch.rand(items.shape) + 1.0,
                   -torch.rand(items.shape)):
        _same(torch_only, ItemMask(gamma=0.5), items, Params(40, drawn_by="ItemMask", scores=scores))


@pytest.mark.parametrize("length", [1, 5, 40, 97, 300])
@pytest.mark.parametrize("levels", [0, 3])
def test_the_smallest_positions_for_any_mask_and_count(torch_only, length, levels) -> None:
    """_smallest (insert, substitute) on arbitrary allowed masks and counts from -1 to L + 2,
    with ties (``levels`` values) or distinct scores (0)."""
    generator = torch.Generator().manual_seed(length)
    batch = 3 * (length + 4)
    scores = _quantised((batch, length), levels, length) if levels else torch.rand(batch, length, generator=generator)
    allowed = torch.rand(batch, length, generator=generator) < torch.rand(batch, 1, generator=generator)
    count = torch.arange(batch) % (length + 4) - 1
    expected = torch_only(lambda: sequence._smallest(scores, allowed, count))
    assert torch.equal(sequence._smallest(scores, allowed, count), expected)
    # Exactly one more than the allowed positions: the count is past the last of them.
    more = allowed.sum(1) + 1
    assert torch.equal(sequence._smallest(scores, allowed, more), torch_only(lambda: sequence._smallest(scores, allowed, more)))


@pytest.mark.parametrize(
    "row, message",
    [
        ([0, 0, 0, 0], "padding only"),
        ([0, 3, 0, 4], "padding after an item"),
        ([3, 4, 5, 0], "padding after an item"),
        ([0, 3, -2, 4], "must be >= 0"),
    ],
)
@pytest.mark.parametrize("name", ["crop", "mask", "reorder"])
def test_a_bad_row_raises_the_torch_message(torch_only, name, row, message) -> None:
    items = torch.tensor([[0, 0, 2, 3], row, [2, 3, 4, 5]])
    transform = TRANSFORMS[name]()
    params = transform.sample(torch.ones_like(items), generator=torch.Generator().manual_seed(0))
    with pytest.raises(InputValueError) as compiled_error:
        transform.apply(items, params)
    with pytest.raises(InputValueError) as torch_error:
        torch_only(lambda: transform.apply(items, params))
    assert message in str(compiled_error.value) and str(compiled_error.value) == str(torch_error.value)


@pytest.mark.parametrize("name", ["crop", "mask", "reorder", "insert"])
def test_one_row_one_column_and_empty_batches(torch_only, name) -> None:
    transform = TRANSFORMS[name]()
    for items in (torch.tensor([[5]]), torch.tensor([[0, 0, 0, 7]]), torch.zeros((0, 6), dtype=torch.int64)):
        _same(torch_only, transform, items, transform.sample(items, generator=torch.Generator().manual_seed(1)))


def test_pipelines_policies_keys_probability_and_same_on_batch(torch_only) -> None:
    items = _batch(batch=128, length=50, seed=7)
    chain = Compose([ItemCrop(eta=0.6), ItemMask(gamma=0.3), ItemReorder(beta=0.6)])
    policy = ModalityRandAugment("sequence", num_ops=2, magnitude=5)
    keys = torch.arange(len(items)) * 3
    for transform in (chain, policy, ItemMask(gamma=0.4, p=0.5), ItemReorder(beta=0.7, same_on_batch=True)):
        _same(torch_only, transform, items, transform.sample(items, generator=torch.Generator().manual_seed(2)))
        if not transform.same_on_batch:
            _same(torch_only, transform, items, transform.sample(items, keys=keys, seed=4))


def test_non_contiguous_inputs(torch_only) -> None:
    items = _batch(length=25).t().contiguous().t()  # column-major
    transform = ItemReorder(beta=0.6)
    params = transform.sample(items, generator=torch.Generator().manual_seed(0))
    strided = Params(len(items), drawn_by="ItemReorder", offset=params.offset, order=params.order.t().contiguous().t())
    assert not items.is_contiguous() and not strided.order.is_contiguous()
    _same(torch_only, transform, items, strided)
