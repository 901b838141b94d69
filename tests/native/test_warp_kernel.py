"""The compiled nearest affine warp (augbench/native/warp.c) against the torch gather: same values."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench import native


@pytest.fixture(autouse=True)
def compiled(compiled_library):
    return compiled_library("warp")


def _images(dtype: torch.dtype, shape=(6, 3, 13, 17)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    if dtype == torch.bool:
        return torch.rand(shape, generator=generator) > 0.5
    if dtype.is_floating_point:
        return torch.rand(shape, generator=generator, dtype=dtype)
    return torch.randint(0, 200, shape, generator=generator).to(dtype)


CALLS = {
    "rotate": lambda x: F.rotate(x, torch.linspace(-170, 170, len(x))),
    "rotate-right-angles": lambda x: F.rotate(x, torch.tensor([0.0, 90.0, 180.0, 270.0, -90.0, 360.0])[: len(x)]),
    "rotate-expand-fill": lambda x: F.rotate(x, 33.0, expand=True, fill=[1, 0, 1]),
    "affine": lambda x: F.affine(x, torch.linspace(-20, 20, len(x)), [2.0, -3.0], 1.2, [10.0, -4.0], fill=1),
    "scale-only": lambda x: F.affine(x, 0.0, [0.5, -1.5], torch.linspace(0.6, 1.4, len(x)), [0.0, 0.0]),
    "shear-far": lambda x: F.affine(x, 0.0, [0.0, 0.0], 1.0, [70.0, 20.0]),
    "int64-sums": lambda x: F.affine(x, 5.0, [0.0, 0.0], 0.0002, [0.0, 0.0]),  # 16.16 sums beyond int32
}


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.float32, torch.float64, torch.bool])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_the_compiled_warp_gives_the_torch_values(torch_only, dtype, call) -> None:
    images = _images(dtype)
    expected = torch_only(lambda: CALLS[call](images))
    result = CALLS[call](images)
    assert result.dtype == expected.dtype and torch.equal(result, expected)


def test_channels_last_and_grey_batches(torch_only) -> None:
    images = _images(torch.uint8, (4, 1, 30, 20))
    expected = torch_only(lambda: CALLS["rotate"](images))
    assert torch.equal(CALLS["rotate"](images), expected)
    rgb = _images(torch.uint8, (4, 3, 30, 20)).to(memory_format=torch.channels_last)
    assert torch.equal(CALLS["affine"](rgb), torch_only(lambda: CALLS["affine"](rgb.contiguous())))


def test_the_warp_split_over_threads_gives_the_same_values(torch_only, monkeypatch) -> None:
    images = _images(torch.uint8, (7, 3, 20, 20))
    expected = torch_only(lambda: CALLS["rotate"](images))
    monkeypatch.setattr(native, "BYTES_PER_THREAD", 1)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert torch.equal(CALLS["rotate"](images), expected)
    finally:
        torch.set_num_threads(before)
