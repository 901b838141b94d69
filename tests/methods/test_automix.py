"""AutoMix card: a Mix Block on momentum-encoder features learns lam-true, spatially structured masks."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
import torch
from torch import nn

from augbench.errors import ConfigError
from augbench.methods import AutoMix, MethodContext, build_method
from augbench.train.context import Batch, TrainContext
from augbench.methods.automix import MixBlock
from augbench.models.ema import cosine_momentum

HARNESS_MOMENTUM = (0.9, 0.999999)  # the "automix" recipe's EMA ramp for the digits harness


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


@pytest.fixture(scope="module")
def trained(trained_automix: tuple[AutoMix, TrainContext]) -> AutoMix:
    return trained_automix[0]


def held_out_masks(method: AutoMix, digits, ctx: TrainContext) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks on 300 test digits for lam spread over [0.1, 0.9] (the classifier branch's range)."""
    generator = torch.Generator().manual_seed(11)
    images = ctx.normalize(digits.test_images[:300])
    lam = torch.linspace(0.1, 0.9, 300)[torch.randperm(300, generator=generator)]
    index = torch.randperm(300, generator=generator)
    with torch.no_grad():
        masks = method.masks(method.features(images), index, lam, (8, 8))
    return masks, lam


def test_mean_mask_tracks_lambda(trained: AutoMix, digits, make_context) -> None:
    masks, lam = held_out_masks(trained, digits, make_context())
    assert masks.shape == (300, 1, 8, 8) and masks.dtype == torch.float32
    kept = 1.0 - masks.mean(dim=(1, 2, 3))  # share of the unshuffled sample's pixels
    assert (kept - lam).abs().mean() < 0.1  # the card's diagnostic
    for low, high in [(0.1, 0.3), (0.7, 0.9)]:  # no regression towards 0.5 at the ends
        band = (lam >= low) & (lam <= high)
        assert (kept[band] - lam[band]).mean().abs() < 0.1


def test_masks_are_spatially_structured(trained: AutoMix, digits, make_context) -> None:
    masks, lam = held_out_masks(trained, digits, make_context())
    spatial_std = masks.flatten(1).std(dim=1)
    assert spatial_std.mean() > 0.05  # not Mixup's constant mask (the card's falsifier)
    assert (masks.flatten(1).amax(1) - masks.flatten(1).amin(1)).mean() > 0.2
    # the mask depends on the images, not only on lam: same lam, other pairs -> other masks
    images = make_context().normalize(digits.test_images[:64])
    features = trained.features(images)
    same_lam = torch.full((64,), 0.5)
    with torch.no_grad():
        first = trained.masks(features, torch.arange(64).roll(1), same_lam, (8, 8))
        second = trained.masks(features, torch.arange(64).roll(2), same_lam, (8, 8))
    assert (first - second).abs().mean() > 0.015


def test_untrained_block_starts_at_mixup_mask() -> None:
    torch.manual_seed(0)
    block = MixBlock(channels=4)
    for module in (block.query, block.key, block.value):
        nn.init.zeros_(module.weight)
        nn.init.zeros_(module.bias)
    lam = torch.tensor([0.1, 0.5, 0.8])
    masks = block(torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2), lam, (4, 6))
    assert masks.shape == (3, 1, 4, 6)
    torch.testing.assert_close(masks, (1 - lam).view(3, 1, 1, 1).expand(3, 1, 4, 6))


def test_momentum_encoder_follows_the_ema_rule(make_context, train_step, digits) -> None:
    ctx = make_context(total_steps=10)
    method = AutoMix(momentum=(0.5, 0.9))
    method.setup(ctx)
    batch = Batch.labeled(digits.train_images[:50], digits.train_labels[:50], torch.arange(50))
    for _ in range(3):
        before = [p.clone() for p in method.encoder.model.parameters()]
        train_step(method, batch, ctx)  # steps, then calls on_after_step with ctx.step
        m = cosine_momentum(ctx.step, 10, 0.5, 0.9)
        for old, new, online in zip(before, method.encoder.model.parameters(), ctx.model.parameters()):
            torch.testing.assert_close(new, m * old + (1 - m) * online.detach())
    assert not any(p.requires_grad for p in method.encoder.model.parameters())
    assert cosine_momentum(0, 10, 0.5, 0.9) == pytest.approx(0.5)
    assert cosine_momentum(5, 10, 0.5, 0.9) == pytest.approx(0.7)
    assert cosine_momentum(10, 10, 0.5, 0.9) == pytest.approx(0.9)


