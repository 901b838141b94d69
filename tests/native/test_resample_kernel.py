"""The compiled fixed-point resampling (augbench/native/resample.c) against the torch passes."""

from __future__ import annotations

import pytest
import torch

from augbench import native
from augbench.functional._resample import fixed_point_taps, resample_fixed


@pytest.fixture
def torch_passes(torch_only):
    """:func:`resample_fixed` with the compiled library switched off (the torch passes)."""
    return lambda *args: torch_only(lambda: resample_fixed(*args))


@pytest.fixture(autouse=True)
def compiled(compiled_library):
    return compiled_library("resample")


def _filters(count: int, out_size: int, in_size: int, kernel: str, seed: int, mirror: bool = False):
    generator = torch.Generator().manual_seed(seed)
    start = torch.rand(count, generator=generator, dtype=torch.float64) * in_size / 3
    length = 1.0 + torch.rand(count, generator=generator, dtype=torch.float64) * (in_size - start - 1.0)
    flips = (torch.arange(count) % 2 == 1) if mirror else None
    return fixed_point_taps(start, length, out_size, in_size, kernel, antialias=True, mirror=flips)


@pytest.mark.parametrize("kernel", ["bilinear", "bicubic"])
@pytest.mark.parametrize("vertical_first", [False, True])
@pytest.mark.parametrize("sizes", [((32, 32), (32, 32)), ((37, 53), (9, 40)), ((96, 80), (120, 24))])
def test_the_compiled_passes_give_the_torch_passes_bits(torch_passes, kernel, vertical_first, sizes) -> None:
    (height, width), (out_height, out_width) = sizes
    generator = torch.Generator().manual_seed(height)
    images = torch.randint(0, 256, (9, 3, height, width), dtype=torch.uint8, generator=generator)
    rows = _filters(9, out_height, height, kernel, seed=1)
    cols = _filters(9, out_width, width, kernel, seed=2, mirror=True)
    clip = kernel == "bicubic"
    expected = torch_passes(images, rows, cols, vertical_first, clip)
    assert torch.equal(resample_fixed(images, rows, cols, vertical_first, clip), expected)


@pytest.mark.parametrize("vertical_first", [False, True])
def test_shared_filters_and_channels_last_batches(torch_passes, vertical_first) -> None:
    generator = torch.Generator().manual_seed(7)
    images = torch.randint(0, 256, (5, 3, 40, 30), dtype=torch.uint8, generator=generator)
    rows, cols = _filters(1, 20, 40, "bilinear", seed=3), _filters(1, 45, 30, "bicubic", seed=4)
    expected = torch_passes(images, rows, cols, vertical_first, True)
    assert torch.equal(resample_fixed(images, rows, cols, vertical_first, True), expected)
    last = images.to(memory_format=torch.channels_last)
    result = resample_fixed(last, rows, cols, vertical_first, True)
    assert result.is_contiguous(memory_format=torch.channels_last) and torch.equal(result, expected)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_any_thread_count_gives_the_same_bits(threads, monkeypatch) -> None:
    monkeypatch.setattr(native, "BYTES_PER_THREAD", 1)  # split even this small batch over the threads
    generator = torch.Generator().manual_seed(8)
    images = torch.randint(0, 256, (7, 1, 24, 24), dtype=torch.uint8, generator=generator)
    rows, cols = _filters(7, 16, 24, "bilinear", seed=5), _filters(7, 16, 24, "bilinear", seed=6)
    before = torch.get_num_threads()
    reference = resample_fixed(images, rows, cols, True, False)
    try:
        torch.set_num_threads(threads)
        assert native.thread_count(images.numel()) == threads
        assert torch.equal(resample_fixed(images, rows, cols, True, False), reference)
    finally:
        torch.set_num_threads(before)
