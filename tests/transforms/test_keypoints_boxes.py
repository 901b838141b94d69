"""Keypoints and boxes move with the same draw as the image, checked against the image itself.

Each image is black except one white pixel (keypoints) or one white rectangle (boxes); the
transform is applied to the image with nearest interpolation and to the point or box, and the
white output pixels must sit where the point or box went. The bright pixels' centroid is used
for keypoints, since an upscaling warp spreads one input pixel over several output pixels.
"""

from __future__ import annotations

import math

import pytest
import torch

import augbench as ab
from augbench.errors import InputValueError
from augbench.transforms import CenterCrop, GaussianBlur, Grayscale, Normalize, Pad, Resize, ToDtype

BATCH, HEIGHT, WIDTH = 24, 24, 28  # not square, so swapped x and y show
KEYS = torch.arange(BATCH) + 1000
SEED = 11

GEOMETRIC = {
    "hflip": lambda: ab.HorizontalFlip(p=0.5),
    "vflip": lambda: ab.VerticalFlip(p=0.5),
    "crop-padding": lambda: ab.RandomCrop(16, padding=4),
    "crop-pad-if-needed": lambda: ab.RandomCrop((20, 32), padding=(1, 2, 0, 3), pad_if_needed=True),
    "rrc": lambda: ab.RandomResizedCrop((16, 20), scale=(0.2, 1.0), interpolation="nearest"),
    "rrc-upscale": lambda: ab.RandomResizedCrop((40, 36), scale=(0.3, 0.6), interpolation="nearest"),
    "rrc-own-size": lambda: ab.RandomResizedCrop(None, interpolation="nearest"),
    "rrc-fused-hflip": lambda: ab.Compose([ab.RandomResizedCrop(20, interpolation="nearest"), ab.HorizontalFlip()]),
    "affine": lambda: ab.RandomAffine(40, translate=(0.1, 0.15), scale=(0.8, 1.3), shear=(-10, 10, -8, 8), p=0.7),
    "affine-center": lambda: ab.RandomAffine(90, scale=(0.9, 1.1), center=(5.0, 7.0)),
    "resize": lambda: Resize((12, 40), interpolation="nearest"),
    "resize-edge": lambda: Resize(30, interpolation="nearest"),
    "center-crop": lambda: CenterCrop(15),
    "center-crop-larger": lambda: CenterCrop((31, 20)),
    "pad": lambda: Pad((1, 2, 3, 4)),
    "pipeline": lambda: ab.Compose([Pad(2), ab.VerticalFlip(), ab.RandomCrop(22), ab.ColorJitter(0.3)]),
}
AXIS_ALIGNED = [name for name in GEOMETRIC if not name.startswith("affine")]


def _centres(mask: torch.Tensor) -> torch.Tensor:
    """``(K, 2)`` pixel centres ``(x, y)`` of the true pixels of an ``(H, W)`` mask."""
    rows, cols = mask.nonzero(as_tuple=True)
    return torch.stack([cols, rows], 1).double() + 0.5


def _draw(name: str) -> tuple[ab.Transform, ab.random.Params, torch.Tensor]:
    transform = GEOMETRIC[name]()
    images = torch.zeros(BATCH, 1, HEIGHT, WIDTH)
    return transform, transform.sample(images, keys=KEYS, seed=SEED), images


@pytest.mark.parametrize("name", list(GEOMETRIC))
def test_keypoint_follows_its_pixel(name: str) -> None:
    transform, params, images = _draw(name)
    generator = torch.Generator().manual_seed(1)
    rows = torch.randint(0, HEIGHT, (BATCH,), generator=generator)
    cols = torch.randint(0, WIDTH, (BATCH,), generator=generator)
    images[torch.arange(BATCH), 0, rows, cols] = 1.0
    points = torch.stack([cols, rows], 1).float()[:, None] + 0.5  # (B, 1, 2): the pixel's centre

    output = transform.apply(images, params)
    moved = transform.apply_keypoints(points, params, (HEIGHT, WIDTH))
    assert moved.shape == points.shape and moved.dtype == points.dtype
    checked = 0
    for sample in range(BATCH):
        bright = output[sample, 0] > 0.5
        if not bright.any():  # cropped away, or skipped by a downscaling nearest resampling
            continue
        distance = (_centres(bright).mean(0) - moved[sample, 0].double()).norm()
        assert distance <= math.sqrt(2), (name, sample, distance)
        checked += 1
    assert checked >= BATCH // 3


