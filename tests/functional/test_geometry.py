"""Geometric kernels against independent references (slicing, ``torch.nn.functional``, numpy, Pillow)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as nnf

import augbench.functional as F
import augbench.functional.interpolation as F_interpolation
from augbench.functional.geometry import _NATIVE_LOOP_MIN_SIDE, _NATIVE_LOOP_MIN_SIDE_UINT8


def _images(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator, dtype=dtype)


# -- flips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.int64])
def test_hflip_mirrors_columns_and_twice_is_identity(dtype: torch.dtype) -> None:
    images = _images((3, 2, 5, 7), torch.uint8).to(dtype)
    flipped = F.hflip(images)
    assert flipped.dtype == dtype and flipped.shape == images.shape
    assert torch.equal(flipped, images[..., torch.arange(6, -1, -1)])
    assert not torch.equal(flipped, images)
    assert torch.equal(F.hflip(flipped), images)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_vflip_mirrors_rows_and_twice_is_identity(dtype: torch.dtype) -> None:
    images = _images((3, 2, 5, 7), dtype)
    flipped = F.vflip(images)
    assert torch.equal(flipped, images[:, :, torch.arange(4, -1, -1), :])
    assert not torch.equal(flipped, images)
    assert torch.equal(F.vflip(flipped), images)


# -- crop --------------------------------------------------------------------------------------


def test_crop_with_per_sample_corner_equals_slicing_each_sample() -> None:
    images = _images((4, 3, 10, 12), torch.uint8)
    top = torch.tensor([0, 3, 6, 1])
    left = torch.tensor([0, 5, 2, 7])
    result = F.crop(images, top, left, 4, 5)
    assert result.shape == (4, 3, 4, 5) and result.dtype == torch.uint8
    for index in range(4):
        t, l = int(top[index]), int(left[index])
        assert torch.equal(result[index], images[index, :, t : t + 4, l : l + 5])


def test_crop_with_scalar_corner_is_the_same_window_for_every_sample() -> None:
    images = _images((3, 1, 8, 8), torch.float32)
    assert torch.equal(F.crop(images, 2, 1, 3, 4), images[:, :, 2:5, 1:5])


_TORCH_PAD_MODE = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}
_NUMPY_PAD_MODE = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def _padded_window_numpy(image: torch.Tensor, top: int, left: int, height: int, width: int, mode: str, fill: float) -> torch.Tensor:
    """Pad one ``(C, H, W)`` image with numpy far enough to contain the window, then slice it."""
    pad = max(-top, -left, top + height - image.shape[-2], left + width - image.shape[-1], 0)
    spec = ((0, 0), (pad, pad), (pad, pad))
    kwargs = {"constant_values": fill} if mode == "constant" else {}
    padded = np.pad(image.numpy(), spec, mode=_NUMPY_PAD_MODE[mode], **kwargs)
    return torch.from_numpy(padded[:, top + pad : top + pad + height, left + pad : left + pad + width].copy())


# (top, left) per sample: inside, over each border, and over two corners; windows 5 x 6 on 7 x 8
_OUTSIDE_TOPS = [0, -3, 4, -2, 3]
_OUTSIDE_LEFTS = [-4, 1, 5, 4, -2]


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_crop_outside_the_image_equals_torch_pad_then_slice(mode: str) -> None:
    # torch's reflect/replicate padding needs a floating tensor, so the comparison runs on float
    images = _images((5, 3, 7, 8), torch.float32)
    fill = 0.25
    result = F.crop(images, torch.tensor(_OUTSIDE_TOPS), torch.tensor(_OUTSIDE_LEFTS), 5, 6, padding_mode=mode, fill=fill)
    pad = 4  # smaller than both sides, as torch's reflect padding requires
    kwargs = {"value": fill} if mode == "constant" else {}
    padded = nnf.pad(images, (pad, pad, pad, pad), mode=_TORCH_PAD_MODE[mode], **kwargs)
    for index, (top, left) in enumerate(zip(_OUTSIDE_TOPS, _OUTSIDE_LEFTS)):
        expected = padded[index, :, top + pad : top + pad + 5, left + pad : left + pad + 6]
        assert torch.equal(result[index], expected), f"sample {index} (top={top}, left={left})"


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_crop_outside_the_image_equals_numpy_pad_for_uint8(mode: str) -> None:
    # torch has no symmetric padding; numpy's np.pad has all four modes and any dtype
    images = _images((5, 3, 7, 8), torch.uint8)
    result = F.crop(images, torch.tensor(_OUTSIDE_TOPS), torch.tensor(_OUTSIDE_LEFTS), 5, 6, padding_mode=mode, fill=200)
    assert result.dtype == torch.uint8
    for index, (top, left) in enumerate(zip(_OUTSIDE_TOPS, _OUTSIDE_LEFTS)):
        expected = _padded_window_numpy(images[index], top, left, 5, 6, mode, 200)
        assert torch.equal(result[index], expected), f"sample {index} (top={top}, left={left})"


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_crop_far_outside_the_image_folds_like_numpy_pad(mode: str) -> None:
    images = _images((2, 1, 4, 5), torch.uint8)
    tops, lefts = [-9, 6], [11, -13]
    result = F.crop(images, torch.tensor(tops), torch.tensor(lefts), 6, 7, padding_mode=mode)
    for index, (top, left) in enumerate(zip(tops, lefts)):
        assert torch.equal(result[index], _padded_window_numpy(images[index], top, left, 6, 7, mode, 0))


def test_crop_constant_fill_per_channel() -> None:
    images = _images((1, 3, 4, 4), torch.uint8)
    result = F.crop(images, -1, 0, 4, 4, fill=[10, 20, 30])
    assert torch.equal(result[0, :, 0, :], torch.tensor([10, 20, 30], dtype=torch.uint8)[:, None].expand(3, 4))
    assert torch.equal(result[0, :, 1:, :], images[0, :, :3, :])


# -- resized_crop ------------------------------------------------------------------------------


def _reference_resized_crop(images: torch.Tensor, boxes, size, antialias: bool) -> torch.Tensor:
    """Slice each integer box and resize it with torch's bilinear kernel, in float32."""
    out = []
    for index, (top, left, height, width) in enumerate(boxes):
        window = images[index : index + 1, :, top : top + height, left : left + width].float()
        out.append(nnf.interpolate(window, size=size, mode="bilinear", align_corners=False, antialias=antialias))
    return torch.cat(out)


