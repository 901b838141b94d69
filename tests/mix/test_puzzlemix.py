"""PuzzleMix card (augbench/mix/puzzlemix.py): mask ratio, permutation transport, salient blocks kept."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.mix import PuzzleMix
from augbench.mix.puzzlemix import greedy_assignment, permute_blocks

NUM_CLASSES = 3


def blob_saliency(batch: int, size: int, seed: int) -> torch.Tensor:
    """(B, size, size) smooth random saliency: a few Gaussian bumps per map."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.rand(batch, 3, 2, generator=generator) * size
    grid = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij"), -1).float()
    distance = ((grid[None, None] - centres[:, :, None, None]) ** 2).sum(-1)
    return torch.exp(-distance / (size / 3) ** 2).sum(1)


def random_batch(batch: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 1, size, size), dtype=torch.uint8, generator=generator)
    return images, torch.randint(0, NUM_CLASSES, (batch,), generator=generator)


@pytest.mark.parametrize("grid", [2, 4, 8])
@pytest.mark.parametrize("uniform", [False, True])
def test_mask_mean_matches_lam_up_to_the_label_grid(grid: int, uniform: bool) -> None:
    images, labels = random_batch(128, 16)
    saliency = None if uniform else blob_saliency(128, 16, seed=grid)
    mixer = PuzzleMix(NUM_CLASSES, grid_sizes=(grid,))
    params = mixer.sample(images, labels, torch.Generator().manual_seed(1), saliency)
    assert params.mask.shape == (128, grid, grid)
    assert set(params.mask.unique().tolist()) <= {0.0, 0.5, 1.0}
    error = (params.mask.mean((1, 2)) - params.lam).abs()
    assert float(error.max()) <= 1 / (2 * 2 * grid * grid) + 1e-6  # nearest multiple of 1 / ((L - 1) n^2)
    result = mixer.apply(images, labels, params)
    torch.testing.assert_close(result.lam, params.mask.mean((1, 2)))


@pytest.mark.parametrize("grid", [2, 4, 8])
def test_transport_plans_are_permutations(grid: int) -> None:
    images, labels = random_batch(64, 16, seed=2)
    saliency = blob_saliency(64, 16, seed=3) ** 3
    params = PuzzleMix(NUM_CLASSES, grid_sizes=(grid,), transport_cost=0.1).sample(
        images, labels, torch.Generator().manual_seed(0), saliency
    )
    identity = torch.arange(grid * grid).expand(64, -1)
    for plan in (params.plan, params.partner_plan):
        assert torch.equal(plan.sort(1).values, identity)
    if grid > 2:
        assert bool((params.plan != identity).any())  # cheap transport moves salient blocks


@pytest.mark.parametrize("count", [1, 5, 16, 64])
def test_greedy_assignment_gives_permutations_and_solves_easy_cases(count: int) -> None:
    generator = torch.Generator().manual_seed(count)
    random_cost = torch.rand(32, count, count, generator=generator)
    ties = torch.zeros(2, count, count)
    for cost in (random_cost, ties):
        assert torch.equal(greedy_assignment(cost).sort(1).values, torch.arange(count).expand(len(cost), -1))
    target = torch.randperm(count, generator=generator)
    cost = torch.ones(1, count, count)
    cost[0, target, torch.arange(count)] = 0.0  # position j is free only for source target[j]
    assert torch.equal(greedy_assignment(cost)[0], target)


