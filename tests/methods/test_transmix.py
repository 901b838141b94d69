"""TransMix training (augbench/methods/transmix.py): relabelling from the mixed batch's own attention."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods import TransMixSupervised, MethodContext, build_method
from augbench.train.context import Batch, TrainContext
from augbench.mix import TransMix
from augbench.models import HarnessCNN, VisionTransformer

NUM_CLASSES = 4


def make_ctx(model: torch.nn.Module, seed: int = 0) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(seed),
        normalize=lambda images: images.float() / 255 - 0.5,
        total_steps=10,
    )


def tiny_vit() -> VisionTransformer:
    torch.manual_seed(0)
    return VisionTransformer(
        in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8), patch_size=2, dim=16, depth=2, heads=2
    )


def make_batch(batch: int = 6) -> Batch:
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (batch, 1, 8, 8), dtype=torch.uint8, generator=generator)
    return Batch.labeled(images, torch.randint(0, NUM_CLASSES, (batch,), generator=generator), torch.arange(batch))


def test_step_uses_the_attention_of_the_mixed_batch_on_the_patch_grid() -> None:
    model, batch = tiny_vit(), make_batch()
    mixer = TransMix(NUM_CLASSES, switch_prob=1.0, attention_weight=1.0)
    method = TransMixSupervised(mixer)
    ctx = make_ctx(model, seed=3)
    method.setup(ctx)
    output = method.training_step(batch, ctx)
    params = mixer.sample(batch["labeled"].inputs, batch["labeled"].labels, generator=torch.Generator().manual_seed(3))  # the same draw
    mixed = mixer.apply(batch["labeled"].inputs, batch["labeled"].labels, params)
    logits, attention = model(ctx.normalize(mixed.inputs), return_attention=True)
    head_mean = attention.detach().mean(1).view(6, 4, 4)  # rows x cols of 2x2 patches
    rows = torch.arange(8)
    inside = (
        (rows[None, :, None] >= params.top[:, None, None])
        & (rows[None, :, None] < (params.top + params.height)[:, None, None])
        & (rows[None, None, :] >= params.left[:, None, None])
        & (rows[None, None, :] < (params.left + params.width)[:, None, None])
    ).float()
    coverage = inside.view(6, 4, 2, 4, 2).mean((2, 4))
    lam = 1 - (head_mean * coverage).sum((1, 2)) / head_mean.sum((1, 2))
    one_hot = torch.nn.functional.one_hot(batch["labeled"].labels, NUM_CLASSES).float()
    targets = lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[params.index]
    torch.testing.assert_close(output.loss, soft_cross_entropy(logits, targets))
    assert ctx.log.means()["mean_lam"] == pytest.approx(float(lam.mean()), abs=1e-6)
    output.loss.backward()
    assert model.stages["embed"].projection.weight.grad is not None


def test_recipe_needs_a_vit_and_says_how_to_get_one() -> None:
    method = build_method("transmix", MethodContext(NUM_CLASSES, (1, 8, 8)))
    assert isinstance(method, TransMixSupervised)
    assert method.mixer.attention_weight == 0.5 and method.mixer.switch_prob == 0.8
    with pytest.raises(ConfigError, match=r"the model is HarnessCNN; train it with model vit_tiny") as info:
        method.setup(make_ctx(HarnessCNN(num_classes=NUM_CLASSES)))
    assert "\n" not in str(info.value)


def test_mixer_must_be_transmix() -> None:
    with pytest.raises(ConfigError, match="mixer must be a TransMix"):
        TransMixSupervised(object())