def _box_tensors(boxes):
    return [torch.tensor(column) for column in zip(*boxes)]


# (top, left, height, width) per sample, on a 20 x 24 (small) or 60 x 64 (large) image
_SMALL_BOXES = [(0, 0, 20, 24), (3, 2, 11, 13), (8, 9, 7, 5), (1, 14, 17, 10)]
_LARGE_BOXES = [(0, 0, 60, 64), (5, 11, 37, 29), (20, 3, 23, 52)]
_CASES = {
    # name: (image side, boxes, output size); "down" shrinks every box, "up" enlarges every box
    "small-down": ((20, 24), _SMALL_BOXES, (4, 3)),
    "small-up": ((20, 24), _SMALL_BOXES, (25, 27)),
    "small-mixed": ((20, 24), _SMALL_BOXES, (12, 9)),
    "large-down": ((60, 64), _LARGE_BOXES, (17, 13)),
    "large-up": ((60, 64), _LARGE_BOXES, (71, 66)),
}


@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no-aa"])
@pytest.mark.parametrize("case", list(_CASES))
def test_resized_crop_float_matches_torch_interpolate_per_sample(case: str, antialias: bool) -> None:
    (height, width), boxes, size = _CASES[case]
    assert (max(height, width) >= _NATIVE_LOOP_MIN_SIDE) == case.startswith("large")  # both code paths covered
    images = _images((len(boxes), 3, height, width), torch.float32)
    result = F.resized_crop(images, *_box_tensors(boxes), size, antialias=antialias)
    assert result.shape == (len(boxes), 3, *size) and result.dtype == torch.float32
    expected = _reference_resized_crop(images, boxes, size, antialias)
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no-aa"])
@pytest.mark.parametrize("case", list(_CASES))
def test_resized_crop_uint8_within_one_grey_level_of_float_reference(case: str, antialias: bool) -> None:
    (height, width), boxes, size = _CASES[case]
    images = _images((len(boxes), 3, height, width), torch.uint8)
    result = F.resized_crop(images, *_box_tensors(boxes), size, antialias=antialias)
    assert result.shape == (len(boxes), 3, *size) and result.dtype == torch.uint8
    expected = _reference_resized_crop(images, boxes, size, antialias).round().clamp(0, 255)
    assert (result.float() - expected).abs().max() <= 1