def test_losses_reach_disjoint_parameters(make_context, digits) -> None:
    ctx = make_context()
    method = AutoMix()
    method.setup(ctx)
    with ctx.timer.step(50):
        losses = method.losses(Batch.labeled(digits.train_images[:50], digits.train_labels[:50], torch.arange(50)), ctx)
    block = list(method.block.parameters())
    model = list(ctx.model.parameters())
    assert all(g is None for g in torch.autograd.grad(losses.classifier, block, retain_graph=True, allow_unused=True))
    assert all(g is None for g in torch.autograd.grad(losses.mix_block, model, retain_graph=True, allow_unused=True))
    assert all(g is not None for g in torch.autograd.grad(losses.mix_block, block, retain_graph=True))
    assert all(g is not None for g in torch.autograd.grad(losses.classifier, model))
    assert ctx.extra_optimizers == [method.block_optimizer]
    main_params = {id(p) for group in ctx.optimizer.param_groups for p in group["params"]}
    assert not main_params & {id(p) for p in block}


@pytest.mark.parametrize("frozen", ["main", "mix_block"])
def test_each_network_changes_only_through_its_optimiser(frozen: str, make_context, train_step, digits) -> None:
    ctx = make_context()
    method = AutoMix()
    method.setup(ctx)
    optimizer = ctx.optimizer if frozen == "main" else method.block_optimizer
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    model_before = [p.clone() for p in ctx.model.parameters()]
    block_before = [p.clone() for p in method.block.parameters()]
    batch = Batch.labeled(digits.train_images[:50], digits.train_labels[:50], torch.arange(50))
    loss = float(train_step(method, batch, ctx).loss.detach())
    model_moved = any(not torch.equal(a, b) for a, b in zip(model_before, ctx.model.parameters()))
    block_moved = any(not torch.equal(a, b) for a, b in zip(block_before, method.block.parameters()))
    assert (model_moved, block_moved) == ((False, True) if frozen == "main" else (True, False))
    assert math.isfinite(loss)


def test_seeded_steps_are_deterministic(make_context, digits) -> None:
    batch = Batch.labeled(digits.train_images[:50], digits.train_labels[:50], torch.arange(50))
    values = []
    for _ in range(2):
        ctx = make_context(seed=3)
        method = AutoMix()
        method.setup(ctx)
        ctx.batch = batch
        with ctx.timer.step(50):
            output = method.training_step(batch, ctx)
        values.append((float(output.loss.detach()), ctx.log.means()))
    assert values[0] == values[1]


def test_recipe_builds_automix_for_the_harness_stage() -> None:
    method = build_method("automix", MethodContext(10, (1, 8, 8)))
    assert isinstance(method, AutoMix) and method.feature_stage == 1 and method.momentum == HARNESS_MOMENTUM


@pytest.mark.parametrize(
    "options",
    [
        {"alpha": 0.0},
        {"feature_stage": -1},
        {"momentum": (0.9, 1.5)},
        {"mask_weight": -0.1},
        {"lam_margin": 0.5},
        {"mix_lr": 0.0},
    ],
)
def test_bad_options_raise(options: dict) -> None:
    with pytest.raises(ConfigError):
        AutoMix(**options)


def test_setup_rejects_models_without_stages(make_context) -> None:
    ctx = make_context()
    ctx.model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(ConfigError, match="StagedModel"):
        AutoMix().setup(ctx)
    with pytest.raises(ConfigError, match="past the model"):
        AutoMix(feature_stage=3).setup(make_context())
