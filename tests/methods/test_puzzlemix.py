"""PuzzleMix training (augbench/methods/puzzlemix.py): eval-mode input-gradient saliency feeds the mixer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods import PuzzleMixSupervised, MethodContext, build_method
from augbench.train.context import Batch, TrainContext
from augbench.methods.puzzlemix import input_gradient_saliency
from augbench.mix import PuzzleMix
from augbench.mix.puzzlemix import SIMPLIFICATIONS
from augbench.models import HarnessCNN

NUM_CLASSES = 10


def make_ctx(model: nn.Module, seed: int = 0) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(seed),
        normalize=lambda images: images.float() / 255 - 0.5,
        total_steps=10,
    )


def make_batch(batch: int = 8) -> Batch:
    generator = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (batch, 1, 8, 8), dtype=torch.uint8, generator=generator)
    return Batch.labeled(images, torch.randint(0, NUM_CLASSES, (batch,), generator=generator), torch.arange(batch))


def test_saliency_is_the_input_gradient_magnitude_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(256, NUM_CLASSES))
    model.train()
    inputs = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(5)
    running_mean = model[1].running_mean.clone()
    saliency = input_gradient_saliency(model, inputs, labels)
    assert model.training and torch.equal(model[1].running_mean, running_mean)  # eval mode, then restored
    assert all(parameter.grad is None for parameter in model.parameters())
    model.eval()
    leaf = inputs.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(leaf), labels, reduction="sum").backward()
    torch.testing.assert_close(saliency, leaf.grad.pow(2).mean(1).sqrt())
    assert saliency.shape == (5, 8, 8) and not saliency.requires_grad


def test_step_mixes_with_the_model_saliency() -> None:
    torch.manual_seed(0)
    model, batch = HarnessCNN(num_classes=NUM_CLASSES), make_batch()
    mixer = PuzzleMix(NUM_CLASSES, grid_sizes=(2, 4))
    ctx = make_ctx(model, seed=4)
    output = PuzzleMixSupervised(mixer).training_step(batch, ctx)
    saliency = input_gradient_saliency(model, ctx.normalize(batch["labeled"].inputs), batch["labeled"].labels)
    mixed = mixer(batch["labeled"].inputs, batch["labeled"].labels, generator=torch.Generator().manual_seed(4), saliency=saliency)
    torch.testing.assert_close(output.loss, soft_cross_entropy(model(ctx.normalize(mixed.inputs)), mixed.targets))
    assert 0.0 <= ctx.log.means()["mean_lam"] <= 1.0
    output.loss.backward()
    assert model.stages["conv1"][0].weight.grad is not None


def test_recipe_uses_the_harness_grid_and_reports_its_simplifications() -> None:
    method = build_method("puzzlemix", MethodContext(NUM_CLASSES, (1, 8, 8)))
    assert isinstance(method, PuzzleMixSupervised) and method.mixer.grid_sizes == (2, 4)
    assert build_method("puzzlemix", MethodContext(NUM_CLASSES, (3, 32, 32))).mixer.grid_sizes == (2, 4, 8, 16)
    assert all(item in PuzzleMixSupervised.__doc__ for item in SIMPLIFICATIONS)


def test_mixer_must_be_puzzlemix() -> None:
    with pytest.raises(ConfigError, match="mixer must be a PuzzleMix"):
        PuzzleMixSupervised(object())
