"""Fast paths of the resampling core: folded flips, the row-gather filter, the workspace, threads, fixed point."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench.functional import _resample
from augbench.functional.geometry import _NATIVE_LOOP_MIN_SIDE_UINT8


def _images(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator, dtype=dtype)


def _boxes(batch: int, side: int, seed: int = 1) -> list[torch.Tensor]:
    """Integer boxes inside a ``side`` x ``side`` image, one per sample."""
    generator = torch.Generator().manual_seed(seed)
    height = torch.randint(side // 4, side + 1, (batch,), generator=generator)
    width = torch.randint(side // 4, side + 1, (batch,), generator=generator)
    top = (torch.rand(batch, generator=generator) * (side - height + 1)).long()
    left = (torch.rand(batch, generator=generator) * (side - width + 1)).long()
    return [top, left, height, width]


_SIDES = pytest.mark.parametrize("side", [24, _NATIVE_LOOP_MIN_SIDE_UINT8 + 8], ids=["batched", "native"])


@_SIDES
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no-aa"])
def test_hflip_param_equals_flipping_the_selected_results(side: int, dtype: torch.dtype, interpolation: str, antialias: bool) -> None:
    images = _images((10, 3, side, side), dtype)
    boxes = _boxes(10, side)
    mirror = torch.tensor([True, False] * 5)
    for size in [(side, side), (side // 2, side + 5)]:
        plain = F.resized_crop(images, *boxes, size, interpolation, antialias)
        fused = F.resized_crop(images, *boxes, size, interpolation, antialias, hflip=mirror)
        assert torch.equal(fused, torch.where(mirror[:, None, None, None], plain.flip(-1), plain))
        assert torch.equal(F.resized_crop(images, *boxes, size, interpolation, antialias, hflip=True), plain.flip(-1))


def test_hflip_param_of_the_wrong_shape_is_rejected() -> None:
    images = _images((4, 3, 16, 16), torch.uint8)
    with pytest.raises(ValueError, match="hflip"):
        F.resized_crop(images, 0, 0, 8, 8, 8, hflip=torch.tensor([True, False]))


@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no-aa"])
@pytest.mark.parametrize("size", [(20, 20), (7, 9), (31, 26)])
def test_row_gather_filter_equals_the_dense_matrix_products(size: tuple[int, int], antialias: bool) -> None:
    # resample() filters rows by gathering two rows and one lerp when the filter has two taps
    # (and by a matrix product otherwise); resample_matmul() always multiplies dense matrices.
    images = _images((6, 3, 20, 20), torch.float64)
    top, left, height, width = (b.double() for b in _boxes(6, 20))
    rows = _resample.filter_taps(top, height, size[0], 20, antialias, torch.float64, kernel="bilinear")
    cols = _resample.filter_taps(left, width, size[1], 20, antialias, torch.float64, kernel="bilinear")
    expected = _resample.resample_matmul(
        images, _resample.interpolation_matrix(*rows, 20), _resample.interpolation_matrix(*cols, 20)
    )
    torch.testing.assert_close(_resample.resample(images, rows, cols, torch.float64), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_results_do_not_share_memory_with_reused_buffers(dtype: torch.dtype) -> None:
    boxes = _boxes(8, 24)
    first_images, second_images = _images((8, 3, 24, 24), dtype, 2), _images((8, 3, 24, 24), dtype, 3)
    first = F.resized_crop(first_images, *boxes, (24, 24))
    kept = first.clone()
    F.resized_crop(second_images, *boxes, (24, 24))
    assert torch.equal(first, kept)


def test_gradients_flow_through_the_batched_path() -> None:
    images = _images((2, 1, 7, 8), torch.float64).requires_grad_()
    top, left = torch.tensor([0.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 0.5], dtype=torch.float64)
    height, width = torch.tensor([7.0, 4.0], dtype=torch.float64), torch.tensor([6.0, 5.5], dtype=torch.float64)
    for size in [(7, 8), (3, 4)]:
        assert torch.autograd.gradcheck(
            lambda x: F.resized_crop(x, top, left, height, width, size, hflip=torch.tensor([True, False])),
            (images,),
            fast_mode=True,
        )


def test_native_loop_gives_the_same_result_on_one_and_on_several_threads() -> None:
    side = _NATIVE_LOOP_MIN_SIDE_UINT8 + 8
    images, boxes = _images((9, 3, side, side), torch.uint8), _boxes(9, side)
    mirror = torch.arange(9) % 3 == 0
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = F.resized_crop(images, *boxes, (side, side), hflip=mirror)
        torch.set_num_threads(3)
        assert torch.equal(F.resized_crop(images, *boxes, (side, side), hflip=mirror), serial)
    finally:
        torch.set_num_threads(threads)


def test_native_loop_keeps_a_channels_last_batch_channels_last() -> None:
    side = _NATIVE_LOOP_MIN_SIDE_UINT8 + 8
    images, boxes = _images((5, 3, side, side), torch.uint8), _boxes(5, side)
    channels_last = images.contiguous(memory_format=torch.channels_last)
    result = F.resized_crop(channels_last, *boxes, (side, side))
    assert result.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(result, F.resized_crop(images, *boxes, (side, side)))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_fixed_point_chunks_give_the_same_result_as_one_pass(monkeypatch, mode: str) -> None:
    images, boxes = _images((37, 3, 24, 24), torch.uint8), [b.double() for b in _boxes(37, 24)]
    rows = _resample.fixed_point_taps(boxes[0], boxes[2], 17, 24, mode, True)
    cols = _resample.fixed_point_taps(boxes[1], boxes[3], 29, 24, mode, True)
    whole = _resample.resample_fixed(images, rows, cols, False, mode == "bicubic")
    monkeypatch.setattr(_resample, "_CHUNK_BYTES_PER_THREAD", 20_000)  # a few samples per chunk
    assert torch.equal(_resample.resample_fixed(images, rows, cols, False, mode == "bicubic"), whole)


def test_shared_filters_equal_per_sample_copies_of_them() -> None:
    # A box given as numbers builds one (1, out, K) filter that broadcasts over the batch.
    images = _images((6, 3, 20, 24), torch.uint8)
    shared = F.resized_crop(images, 2, 3, 15, 19, (11, 13))
    per_sample = F.resized_crop(images, *(torch.full((6,), float(v)) for v in (2, 3, 15, 19)), (11, 13))
    assert torch.equal(shared, per_sample)
    square, mirror = _images((6, 3, 24, 24), torch.uint8), torch.arange(6) % 2 == 0
    flipped = F.resized_crop(square, 2, 3, 15, 19, (16, 16), hflip=mirror)  # rows and columns share one call
    plain = F.resized_crop(square, 2, 3, 15, 19, (16, 16))
    assert torch.equal(flipped, torch.where(mirror[:, None, None, None], plain.flip(-1), plain))


def test_fixed_point_coefficients_are_pillows_22_bit_integers() -> None:
    # Upsampling 2 -> 5 pixels: output pixel 1 has its centre at 0.6 input pixels, so Pillow
    # weighs input pixels 0 and 1 by the triangle at 0.5 - 0.6 and 1.5 - 0.6: 0.9 and 0.1,
    # times 2**22 rounded half up (3774873.6 -> 3774874, 419430.4 -> 419430); pixel 3 mirrors it.
    taps, coefficients = _resample.fixed_point_taps(torch.zeros(1), torch.full((1,), 2.0), 5, 2, "bilinear", True)
    assert coefficients.dtype == torch.int32 and bool((coefficients.sum(-1) == 2**22).all())
    weights = [{int(t): int(c) for t, c in zip(taps[0, pixel], coefficients[0, pixel]) if c} for pixel in range(5)]
    assert weights[1] == {0: 3774874, 1: 419430} and weights[3] == {0: 419430, 1: 3774874}
    assert weights[0] == {0: 2**22} and weights[2] == {0: 2**21, 1: 2**21}


def test_fixed_point_path_keeps_a_channels_last_batch_channels_last() -> None:
    images, boxes = _images((5, 3, 24, 24), torch.uint8), _boxes(5, 24)
    result = F.resized_crop(images.contiguous(memory_format=torch.channels_last), *boxes, (20, 28))
    assert result.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(result, F.resized_crop(images, *boxes, (20, 28)))