@pytest.mark.parametrize("name", list(GEOMETRIC))
def test_box_contains_its_rectangle(name: str) -> None:
    transform, params, images = _draw(name)
    generator = torch.Generator().manual_seed(2)
    boxes = torch.zeros(BATCH, 1, 4)
    for sample in range(BATCH):
        x1, y1 = (int(torch.randint(0, size - 3, (), generator=generator)) for size in (WIDTH, HEIGHT))
        x2 = min(WIDTH, x1 + int(torch.randint(2, 9, (), generator=generator)))
        y2 = min(HEIGHT, y1 + int(torch.randint(2, 9, (), generator=generator)))
        images[sample, 0, y1:y2, x1:x2] = 1.0
        boxes[sample, 0] = torch.tensor([x1, y1, x2, y2], dtype=torch.float32)

    output = transform.apply(images, params)
    moved = transform.apply_boxes(boxes, params, (HEIGHT, WIDTH))
    _, out_h, out_w = transform.output_shape((1, HEIGHT, WIDTH))
    assert moved.shape == boxes.shape
    assert (moved[..., 0::2] >= 0).all() and (moved[..., 0::2] <= out_w).all()  # clipped to the output
    assert (moved[..., 1::2] >= 0).all() and (moved[..., 1::2] <= out_h).all()
    assert (moved[..., 2:] >= moved[..., :2]).all()
    checked = 0
    for sample in range(BATCH):
        bright = output[sample, 0] > 0.5
        if not bright.any():
            continue
        centres = _centres(bright)
        box = moved[sample, 0].double()
        assert (centres >= box[:2] - 1).all() and (centres <= box[2:] + 1).all(), (name, sample, box)
        if name in AXIS_ALIGNED:  # no rotation: the box is the bright region's own box
            tight = torch.cat([centres.amin(0) - 0.5, centres.amax(0) + 0.5])
            assert (tight - box).abs().max() <= 1, (name, sample, tight, box)
        checked += 1
    assert checked >= BATCH // 3


@pytest.mark.parametrize(
    "transform",
    [ab.HorizontalFlip(p=0.0), ab.VerticalFlip(p=0.0), ab.RandomAffine(30, translate=(0.2, 0.2), p=0.0)],
    ids=["hflip", "vflip", "affine"],
)
def test_unselected_samples_keep_their_points(transform: ab.Transform) -> None:
    images = torch.zeros(BATCH, 3, HEIGHT, WIDTH)
    params = transform.sample(images, keys=KEYS, seed=SEED)
    points = torch.rand(BATCH, 5, 2) * torch.tensor([WIDTH, HEIGHT])
    boxes = torch.cat([points, points + 2], -1).clamp(max=min(HEIGHT, WIDTH))
    assert torch.equal(transform.apply_keypoints(points, params, (HEIGHT, WIDTH)), points)
    assert torch.equal(transform.apply_boxes(boxes, params, (HEIGHT, WIDTH)), boxes)


def test_mask_selects_per_sample() -> None:
    flip = ab.HorizontalFlip(p=0.5)
    params = flip.sample(torch.zeros(BATCH, 1, HEIGHT, WIDTH), keys=KEYS, seed=SEED)
    points = torch.full((BATCH, 1, 2), 3.0)
    moved = flip.apply_keypoints(points, params, (HEIGHT, WIDTH))[:, 0, 0]
    assert 0 < int(params["apply"].sum()) < BATCH
    assert torch.equal(moved, torch.where(params["apply"], WIDTH - 3.0, 3.0))


