"""The erase kernel: the value lands in exactly each sample's box and nowhere else."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F


def _images(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        return torch.randint(0, 200, shape, dtype=torch.uint8, generator=generator)  # never 255
    return torch.rand(shape, generator=generator, dtype=dtype) * 0.9  # never 1.0


def _reference(images: torch.Tensor, boxes, value) -> torch.Tensor:
    expected = images.clone()
    for index, (top, left, height, width) in enumerate(boxes):
        region = expected[index, :, top : top + height, left : left + width]
        region[...] = value[index, :, top : top + height, left : left + width] if isinstance(value, torch.Tensor) else torch.as_tensor(value, dtype=images.dtype).view(-1, 1, 1)
    return expected


_BOXES = [(0, 0, 3, 4), (2, 5, 5, 2), (6, 1, 1, 9), (4, 3, 4, 7)]  # (top, left, height, width) on 10 x 12


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_erase_writes_the_value_in_exactly_the_box(dtype: torch.dtype) -> None:
    images = _images((4, 3, 10, 12), dtype)
    value = 255 if dtype == torch.uint8 else 1.0
    columns = [torch.tensor(c) for c in zip(*_BOXES)]
    result = F.erase(images, *columns, value)
    assert result.dtype == dtype and result.shape == images.shape
    assert torch.equal(result, _reference(images, _BOXES, value))
    # count: the value appears exactly h * w times per channel (the inputs never hold it)
    for index, (_, _, height, width) in enumerate(_BOXES):
        assert int((result[index] == value).sum()) == 3 * height * width


def test_erase_does_not_modify_its_input() -> None:
    images = _images((2, 1, 5, 5), torch.uint8)
    before = images.clone()
    F.erase(images, 1, 1, 2, 2, 0)
    assert torch.equal(images, before)


def test_erase_with_scalar_box_is_the_same_box_for_every_sample() -> None:
    images = _images((3, 2, 6, 7), torch.float32)
    result = F.erase(images, 1, 2, 3, 4, 0.5)
    assert torch.equal(result, _reference(images, [(1, 2, 3, 4)] * 3, 0.5))


def test_erase_with_zero_height_or_width_leaves_the_sample_unchanged() -> None:
    images = _images((3, 3, 8, 8), torch.uint8)
    result = F.erase(images, torch.tensor([2, 2, 2]), torch.tensor([1, 1, 1]), torch.tensor([0, 3, 4]), torch.tensor([5, 0, 2]), 255)
    assert torch.equal(result[0], images[0])
    assert torch.equal(result[1], images[1])
    assert not torch.equal(result[2], images[2])


def test_erase_box_reaching_past_the_border_is_clipped() -> None:
    images = _images((1, 1, 6, 6), torch.uint8)
    result = F.erase(images, 4, 5, 5, 5, 255)
    assert torch.equal(result, _reference(images, [(4, 5, 2, 1)], 255))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_erase_with_one_value_per_channel(dtype: torch.dtype) -> None:
    images = _images((2, 3, 7, 9), dtype)
    value = [10, 128, 250] if dtype == torch.uint8 else [0.1, 0.5, 0.95]
    boxes = [(1, 2, 3, 4), (0, 0, 7, 9)]
    result = F.erase(images, torch.tensor([1, 0]), torch.tensor([2, 0]), torch.tensor([3, 7]), torch.tensor([4, 9]), value)
    assert torch.equal(result, _reference(images, boxes, value))
    assert torch.equal(result[1, :, 4, 4], torch.tensor(value, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_erase_with_a_noise_tensor_value(dtype: torch.dtype) -> None:
    images = _images((3, 3, 8, 10), dtype)
    noise = _images((3, 3, 8, 10), dtype, seed=9)
    boxes = [(0, 0, 4, 4), (3, 5, 5, 5), (2, 2, 0, 3)]
    columns = [torch.tensor(c) for c in zip(*boxes)]
    result = F.erase(images, *columns, noise)
    assert torch.equal(result, _reference(images, boxes, noise))
    assert torch.equal(result[0, :, :4, :4], noise[0, :, :4, :4])
    assert torch.equal(result[2], images[2])


# -- torchvision's erase(img, i, j, h, w, v, inplace) ----------------------------------------------


def _torchvision_erase(image: torch.Tensor, i: int, j: int, h: int, w: int, v: torch.Tensor) -> torch.Tensor:
    """torchvision's ``erase_image``: ``image[..., i:i + h, j:j + w] = v`` on a copy."""
    erased = image.clone()
    erased[..., i : i + h, j : j + w] = v
    return erased


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_erase_with_a_box_shaped_value_as_random_erasing_passes_it(dtype: torch.dtype) -> None:
    images = _images((3, 3, 10, 12), dtype)
    value = _images((3, 4, 5), dtype, seed=7)  # (C, h, w), like torchvision's RandomErasing noise
    tops, lefts = torch.tensor([0, 3, 6]), torch.tensor([1, 5, 7])
    result = F.erase(images, tops, lefts, 4, 5, value)
    for index in range(3):
        expected = _torchvision_erase(images[index], int(tops[index]), int(lefts[index]), 4, 5, value)
        assert torch.equal(result[index], expected), f"sample {index}"
    per_sample = _images((3, 3, 4, 5), dtype, seed=8)  # (B, C, h, w)
    result = F.erase(images, tops, lefts, 4, 5, per_sample)
    assert torch.equal(result[1], _torchvision_erase(images[1], 3, 5, 4, 5, per_sample[1]))


def test_erase_with_a_per_channel_value_and_inplace() -> None:
    images = _images((2, 3, 8, 9), torch.float32)
    value = torch.tensor([0.1, 0.5, 0.9])[:, None, None]  # (C, 1, 1)
    expected = torch.stack([_torchvision_erase(image, 2, 3, 4, 5, value) for image in images])
    assert torch.equal(F.erase(images, 2, 3, 4, 5, value), expected)
    target = images.clone()
    returned = F.erase(target, 2, 3, 4, 5, value, inplace=True)
    assert returned is target and torch.equal(target, expected)


def test_erase_with_a_mismatched_box_value_raises_one_line() -> None:
    with pytest.raises(ValueError, match="pass \\(3, 4, 5\\)") as info:
        F.erase(_images((2, 3, 8, 9), torch.uint8), 0, 0, 4, 5, torch.zeros(2, 4, 5, dtype=torch.uint8))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", [0, [1, 2, 3], torch.zeros(3, 2, 2, dtype=torch.uint8)])
def test_empty_batch_gives_an_empty_batch(value) -> None:
    empty = torch.zeros(0, 3, 8, 9, dtype=torch.uint8)
    assert F.erase(empty, torch.zeros(0, dtype=torch.long), 0, 2, 2, value).shape == (0, 3, 8, 9)