def salient_block_batch(partner_block: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two 16x16 images on a 4x4 grid (4x4-pixel blocks); each has one salient block with distinct content.

    Image 0 is grey with a white block at (1, 1); image 1 is grey with a black block at ``partner_block``;
    each image's saliency is that block only.
    """
    images = torch.full((2, 1, 16, 16), 0.5)
    saliency = torch.zeros(2, 16, 16)
    images[0, :, 4:8, 4:8] = 1.0
    saliency[0, 4:8, 4:8] = 1.0
    row, col = partner_block
    images[1, :, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4] = 0.0
    saliency[1, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4] = 1.0
    return images, torch.tensor([0, 1]), saliency


def contains_block(image: torch.Tensor, value: float) -> bool:
    blocks = image[0].unfold(0, 4, 4).unfold(1, 4, 4)  # (4, 4, 4, 4)
    return bool((blocks == value).flatten(2).all(-1).any())


def test_labelling_keeps_both_salient_blocks_when_they_do_not_overlap() -> None:
    images, labels, saliency = salient_block_batch(partner_block=(3, 2))
    mixer = PuzzleMix(NUM_CLASSES, alpha=1e3, grid_sizes=(4,), transport=False)  # lam ~ 0.5
    params = mixer.sample(images, labels, torch.Generator().manual_seed(0), saliency)
    assert float(params.mask[0, 1, 1]) == 1.0 and float(params.mask[0, 3, 2]) == 0.0  # z = weight of image 0
    result = mixer.apply(images, labels, params)
    assert contains_block(result.inputs[0], 1.0) and contains_block(result.inputs[0], 0.0)


def test_transport_keeps_both_salient_blocks_when_they_collide() -> None:
    # With 3 labels the energy's optimum for two salient blocks at one place is the all-1/2 mask
    # (a linear saliency term cannot tell "half of both" from "all of one"); 2 labels force a choice.
    images, labels, saliency = salient_block_batch(partner_block=(1, 1))
    kept = {}
    for transport in (True, False):
        mixer = PuzzleMix(NUM_CLASSES, alpha=1e3, grid_sizes=(4,), n_labels=2, transport=transport)
        result = mixer(images, labels, generator=torch.Generator().manual_seed(0), saliency=saliency)
        kept[transport] = contains_block(result.inputs[0], 1.0) + contains_block(result.inputs[0], 0.0)
    assert kept == {True: 2, False: 1}


def test_mix_is_the_mask_blend_of_the_transported_images() -> None:
    images, labels = random_batch(6, 8, seed=4)
    images = images.float() / 255
    saliency = blob_saliency(6, 8, seed=5)
    mixer = PuzzleMix(NUM_CLASSES, grid_sizes=(4,), transport_cost=0.2)
    params = mixer.sample(images, labels, torch.Generator().manual_seed(2), saliency)
    result = mixer.apply(images, labels, params)
    weight = params.mask.repeat_interleave(2, 1).repeat_interleave(2, 2)[:, None]
    moved = permute_blocks(images, params.plan)
    partner_moved = permute_blocks(images[params.index], params.partner_plan)
    torch.testing.assert_close(result.inputs, weight * moved + (1 - weight) * partner_moved)


def test_permute_blocks_inverts() -> None:
    images, _ = random_batch(3, 8)
    plan = torch.stack([torch.randperm(16, generator=torch.Generator().manual_seed(i)) for i in range(3)])
    inverse = plan.argsort(1)
    assert torch.equal(permute_blocks(permute_blocks(images, plan), inverse), images)
    assert torch.equal(permute_blocks(images, torch.arange(16).expand(3, -1)), images)


def test_label_smoothness_shortens_the_mask_boundary() -> None:
    images, labels = random_batch(64, 16, seed=6)
    saliency = torch.rand(64, 16, 16, generator=torch.Generator().manual_seed(7))
    changes = []
    for smoothness in (0.0, 20.0):
        mixer = PuzzleMix(NUM_CLASSES, grid_sizes=(8,), label_smoothness=smoothness, data_smoothness=0.0)
        mask = mixer.sample(images, labels, torch.Generator().manual_seed(0), saliency).mask
        vertical, horizontal = mask[:, 1:] != mask[:, :-1], mask[:, :, 1:] != mask[:, :, :-1]
        changes.append(float(vertical.float().mean() + horizontal.float().mean()))
    assert changes[1] < 0.5 * changes[0]


def test_without_saliency_no_block_moves() -> None:
    images, labels = random_batch(16, 16)
    params = PuzzleMix(NUM_CLASSES, grid_sizes=(4,)).sample(images, labels, torch.Generator().manual_seed(0))
    assert torch.equal(params.plan, torch.arange(16).expand(16, -1))
    assert torch.equal(params.partner_plan, params.plan)


@pytest.mark.parametrize(
    "saliency, error, match",
    [
        (torch.ones(4, 8), InputValueError, r"expected \(4, 8, 8\)"),
        (-torch.ones(4, 8, 8), InputValueError, "negative or non-finite"),
        (torch.ones(4, 8, 8, dtype=torch.int64), InputTypeError, "floating tensor"),
        ([[1.0]], InputTypeError, "floating tensor"),
    ],
)
def test_bad_saliency_raises_one_line(saliency: object, error: type, match: str) -> None:
    images, labels = random_batch(4, 8)
    with pytest.raises(error, match=match) as info:
        PuzzleMix(NUM_CLASSES)(images, labels, torch.Generator().manual_seed(0), saliency)
    assert "\n" not in str(info.value)


def test_grid_that_does_not_divide_the_image_raises() -> None:
    images, labels = random_batch(2, 6)
    with pytest.raises(InputValueError, match=r"no grid size in \(4, 8\) divides 6x6 images"):
        PuzzleMix(NUM_CLASSES, grid_sizes=(4, 8))(images, labels, torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"grid_sizes": ()}, "grid_sizes=()"),
        ({"grid_sizes": (1,)}, "ints >= 2"),
        ({"label_smoothness": -1.0}, "label_smoothness=-1.0"),
        ({"n_labels": 1}, "n_labels=1 must be an int >= 2"),
        ({"sweeps": 0}, "sweeps=0"),
        ({"transport": 1}, "transport=1 must be True or False"),
    ],
)
def test_constructor_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PuzzleMix(NUM_CLASSES, **kwargs)
