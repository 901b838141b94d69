"""The step loop of one training phase, for every protocol.

An epoch follows the labeled stream (a fresh permutation per epoch, batches of
``batch_size``, the last one smaller); every other stream the method reads cycles at its own
pace: ``ratio * batch_size`` unlabeled samples per step, ``batch_size`` target (or validation)
samples, a new permutation whenever a pass is used up. Randomness: the model initialisation comes from
``seed`` (torch's global RNG is forked, callers are unaffected), batch orders from their own
generators, per-sample augmentation from keyed draws (``ctx.keys``), so a run's augmentation
does not depend on batch order, batch size or executor. The views a method declares in
``keyed_views`` are made for a chunk of upcoming steps in one call (:mod:`augbench.train.views`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from augbench.data.streams import RunData, Split
from augbench.errors import ConfigError
from augbench.methods.base import Method
from augbench.metrics.cost import StepTimer
from augbench.modalities import get_modality
from augbench.registry import Spec
from augbench.train.context import Batch, StepOutput, TrainContext, stream_batch
from augbench.train.optim import build_optimizer, build_schedule
from augbench.train.views import PreparedViews, chunk_steps

__all__ = ["PhaseSettings", "PhaseOutcome", "make_context", "fit", "train_step", "check_streams", "probe_batch",
           "step_sizes"]

EpochCallback = Callable[[int], None]
_ORDER_SEED_OFFSETS = {"labeled": 2, "unlabeled": 4, "target": 5}


@dataclass(frozen=True)
class PhaseSettings:
    """How one phase trains.

    Attributes:
        epochs: passes over the labeled stream (0: the model stays at its initialisation).
        batch_size: labeled samples per step.
        ratio: unlabeled samples per labeled sample in a step.
        optimizer, schedule: specs (:mod:`augbench.train.optim`).
        frozen: parameter-name prefixes that are not trained.
    """

    epochs: int
    batch_size: int
    ratio: int = 1
    optimizer: Spec = "sgd"
    schedule: Spec = "cosine"
    frozen: tuple[str, ...] = ()


@dataclass
class PhaseOutcome:
    """A trained phase: its context (model, modules), per-epoch curves and cost figures."""

    ctx: TrainContext
    curves: list[tuple[int, str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def check_streams(method: Method | type[Method], available: Sequence[str], method_name: str) -> None:
    """Raise one line if ``method`` (an instance or its class) reads a stream the data spec does not provide."""
    hints = {"unlabeled": "unlabeled: rest (and labeled_per_class or train_size)", "target": "target: {dataset: NAME}",
             "val": "val_size: N (a validation split held out of the training pool)"}
    for stream in method.streams:
        if stream not in available:
            raise ConfigError(
                f"method {method_name!r} needs the {stream!r} stream, which the data spec does not provide; "
                f"add {hints.get(stream, stream)} to the experiment"
            )


def _trainable(model: nn.Module, frozen: tuple[str, ...]) -> list[nn.Parameter]:
    parameters = []
    for name, parameter in model.named_parameters():
        if any(name == prefix or name.startswith(prefix + ".") for prefix in frozen):
            parameter.requires_grad_(False)
        elif parameter.requires_grad:
            parameters.append(parameter)
    if frozen and not parameters:
        raise ConfigError(f"frozen={list(frozen)} leaves no parameter to train; freeze fewer modules")
    return parameters


def make_context(
    method: Method,
    model: nn.Module,
    data: RunData,
    settings: PhaseSettings,
    *,
    seed: int,
    device: torch.device,
    normalize: Callable[[Tensor], Tensor],
    models: Mapping[str, nn.Module] | None = None,
) -> TrainContext:
    """The context of a phase with its optimiser (and the method's ``setup`` done)."""
    steps_per_epoch = math.ceil(len(data.streams["labeled"]) / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    optimizer = build_optimizer(settings.optimizer, _trainable(model, settings.frozen))
    ctx = TrainContext(
        model=model,
        optimizer=optimizer,
        device=device,
        num_classes=data.num_classes,
        generator=torch.Generator().manual_seed(seed + 1),
        normalize=normalize,
        total_steps=total_steps,
        seed=seed,
        timer=StepTimer(device),
        models=dict(models or {}),
        pools=data.streams,
        modality=data.modality,
    )
    method.setup(ctx)
    return ctx


class _Cycle:
    """Endless batches of one stream: a new permutation whenever a pass is used up."""

    def __init__(self, split: Split, count: int, seed: int) -> None:
        self.split = split
        self.count = min(count, len(split))
        self.generator = torch.Generator().manual_seed(seed)
        self.passes = -1
        self.order = torch.empty(0, dtype=torch.int64)
        self.position = 0

    def next(self) -> tuple[Tensor, int]:
        if self.position + self.count > self.order.numel():
            self.order = torch.randperm(len(self.split), generator=self.generator)
            self.position = 0
            self.passes += 1
        index = self.order[self.position : self.position + self.count]
        self.position += self.count
        return index, self.passes


def step_sizes(method: Method, batch_size: int, ratio: int) -> dict[str, int]:
    """Samples per step of every stream ``method`` reads, ``labeled`` first: ``batch_size``
    labeled (and target) samples, ``ratio * batch_size`` unlabeled."""
    names = ("labeled", *(stream for stream in method.streams if stream != "labeled"))
    return {name: batch_size * (ratio if name == "unlabeled" else 1) for name in names}


def probe_batch(method: Method, data: RunData, settings: PhaseSettings, size: int, device: torch.device) -> Batch:
    """A step's batch of the first ``size`` samples of every stream ``method`` reads
    (``ratio * size`` unlabeled), for a dry step before training."""
    modality = get_modality(data.modality)
    streams = {}
    for name, count in step_sizes(method, size, settings.ratio).items():
        split = data.streams[name]
        streams[name] = stream_batch(split, torch.arange(min(len(split), count)), 0, modality, device)
    return Batch(streams)


def _sample_bytes(split: Split) -> int:
    """Stored bytes of one sample of a split."""
    return max(1, split.inputs[0].numel() * split.inputs.element_size()) if len(split) else 1


def train_step(method: Method, batch: Batch, ctx: TrainContext) -> StepOutput:
    """One optimiser step exactly as the loop runs it (timed, all optimisers stepped); returns
    the method's output."""
    ctx.batch = batch
    with ctx.timer.step(len(batch["labeled"])):
        output = method.training_step(batch, ctx)
        optimizers = [ctx.optimizer, *ctx.extra_optimizers]
        for each in optimizers:
            each.zero_grad(set_to_none=True)
        output.loss.backward()
        for each in optimizers:
            each.step()
    ctx.log.add("train_loss", output.loss)
    ctx.step += 1
    method.on_after_step(ctx)
    return output


def fit(
    method: Method,
    ctx: TrainContext,
    data: RunData,
    settings: PhaseSettings,
    *,
    seed: int,
    on_epoch: EpochCallback | None = None,
) -> PhaseOutcome:
    """Train ``ctx.model`` with ``method`` for ``settings.epochs`` epochs.

    Returns:
        The outcome: per-epoch means of every logged scalar (``train_loss`` and what the method
        logs) as curves, and cost figures (``train_time_s``, ``augmentation_time_s``,
        ``step_time_s``, ``train_samples``).
    """
    labeled = data.streams["labeled"]
    order = torch.Generator().manual_seed(seed + _ORDER_SEED_OFFSETS["labeled"])
    sizes = step_sizes(method, settings.batch_size, settings.ratio)
    cycles = {
        name: _Cycle(data.streams[name], size, seed + _ORDER_SEED_OFFSETS.get(name, 6))
        for name, size in sizes.items() if name != "labeled"
    }
    views = tuple(method.keyed_views())
    chunk = chunk_steps(views, sizes, {name: _sample_bytes(data.streams[name]) for name in sizes}) \
        if views else 1
    schedule = build_schedule(settings.schedule, ctx.optimizer, ctx.total_steps) if ctx.total_steps else None
    curves: list[tuple[int, str, float]] = []
    modality = get_modality(data.modality)
    ctx.model.train()
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        ctx.epoch = epoch
        indices = torch.randperm(len(labeled), generator=order).split(settings.batch_size)
        for first in range(0, len(indices), chunk):
            batches = []
            for index in indices[first : first + chunk]:
                streams = {"labeled": stream_batch(labeled, index, epoch, modality, ctx.device)}
                for name, cycle in cycles.items():
                    other, passes = cycle.next()
                    streams[name] = stream_batch(data.streams[name], other, passes, modality, ctx.device)
                batches.append(Batch(streams))
            ctx.prepared = PreparedViews(views, batches, seed, ctx.timer) if views else None
            for batch in batches:
                train_step(method, batch, ctx)
                if schedule is not None:
                    schedule.step()
        method.on_epoch_end(ctx)
        curves.extend((epoch, name, value) for name, value in ctx.log.means().items())
        if on_epoch is not None:
            on_epoch(epoch)
    ctx.prepared = None
    ctx.batch = None
    elapsed = time.perf_counter() - started
    cost = ctx.timer.summary()
    metrics = {
        "train_time_s": elapsed,
        "step_time_s": cost.step_time_s,
        "augmentation_time_s": cost.augmentation_time_s,
        "train_samples": float(len(labeled) * settings.epochs),
    }
    return PhaseOutcome(ctx, curves, metrics)
