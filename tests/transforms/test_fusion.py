"""Compose's fused steps and the base class's per-sample selection give the unfused results."""

from __future__ import annotations

import pytest
import torch

from augbench import Compose, HorizontalFlip, InputValueError, Params, RandomResizedCrop, VerticalFlip
from augbench.transforms.base import _pick_samples


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _one_by_one(pipeline: Compose, images: torch.Tensor, params: Params, target: str = "image") -> torch.Tensor:
    """The children applied in turn, each with its own ``apply``: no fusion."""
    for index, child in enumerate(pipeline.transforms):
        images = child.apply(images, params[str(index)], target)
    return images


@pytest.mark.parametrize("side", [20, 64], ids=["batched", "native"])
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("same_on_batch", [False, True])
def test_resized_crop_then_hflip_equals_the_two_applied_in_turn(side: int, p: float, same_on_batch: bool) -> None:
    images = torch.randint(0, 256, (12, 3, side, side), dtype=torch.uint8, generator=_generator(1))
    pipeline = Compose([RandomResizedCrop((side, side - 3)), HorizontalFlip(p=p, same_on_batch=same_on_batch)])
    params = pipeline.sample(images, generator=_generator(2))
    assert torch.equal(pipeline.apply(images, params), _one_by_one(pipeline, images, params))
    masks = torch.randint(0, 5, (12, 1, side, side), generator=_generator(3))
    assert torch.equal(pipeline.apply(masks, params, target="mask"), _one_by_one(pipeline, masks, params, "mask"))


def test_only_a_plain_horizontal_flip_is_folded() -> None:
    images = torch.rand(6, 3, 20, 22, generator=_generator(1))
    pipeline = Compose([RandomResizedCrop(16), VerticalFlip(p=0.5), HorizontalFlip(p=0.5), RandomResizedCrop(9)])
    params = pipeline.sample(images, generator=_generator(4))
    assert torch.equal(pipeline.apply(images, params), _one_by_one(pipeline, images, params))


def test_fused_step_still_checks_the_flip_params() -> None:
    images = torch.randint(0, 256, (4, 3, 20, 20), dtype=torch.uint8)
    pipeline = Compose([RandomResizedCrop(16), HorizontalFlip()])
    params = pipeline.sample(images, generator=_generator())
    foreign = Compose([RandomResizedCrop(16), VerticalFlip()]).sample(images, generator=_generator())
    with pytest.raises(InputValueError, match="drawn by VerticalFlip"):
        pipeline.apply(images, Params(4, drawn_by="Compose", **{"0": params["0"], "1": foreign["1"]}))


@pytest.mark.parametrize(
    "shape, dtype",
    [((6, 3, 5, 8), torch.uint8), ((6, 3, 5, 7), torch.uint8), ((5, 2, 4, 4), torch.float32), ((7, 1, 3, 3), torch.bool)],
)
def test_pick_samples_equals_torch_where(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    chosen = torch.randint(0, 2 if dtype == torch.bool else 256, shape, generator=_generator(1)).to(dtype)
    other = torch.randint(0, 2 if dtype == torch.bool else 256, shape, generator=_generator(2)).to(dtype)
    mask = torch.rand(shape[0], generator=_generator(3)) < 0.5
    expected = torch.where(mask[:, None, None, None], chosen, other)
    assert torch.equal(_pick_samples(mask, chosen, other), expected)
    assert torch.equal(_pick_samples(mask, chosen[:, :, :, :2], other[:, :, :, :2]), expected[:, :, :, :2])