def test_resized_crop_float64_stays_float64_and_matches_reference() -> None:
    boxes = _SMALL_BOXES
    images = _images((4, 2, 20, 24), torch.float64)
    result = F.resized_crop(images, *_box_tensors(boxes), (9, 14))
    assert result.dtype == torch.float64
    expected = torch.cat(
        [
            nnf.interpolate(images[i : i + 1, :, t : t + h, l : l + w], size=(9, 14), mode="bilinear", align_corners=False, antialias=True)
            for i, (t, l, h, w) in enumerate(boxes)
        ]
    )
    torch.testing.assert_close(result, expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("side", [20, 60], ids=["batched", "native"])
def test_resized_crop_batch_param_gives_each_sample_its_own_box(side: int) -> None:
    boxes = [(0, 0, side, side), (2, 5, side // 2, side // 3), (side // 4, 1, side // 3, side - 3)]
    images = _images((1, 3, side, side), torch.uint8).expand(3, -1, -1, -1)  # one image, three boxes
    result = F.resized_crop(images, *_box_tensors(boxes), (10, 11))
    for index, (top, left, height, width) in enumerate(boxes):
        alone = F.resized_crop(images[:1], top, left, height, width, (10, 11))
        assert torch.equal(result[index : index + 1], alone), f"sample {index}"
    assert not torch.equal(result[0], result[1]) and not torch.equal(result[1], result[2])


def test_resized_crop_large_batch_with_one_fractional_box_still_matches_reference() -> None:
    # A fractional box sends a large batch down the batched path; the integer boxes in it must
    # still equal the per-sample reference, so both paths agree.
    boxes = _LARGE_BOXES
    images = _images((3, 3, 60, 64), torch.float32)
    top, left, height, width = (column.double() for column in _box_tensors(boxes))
    top = torch.cat([top[:2], torch.tensor([20.5], dtype=torch.float64)])
    result = F.resized_crop(images, top, left, height, width, (17, 13))
    expected = _reference_resized_crop(images, boxes, (17, 13), antialias=True)
    torch.testing.assert_close(result[:2], expected[:2], atol=1e-5, rtol=0)
    assert not torch.allclose(result[2], expected[2], atol=1e-3)  # the half-pixel shift is used


@pytest.mark.parametrize("side", [24, 64], ids=["small", "large"])
@pytest.mark.parametrize("out_width", [13, 90], ids=["down", "up"])
def test_resized_crop_fractional_box_samples_a_linear_ramp_exactly(side: int, out_width: int) -> None:
    # Bilinear interpolation (two taps, no antialias) reproduces a linear ramp exactly, so an
    # output pixel whose centre maps to continuous input position c reads (c - 0.5) / side.
    ramp = (torch.arange(side, dtype=torch.float64) / side).expand(2, 1, 8, side)
    left = torch.tensor([1.3, 0.75], dtype=torch.float64)
    width = torch.tensor([side - 3.1, side / 2 + 0.4], dtype=torch.float64)
    result = F.resized_crop(ramp, 0, left, 8, width, (8, out_width), antialias=False)
    centres = left[:, None] + (torch.arange(out_width, dtype=torch.float64) + 0.5) * (width / out_width)[:, None]
    expected = (centres - 0.5) / side
    first_tap = torch.floor(centres - 0.5)
    interior = (first_tap >= torch.floor(left)[:, None]) & (first_tap + 1 < torch.ceil(left + width)[:, None])
    assert interior.sum() > out_width  # most pixels are checked
    torch.testing.assert_close(result[:, 0, 3, :][interior], expected[interior], atol=1e-9, rtol=0)


def test_resize_equals_torch_interpolate() -> None:
    images = _images((2, 3, 20, 24), torch.float32)
    for size, antialias in [((10, 8), True), ((31, 29), True), ((10, 8), False)]:
        expected = nnf.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=antialias)
        torch.testing.assert_close(F.resize(images, size, antialias=antialias), expected, atol=1e-5, rtol=0)
    assert F.resize(images, 7).shape == (2, 3, 7, 8)  # the smaller edge becomes 7: 24 * 7 / 20 -> 8


def _pillow_nearest_index(start: int, length: int, out: int) -> list[int]:
    """Pillow's NEAREST source index of ``crop(box).resize``: the centre coordinate starts at
    ``step / 2`` and grows by ``step`` one output pixel at a time, in doubles (ImagingScaleAffine)."""
    step, position, index = length / out, length / out * 0.5, []
    for _ in range(out):
        index.append(start + int(position))
        position += step
    return index


def _nearest_reference(images: torch.Tensor, boxes, size) -> torch.Tensor:
    """Pixel containing each output pixel centre, by Pillow's accumulated double coordinates."""
    out_h, out_w = size
    result = []
    for index, (top, left, height, width) in enumerate(boxes):
        rows = _pillow_nearest_index(top, height, out_h)
        cols = _pillow_nearest_index(left, width, out_w)
        result.append(images[index][:, rows][:, :, cols])
    return torch.stack(result)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
@pytest.mark.parametrize("side", [20, 60], ids=["small", "large"])
def test_resized_crop_nearest_keeps_integer_dtypes_exact(dtype: torch.dtype, side: int) -> None:
    boxes = [(0, 0, side, side), (3, 2, side // 2, side // 3), (side // 5, side // 4, side // 3, side // 2)]
    generator = torch.Generator().manual_seed(3)
    if dtype == torch.bool:
        images = torch.rand((3, 1, side, side), generator=generator) > 0.5
    else:
        high = 2**40 if dtype == torch.int64 else (2**30 if dtype == torch.int32 else 256)
        images = torch.randint(0, high, (3, 1, side, side), generator=generator, dtype=torch.int64).to(dtype)
    for size in [(7, 9), (side + 5, side + 3)]:
        result = F.resized_crop(images, *_box_tensors(boxes), size, interpolation="nearest")
        assert result.dtype == dtype
        assert torch.equal(result, _nearest_reference(images, boxes, size))


def test_resized_crop_nearest_matches_torch_nearest_exact() -> None:
    boxes = [(0, 0, 20, 24), (3, 2, 11, 13), (8, 9, 7, 5)]
    images = torch.arange(3 * 20 * 24, dtype=torch.float32).view(3, 1, 20, 24)
    result = F.resized_crop(images, *_box_tensors(boxes), (13, 17), interpolation="nearest")
    for index, (t, l, h, w) in enumerate(boxes):
        expected = nnf.interpolate(images[index : index + 1, :, t : t + h, l : l + w], size=(13, 17), mode="nearest-exact")
        assert torch.equal(result[index : index + 1], expected)


# -- Pillow exactness (uint8) and torchvision semantics --------------------------------------------

Image = pytest.importorskip("PIL.Image")
PIL_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}


@pytest.fixture(scope="module")
def cifar_shapes(cifar64, pil_reference) -> dict[str, torch.Tensor]:
    """Real images at several shapes: CIFAR-10 32x32, and 16 of them resized by Pillow to 37x53."""
    resized = pil_reference.apply(cifar64[:16], lambda im: im.resize((53, 37), Image.Resampling.BICUBIC))
    return {"32x32": cifar64[:16], "37x53": resized}


# output sizes: up, down, mixed, vertical pass first (height shrinks most), by 3, upsampled 64x48
_PILLOW_SIZES = [(64, 48), (17, 23), (45, 61), (12, 31), (11, 10), (37, 26), (5, 7)]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("shape", ["32x32", "37x53"])
def test_uint8_resize_is_bit_identical_to_pillow(cifar_shapes, pil_reference, shape: str, mode: str) -> None:
    images = cifar_shapes[shape]
    for height, width in _PILLOW_SIZES:
        expected = pil_reference.apply(images, lambda im: im.resize((width, height), PIL_FILTERS[mode]))
        result = F.resize(images, [height, width], mode)
        assert torch.equal(result, expected), f"{shape} -> {height}x{width}: {(result == expected).double().mean():.4%} identical"


def test_uint8_nearest_resize_is_bit_identical_to_pillow(cifar_shapes, pil_reference) -> None:
    for images in cifar_shapes.values():
        for height, width in [(48, 64), (24, 21), (10, 7), (96, 96)]:
            expected = pil_reference.apply(images, lambda im: im.resize((width, height), Image.Resampling.NEAREST))
            assert torch.equal(F.resize(images, [height, width], "nearest"), expected)
            assert torch.equal(F.resize(images, [height, width], "nearest-exact"), expected)


def _random_boxes(count: int, height: int, width: int, seed: int, fractional: bool) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    top = torch.randint(0, height // 2, (count,), generator=generator).double()
    left = torch.randint(0, width // 2, (count,), generator=generator).double()
    box_h = (torch.rand(count, generator=generator, dtype=torch.float64) * (height - top - 1) + 1).floor()
    box_w = (torch.rand(count, generator=generator, dtype=torch.float64) * (width - left - 1) + 1).floor()
    if fractional:
        top, left = top + 0.25, left + 0.625
        box_h, box_w = (box_h - 0.5).clamp(min=0.5), (box_w - 0.25).clamp(min=0.5)
    return [top, left, box_h, box_w]


def _pillow_resized_crop(image, box: tuple[float, ...], size: tuple[int, int], mode: str):
    """``crop`` to the box's enclosing whole pixels, then ``resize`` the box inside it."""
    top, left, height, width = box
    window = (int(np.floor(left)), int(np.floor(top)), int(np.ceil(left + width)), int(np.ceil(top + height)))
    inner = (left - window[0], top - window[1], left + width - window[0], top + height - window[1])
    return image.crop(window).resize((size[1], size[0]), PIL_FILTERS[mode], box=inner)


@pytest.mark.parametrize("fractional", [False, True], ids=["whole-pixel", "fractional"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_uint8_resized_crop_with_per_sample_boxes_is_pillows_crop_then_resize(cifar_shapes, mode: str, fractional: bool) -> None:
    images = cifar_shapes["37x53"]
    boxes = _random_boxes(len(images), 37, 53, seed=4, fractional=fractional)
    for size in [(31, 29), (9, 40)]:  # the second makes some samples run Pillow's vertical pass first
        result = F.resized_crop(images, *boxes, size, mode)
        for index, image in enumerate(images):
            pil = Image.fromarray(image.permute(1, 2, 0).numpy())
            expected = np.asarray(_pillow_resized_crop(pil, tuple(float(b[index]) for b in boxes), size, mode))
            assert np.array_equal(result[index].permute(1, 2, 0).numpy(), expected), f"sample {index}, size {size}"


def test_fused_hflip_on_the_fixed_point_path_equals_flipping_afterwards(cifar_shapes) -> None:
    images = cifar_shapes["32x32"]
    boxes = _random_boxes(len(images), 32, 32, seed=6, fractional=False)
    mirror = torch.arange(len(images)) % 3 == 0
    plain = F.resized_crop(images, *boxes, (24, 28))
    fused = F.resized_crop(images, *boxes, (24, 28), hflip=mirror)
    assert torch.equal(fused, torch.where(mirror[:, None, None, None], plain.flip(-1), plain))


def test_upsampled_64x48_images_are_still_bit_identical_to_pillow(cifar_shapes, pil_reference) -> None:
    images = pil_reference.apply(cifar_shapes["32x32"], lambda im: im.resize((48, 64), Image.Resampling.BICUBIC))
    for mode in ("bilinear", "bicubic"):
        for height, width in [(50, 40), (32, 32), (80, 60)]:
            expected = pil_reference.apply(images, lambda im: im.resize((width, height), PIL_FILTERS[mode]))
            assert torch.equal(F.resize(images, [height, width], mode), expected)


@pytest.mark.parametrize("fractional", [False, True], ids=["whole-pixel", "fractional"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_large_images_are_exact_to_pillow_with_the_compiled_passes(
    cifar_shapes, pil_reference, compiled_library, mode, fractional
) -> None:
    compiled_library("resample")  # without a compiler large images take torch's kernel (the next test)
    images = pil_reference.apply(cifar_shapes["32x32"], lambda im: im.resize((80, 96), Image.Resampling.BICUBIC))
    assert min(images.shape[-2:]) >= _NATIVE_LOOP_MIN_SIDE_UINT8
    for height, width in [(75, 60), (100, 90)]:
        expected = pil_reference.apply(images, lambda im: im.resize((width, height), PIL_FILTERS[mode]))
        assert torch.equal(F.resize(images, [height, width], mode), expected)
    boxes = _random_boxes(len(images), 96, 80, seed=5, fractional=fractional)
    size = (88, 72)
    result = F.resized_crop(images, *boxes, size, mode)
    for index, image in enumerate(images):
        pil = Image.fromarray(image.permute(1, 2, 0).numpy())
        expected = np.asarray(_pillow_resized_crop(pil, tuple(float(b[index]) for b in boxes), size, mode))
        assert np.array_equal(result[index].permute(1, 2, 0).numpy(), expected), f"sample {index}"


def test_large_images_without_a_compiler_use_torchs_kernel_within_one_level_of_pillow(
    cifar_shapes, pil_reference, torch_only
) -> None:
    # A documented deviation: without the compiled passes, integer boxes of uint8 images of
    # 72 px or more take torch's native kernel (14-bit weights), which is faster than the torch
    # passes there; it is within one level of Pillow.
    images = pil_reference.apply(cifar_shapes["32x32"], lambda im: im.resize((80, 96), Image.Resampling.BICUBIC))
    expected = pil_reference.apply(images, lambda im: im.resize((60, 75), Image.Resampling.BILINEAR))
    identical = pil_reference.check(torch_only(lambda: F.resize(images, [75, 60])), expected)
    assert 0.95 < identical < 1.0


@pytest.mark.parametrize(
    "shape, size, max_size, expected",
    [
        ((37, 53), 32, None, (32, 45)),  # the smaller edge becomes 32, int(32 * 53 / 37) = 45
        ((53, 37), [32], None, (45, 32)),
        ((37, 53), 32, 40, (28, 40)),  # the longer edge capped: int(40 * 32 / 45) = 28
        ((37, 53), None, 40, (27, 40)),  # size=None: the longer edge becomes max_size
        ((37, 53), [20, 30], None, (20, 30)),
        ((32, 32), 16, None, (16, 16)),
    ],
)
def test_resize_output_size_is_torchvisions(shape, size, max_size, expected) -> None:
    images = _images((2, 3, *shape), torch.uint8)
    assert F.resize(images, size, max_size=max_size).shape == (2, 3, *expected)


def test_resize_to_the_input_size_returns_the_input_as_torchvision() -> None:
    images = _images((2, 3, 20, 24), torch.uint8)
    assert F.resize(images, [20, 24]) is images
    assert F.resize(images, 20) is images


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: F.resize(x, [20, 24], max_size=30), "max_size needs size=int"),
        (lambda x: F.resize(x, 32, max_size=32), "must be larger than the smaller edge"),
        (lambda x: F.resize(x, None), "size=None needs max_size"),
        (lambda x: F.resize(x, [1, 2, 3]), "must be an int, \\[int\\], \\(height, width\\) or None"),
        (lambda x: F.resize(x, 0), "must be a positive int"),
        (lambda x: F.resize(x, 8, "lanczos"), "use one of 'nearest', 'nearest-exact', 'bilinear', 'bicubic'"),
        (lambda x: F.resize(x.long(), 8, "bilinear"), "use 'nearest'"),
        (lambda x: F.resized_crop(x, 0, 0, torch.tensor([4, 5]), 6, 8), "boxes' heights differ; pass size=\\(height, width\\)"),
    ],
)
def test_bad_resize_arguments_raise_one_line(call, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        call(_images((2, 3, 20, 24), torch.uint8))
    assert "\n" not in str(info.value)


def test_resized_crop_int_size_is_the_boxs_smaller_edge() -> None:
    images = _images((2, 3, 40, 50), torch.uint8)
    assert F.resized_crop(images, 2, 3, 20, 30, 10).shape == (2, 3, 10, 15)
    same_boxes = torch.tensor([20.0, 20.0])
    assert F.resized_crop(images, 0, 0, same_boxes, same_boxes * 1.5, [12]).shape == (2, 3, 12, 18)


def test_interpolation_as_enum_pillow_constant_or_string_and_antialias_none() -> None:
    images = _images((2, 3, 20, 24), torch.uint8)
    expected = F.resize(images, [9, 11], "bicubic")
    assert torch.equal(F.resize(images, [9, 11], F_interpolation.InterpolationMode.BICUBIC), expected)
    assert torch.equal(F.resize(images, [9, 11], Image.Resampling.BICUBIC), expected)
    assert torch.equal(F.resize(images, [9, 11], antialias=None), F.resize(images, [9, 11], antialias=False))


@pytest.mark.parametrize("antialias", [True, False], ids=["aa", "no-aa"])
@pytest.mark.parametrize("size", [(10, 8), (31, 29)])
def test_float_bicubic_equals_torch_interpolate_clamped_to_0_1(size, antialias: bool) -> None:
    images = _images((2, 3, 20, 24), torch.float32)
    expected = nnf.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=antialias).clamp(0, 1)
    result = F.resize(images, size, "bicubic", antialias=antialias)
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)
    assert 0 <= float(result.min()) and float(result.max()) <= 1


def test_uint8_bicubic_without_antialias_is_torchs_kernel_rounded_once() -> None:
    images = _images((2, 3, 20, 24), torch.uint8)
    expected = nnf.interpolate(images.float(), size=(31, 29), mode="bicubic", align_corners=False).round().clamp(0, 255)
    assert (F.resize(images, [31, 29], "bicubic", antialias=False).float() - expected).abs().max() <= 1


@pytest.mark.parametrize(
    "kernel, shape",
    [
        (lambda x: F.resize(x, [7, 9]), (7, 9)),
        (lambda x: F.resize(x, 10, "bicubic"), (10, 12)),
        (lambda x: F.resized_crop(x, torch.zeros(0), 0, torch.zeros(0) + 5, 6, [8, 8]), (8, 8)),
        (lambda x: F.resized_crop(x, 1, 2, 5, 6, [8, 8], "nearest"), (8, 8)),
        (lambda x: F.resized_crop(x, 1, 2, 5, 6, 10), (10, 12)),
        (lambda x: F.crop(x, torch.zeros(0, dtype=torch.long), 0, 5, 6), (5, 6)),
        (F.hflip, (20, 24)),
        (F.vflip, (20, 24)),
    ],
)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_empty_batch_gives_an_empty_batch_of_the_output_shape(kernel, shape: tuple[int, int], dtype: torch.dtype) -> None:
    result = kernel(torch.zeros(0, 3, 20, 24, dtype=dtype))
    assert result.shape == (0, 3, *shape) and result.dtype == dtype