def test_compose_equals_children_one_by_one() -> None:
    pipeline = ab.Compose([
        Pad(2), ab.RandomAffine(20, scale=(0.9, 1.1), p=0.5), ab.RandomResizedCrop(16), ab.HorizontalFlip(),
        ab.ColorJitter(0.2), Resize((20, 12)),
    ])
    images = torch.zeros(BATCH, 3, HEIGHT, WIDTH)
    params = pipeline.sample(images, keys=KEYS, seed=SEED)
    points = torch.rand(BATCH, 7, 2, generator=torch.Generator().manual_seed(3)) * torch.tensor([WIDTH, HEIGHT])
    boxes = torch.cat([points[:, :, :], points + 4], -1)
    expected_points, expected_boxes, shape = points, boxes, (3, HEIGHT, WIDTH)
    for index, child in enumerate(pipeline.transforms):
        expected_points = child.apply_keypoints(expected_points, params[str(index)], shape[1:])
        expected_boxes = child.apply_boxes(expected_boxes, params[str(index)], shape[1:])
        shape = child.output_shape(shape)
    assert torch.equal(pipeline.apply_keypoints(points, params, (HEIGHT, WIDTH)), expected_points)
    assert torch.equal(pipeline.apply_boxes(boxes, params, (HEIGHT, WIDTH)), expected_boxes)


@pytest.mark.parametrize(
    "transform",
    [ab.ColorJitter(0.4, 0.4, 0.4, 0.1), ab.RandomErasing(p=1.0), Normalize([0.5] * 3, [0.2] * 3), ToDtype(torch.float64),
     GaussianBlur(3), Grayscale(), ab.RandomGrayscale(p=1.0)],
    ids=lambda t: type(t).__name__,
)
def test_colour_transforms_pass_points_through(transform: ab.Transform) -> None:
    images = torch.rand(BATCH, 3, HEIGHT, WIDTH)
    params = transform.sample(images, keys=KEYS, seed=SEED)
    points = torch.rand(BATCH, 4, 2) * 50 - 10  # outside the image too: nothing is clipped or moved
    boxes = torch.cat([points, points + 3], -1)
    assert torch.equal(transform.apply_keypoints(points, params, (HEIGHT, WIDTH)), points)
    assert torch.equal(transform.apply_boxes(boxes, params, (HEIGHT, WIDTH)), boxes)


def test_empty_batch_and_same_on_batch() -> None:
    affine = ab.RandomAffine(30)
    empty = affine.sample(torch.zeros(0, 3, 8, 8))
    assert affine.apply_keypoints(torch.zeros(0, 3, 2), empty, (8, 8)).shape == (0, 3, 2)
    assert affine.apply_boxes(torch.zeros(0, 3, 4), empty, (8, 8)).shape == (0, 3, 4)
    shared = ab.RandomAffine(30, same_on_batch=True)
    params = shared.sample(torch.zeros(4, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    moved = shared.apply_keypoints(torch.ones(4, 2, 2), params, (8, 8))
    assert torch.allclose(moved, moved[:1].expand_as(moved))


def _bad_calls() -> list:
    flip = ab.HorizontalFlip(p=1.0)
    params = flip.sample(torch.zeros(2, 1, 8, 8))
    policy = ab.AutoAugment()
    return [
        lambda: flip.apply_keypoints(torch.zeros(2, 3), params, (8, 8)),
        lambda: flip.apply_keypoints(torch.zeros(2, 3, 3), params, (8, 8)),
        lambda: flip.apply_keypoints(torch.zeros(2, 3, 2, dtype=torch.int64), params, (8, 8)),
        lambda: flip.apply_keypoints([[1.0, 2.0]], params, (8, 8)),
        lambda: flip.apply_boxes(torch.zeros(2, 3, 2), params, (8, 8)),
        lambda: flip.apply_boxes(torch.zeros(2, 3, 4), params, (8,)),
        lambda: flip.apply_boxes(torch.zeros(2, 3, 4), params, (8, 0)),
        lambda: flip.apply_keypoints(torch.zeros(3, 1, 2), params, (8, 8)),
        lambda: ab.VerticalFlip(p=1.0).apply_keypoints(torch.zeros(2, 1, 2), params, (8, 8)),
        lambda: policy.apply_keypoints(torch.zeros(2, 1, 2), policy.sample(torch.zeros(2, 3, 8, 8, dtype=torch.uint8)), (8, 8)),
    ]


@pytest.mark.parametrize("index", range(10))
def test_bad_inputs_are_one_line_errors(index: int) -> None:
    with pytest.raises(InputValueError) as error:
        _bad_calls()[index]()
    assert "\n" not in str(error.value)
