"""Manifold Mixup card (augbench/methods/manifold_mixup.py): hidden-state mixing at a drawn stage."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as nnf
from torch import nn

from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods import ManifoldMixup, MixSupervised, MethodContext, build_method
from augbench.train.context import Batch, TrainContext
from augbench.mix import CutMix, Mixup
from augbench.models import HarnessCNN

NUM_CLASSES = 10


def make_ctx(model: nn.Module, seed: int = 0) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(seed),
        normalize=lambda images: (images.float() / 255 - 0.3) / 0.4,
        total_steps=10,
    )


def make_model() -> HarnessCNN:
    torch.manual_seed(0)
    return HarnessCNN(in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))


def make_batch(batch: int = 12) -> Batch:
    generator = torch.Generator().manual_seed(batch)
    images = torch.randint(0, 256, (batch, 1, 8, 8), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (batch,), generator=generator)
    return Batch.labeled(images, labels, torch.arange(batch))


@pytest.mark.parametrize("seed", range(4))
def test_input_point_reproduces_mixup_draw_for_draw(seed: int) -> None:
    model, batch = make_model(), make_batch()
    mixup_ctx = make_ctx(model, seed)
    mixup_ctx.batch = batch  # as the loop's train_step sets it
    mixup = MixSupervised(Mixup(NUM_CLASSES, alpha=2.0)).training_step(batch, mixup_ctx)
    manifold_ctx = make_ctx(model, seed)
    manifold = ManifoldMixup(Mixup(NUM_CLASSES, alpha=2.0), points=(0,)).training_step(batch, manifold_ctx)
    assert torch.equal(manifold.loss, mixup.loss)
    assert manifold_ctx.log.means()["mixing_point"] == 0.0


@pytest.mark.parametrize("points", [(0,), (1,), (2,), (0, 1)])
def test_tiny_alpha_is_plain_training(points: tuple[int, ...]) -> None:
    model, batch = make_model(), make_batch()
    ctx = make_ctx(model)
    method = ManifoldMixup(Mixup(NUM_CLASSES, alpha=1e-3, per_sample=False), points=points)
    method.setup(ctx)
    for _ in range(3):
        loss = method.training_step(batch, ctx).loss
        plain = nnf.cross_entropy(model(ctx.normalize(batch["labeled"].inputs)), batch["labeled"].labels)
        torch.testing.assert_close(loss, plain)


def test_hidden_point_mixes_the_stage_output_with_lam_on_the_unshuffled_sample() -> None:
    model, batch = make_model(), make_batch()
    mixer = Mixup(NUM_CLASSES, alpha=2.0)
    loss = ManifoldMixup(mixer, points=(1,)).training_step(batch, make_ctx(model, seed=5)).loss
    params = mixer.sample(batch["labeled"].inputs, batch["labeled"].labels, generator=torch.Generator().manual_seed(5))  # the same draw
    lam, index = params.lam, params.index
    hidden = model.forward_features(make_ctx(model).normalize(batch["labeled"].inputs), stop_at=1)
    mixed = lam.view(-1, 1, 1, 1) * hidden + (1 - lam.view(-1, 1, 1, 1)) * hidden[index]
    one_hot = nnf.one_hot(batch["labeled"].labels, NUM_CLASSES).float()
    targets = lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[index]
    expected = soft_cross_entropy(model.forward_from(mixed, start_at=1), targets)
    torch.testing.assert_close(loss, expected)


def test_point_is_drawn_uniformly_once_per_batch_and_gradients_reach_the_first_stage() -> None:
    model, batch = make_model(), make_batch(batch=4)
    ctx = make_ctx(model)
    method = ManifoldMixup(Mixup(NUM_CLASSES), points=(0, 1, 2))
    with torch.no_grad():
        counts = torch.bincount(
            torch.tensor([_mixing_point(method, batch, ctx) for _ in range(300)]), minlength=3
        )
    assert bool((counts > 70).all()), counts
    output = method.training_step(batch, ctx)
    output.loss.backward()
    assert model.stages["conv1"][0].weight.grad is not None


def _mixing_point(method: ManifoldMixup, batch: Batch, ctx: TrainContext) -> int:
    method.training_step(batch, ctx)
    return int(ctx.log.means()["mixing_point"])


def test_recipe_is_the_card_harness() -> None:
    method = build_method("manifold_mixup", MethodContext(NUM_CLASSES, (1, 8, 8)))
    assert isinstance(method, ManifoldMixup) and method.points == (0, 1) and method.mixer.alpha == 2.0
    assert method.spec["points"] == [0, 1] and method.spec["mixer"]["alpha"] == 2.0


def test_model_without_stages_raises_one_line() -> None:
    ctx = make_ctx(nn.Sequential(nn.Flatten(), nn.Linear(64, NUM_CLASSES)))
    with pytest.raises(ConfigError, match="has no stages to mix between; use a StagedModel") as info:
        ManifoldMixup(Mixup(NUM_CLASSES)).setup(ctx)
    assert "\n" not in str(info.value)


def test_points_beyond_the_stages_raise() -> None:
    with pytest.raises(ConfigError, match=r"exceed the 2 stages of HarnessCNN \(conv1, conv2\); use points in 0..2"):
        ManifoldMixup(Mixup(NUM_CLASSES), points=(0, 3)).setup(make_ctx(make_model()))


@pytest.mark.parametrize("points", [(), (0, 0), (-1,), (1.0,), "01", (True,)])
def test_bad_points_raise(points: object) -> None:
    with pytest.raises(ConfigError, match="must be distinct mixing points >= 0"):
        ManifoldMixup(Mixup(NUM_CLASSES), points=points)


def test_only_mixup_can_mix_hidden_states() -> None:
    with pytest.raises(ConfigError, match="mixer must be a Mixup"):
        ManifoldMixup(CutMix(NUM_CLASSES))
