"""CutMix card: lam recomputed from the clipped box, boxes reach the border (augbench/mix/cutmix.py)."""

from __future__ import annotations

import pytest
import torch

from augbench.mix import CutMix
from augbench.mix.cutmix import centred_box


def labelled_images(batch: int, size: tuple[int, int]) -> torch.Tensor:
    """uint8 images where every pixel of sample i has the value i (so pixel sources can be traced)."""
    return torch.arange(batch, dtype=torch.uint8).view(-1, 1, 1, 1).expand(batch, 3, *size).clone()


@pytest.mark.parametrize("size", [(16, 16), (12, 30), (31, 9)])
def test_label_weight_equals_pasted_area_after_clipping(size: tuple[int, int]) -> None:
    batch = 200
    images = labelled_images(batch, size)
    labels = torch.zeros(batch, dtype=torch.int64)
    mixer = CutMix(2)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
    result = mixer.apply(images, labels, params)
    from_partner = (result.inputs[:, 0] == result.index.view(-1, 1, 1).to(torch.uint8)).float().mean((1, 2))
    torch.testing.assert_close(1 - result.lam, from_partner)
    height, width = size
    # the pasted region is exactly the box, at the same coordinates in source and destination
    rows = torch.arange(height).view(1, -1, 1)
    cols = torch.arange(width).view(1, 1, -1)
    inside = (
        (rows >= params.top.view(-1, 1, 1)) & (rows < (params.top + params.height).view(-1, 1, 1))
        & (cols >= params.left.view(-1, 1, 1)) & (cols < (params.left + params.width).view(-1, 1, 1))
    )
    assert torch.equal(result.inputs[:, 0] != torch.arange(batch).view(-1, 1, 1).to(torch.uint8), inside)


def test_box_sides_follow_height_and_width_on_non_square_images() -> None:
    box = centred_box(torch.tensor([0.75]), torch.tensor([5]), torch.tensor([20]), 10, 40)
    assert (box["height"].item(), box["width"].item()) == (5, 20)  # sqrt(1 - 0.75) = 1/2 of each side
    assert (box["top"].item(), box["left"].item()) == (3, 10)


def test_clipped_box_at_the_corner() -> None:
    box = centred_box(torch.tensor([0.0]), torch.tensor([0]), torch.tensor([0]), 8, 12)
    assert (box["top"].item(), box["left"].item(), box["height"].item(), box["width"].item()) == (0, 0, 4, 6)


def test_boxes_touch_the_border_and_expectations_match() -> None:
    batch, height, width = 4000, 16, 24
    images = torch.zeros(batch, 1, height, width, dtype=torch.uint8)
    labels = torch.zeros(batch, dtype=torch.int64)
    mixer = CutMix(2)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(1))
    lam = mixer.apply(images, labels, params).lam.double()
    nonempty = (params.height > 0) & (params.width > 0)
    partial = nonempty & ((params.height < height) | (params.width < width))
    touches = (params.top == 0) | (params.left == 0) | (params.top + params.height == height) | (
        params.left + params.width == width
    )
    assert (touches & partial).float().sum() / partial.float().sum() > 0.5
    area = (params.height * params.width).double() / (height * width)
    assert (1 - lam).mean().item() == pytest.approx(area.mean().item(), abs=1e-6)
    # clipping shrinks boxes: E[1 - lam_adjusted] lies well below E[1 - lam_drawn] = 0.5
    assert 0.2 < (1 - lam).mean().item() < 0.4


def test_float_images_are_copied_exactly() -> None:
    images = torch.rand(6, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    result = CutMix(3)(images, torch.zeros(6, dtype=torch.int64), generator=torch.Generator().manual_seed(0))
    partner = images[result.index]
    assert bool(((result.inputs == images) | (result.inputs == partner)).all())
