"""Train one run (dataset x model x method x seed) and evaluate it on the held-out split."""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

import augbench
from augbench.bench.config import RunConfig
from augbench.bench.data import prepare_data
from augbench.bench.evaluation import evaluate
from augbench.bench.recipes import build_recipe
from augbench.methods import Batch, TrainContext
from augbench.metrics import StepTimer, peak_memory_bytes, reset_peak_memory
from augbench.models import build_model

__all__ = ["RunResult", "train_run", "environment"]

EpochCallback = Callable[[int], None]


@dataclass
class RunResult:
    """The outcome of one finished run.

    Attributes:
        config: the run's resolved config.
        metrics: final scalars: ``test_accuracy`` in [0, 1], ``test_nll``, ``test_ece``, the asked-for
            robustness (``test_corruption_accuracy``, ``test_fgsm_accuracy``, ``test_pgd_accuracy``),
            ``val_*`` with a validation split, and cost (``train_images_per_s``,
            ``augmentation_time_fraction``, ``peak_memory_mb``, ``wall_time_s``).
        curves: per-epoch ``(epoch, name, value)`` triples (``train_loss``).
        environment: library versions and device.
        artifacts: structured results (JSON-ready), e.g. the reliability diagram.
    """

    config: RunConfig
    metrics: dict[str, float]
    curves: list[tuple[int, str, float]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and device, stored with every result."""
    return {
        "augbench": augbench.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }


def _normalizer(train_images: Tensor, device: torch.device) -> Callable[[Tensor], Tensor]:
    """uint8 -> float ``(x / 255 - mean) / std`` with per-channel statistics of the training split."""
    pixels = train_images.double().div(255).transpose(0, 1).reshape(train_images.shape[1], -1)
    mean = pixels.mean(1).float().view(1, -1, 1, 1).to(device)
    std = pixels.std(1).float().clamp(min=1e-6).view(1, -1, 1, 1).to(device)

    def normalize(images: Tensor) -> Tensor:
        return (images.float().div(255) - mean) / std

    return normalize


def train_run(
    config: RunConfig, device: torch.device | str = "cpu", on_epoch: EpochCallback | None = None
) -> RunResult:
    """Train and evaluate one run; deterministic for a given config on the CPU.

    The training subset, the model initialisation, the batch order and the augmentation draws
    are all seeded from ``config.seed`` (torch's global RNG is forked, so callers are
    unaffected).

    Args:
        config: the run.
        device: training device.
        on_epoch: called with the epoch number after each epoch (progress bars).
    """
    device = torch.device(device)
    started = time.perf_counter()
    data = prepare_data(config)
    method = build_recipe(config.method, data.image_shape, data.num_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_model(
            config.model, in_channels=data.image_shape[0], num_classes=data.num_classes, image_size=data.image_shape[1:]
        ).to(device)
    train_count = data.train_labels.shape[0]
    steps_per_epoch = math.ceil(train_count / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    )
    ctx = TrainContext(
        model=model,
        optimizer=optimizer,
        device=device,
        num_classes=data.num_classes,
        generator=torch.Generator().manual_seed(config.seed + 1),
        normalize=_normalizer(data.train_images, device),
        total_steps=total_steps,
        timer=StepTimer(device),
    )
    reset_peak_memory(device)
    method.setup(ctx)
    order_generator = torch.Generator().manual_seed(config.seed + 2)
    curves: list[tuple[int, str, float]] = []
    model.train()
    training_started = time.perf_counter()
    for epoch in range(config.epochs):
        ctx.epoch = epoch
        loss_sum = torch.zeros((), device=device)
        for index in torch.randperm(train_count, generator=order_generator).split(config.batch_size):
            batch = Batch(
                data.train_images[index].to(device), data.train_labels[index].to(device), data.train_ids[index].to(device)
            )
            with ctx.timer.step(index.numel()):
                output = method.training_step(batch, ctx)
                optimizers = [optimizer, *ctx.extra_optimizers]
                for each in optimizers:
                    each.zero_grad(set_to_none=True)
                output.loss.backward()
                for each in optimizers:
                    each.step()
            schedule.step()
            ctx.step += 1
            method.on_after_step(ctx)
            loss_sum += output.loss.detach()
        method.on_epoch_end(ctx)
        curves.append((epoch, "train_loss", float(loss_sum) / steps_per_epoch))
        if on_epoch is not None:
            on_epoch(epoch)
    training_time = time.perf_counter() - training_started
    test_metrics, artifacts = evaluate(method, ctx, data.test_images, data.test_labels, config.evaluations, config.seed)
    metrics = {f"test_{name}": value for name, value in test_metrics.items()}
    if data.val_labels.numel():
        val_metrics, _ = evaluate(method, ctx, data.val_images, data.val_labels, (), config.seed)
        metrics.update({f"val_{name}": value for name, value in val_metrics.items()})
    cost = ctx.timer.summary()
    metrics["train_images_per_s"] = train_count * config.epochs / training_time
    metrics["augmentation_time_fraction"] = cost.augmentation_fraction
    metrics["peak_memory_mb"] = peak_memory_bytes(device) / 2**20
    metrics["wall_time_s"] = time.perf_counter() - started
    return RunResult(config, metrics, curves, environment(device), artifacts)
