"""What a training step sees: the batch of named streams, the step output and the context.

A step's :class:`Batch` holds one :class:`StreamBatch` per stream the method asked for
(``labeled``, ``unlabeled``, ``target``, ...). :class:`TrainContext` gives the method the
model, the optimisers, the earlier phases' models, the run's keys for keyed augmentation, a
logger that reduces scalars per epoch without a host sync per step, and the step timer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from augbench.data.streams import Split
from augbench.errors import ConfigError
from augbench.keyed import KEY_VIEWS, sample_keys
from augbench.metrics.cost import StepTimer
from augbench.modalities import Modality, get_modality

if TYPE_CHECKING:
    from augbench.train.views import PreparedViews

__all__ = ["StreamBatch", "Batch", "StepOutput", "TrainContext", "EpochLog", "KEY_VIEWS", "STREAMS", "stream_keys",
           "stream_batch"]

STREAMS = ("labeled", "unlabeled", "target", "val")
"""The stream names a data spec can provide."""



@dataclass(frozen=True)
class StreamBatch:
    """One stream's part of a step, already on the training device.

    Attributes:
        inputs: ``(B, ...)`` samples in the modality's stored layout (uint8 images, float series),
            not yet augmented or normalised.
        labels: ``(B,)`` int64 labels. Unlabeled and target streams carry them for *logging only*
            (e.g. FixMatch's pseudo-label accuracy); a method's loss must never read them.
        ids: ``(B,)`` int64 indices of the samples in their pool.
        passes: how many full passes over this stream were finished before this batch (the
            epoch for the labeled stream; other streams cycle at their own pace).
        pool_size: number of samples in the stream's pool.
    """

    inputs: Tensor
    labels: Tensor
    ids: Tensor
    passes: int = 0
    pool_size: int = 1

    def __len__(self) -> int:
        return self.inputs.shape[0]


def stream_batch(split: Split, index: Tensor, passes: int, modality: Modality, device: torch.device) -> StreamBatch:
    """The samples ``index`` of a stream's ``split`` as a :class:`StreamBatch` on ``device``, not augmented."""
    return StreamBatch(
        modality.collate(split.inputs, index).to(device), split.labels[index].to(device), split.ids[index].to(device),
        passes=passes, pool_size=split.pool_size,
    )


def key_views(view: int | tuple[int, ...]) -> tuple[int, ...]:
    """``view`` as a tuple of distinct key views in 0..15 (one line naming the fix otherwise)."""
    views = (view,) if isinstance(view, int) else tuple(view)
    if not views or len(set(views)) != len(views) or not all(isinstance(v, int) and 0 <= v < KEY_VIEWS for v in views):
        raise ConfigError(f"view={view!r}: give a key view in 0..{KEY_VIEWS - 1} or a tuple of distinct ones")
    return views


def stream_keys(part: StreamBatch, view: int) -> Tensor:
    """Keys of a stream batch's samples for keyed draws (:func:`augbench.keyed.sample_keys`)."""
    return sample_keys(part.ids, part.passes, part.pool_size, view)


@dataclass(frozen=True)
class Batch:
    """The streams of one step: ``batch["labeled"]``, ``batch["unlabeled"]``, ``batch["target"]``."""

    streams: Mapping[str, StreamBatch]

    @classmethod
    def labeled(cls, inputs: Tensor, labels: Tensor, ids: Tensor | None = None) -> Batch:
        """A batch with one ``labeled`` stream, e.g. to call ``method.training_step`` in your own
        loop; ``ids`` default to ``0..B-1`` (pass dataset indices for keyed augmentation)."""
        ids = torch.arange(labels.shape[0], device=labels.device) if ids is None else ids
        pool = int(ids.max()) + 1 if ids.numel() else 1
        return cls({"labeled": StreamBatch(inputs, labels, ids, passes=0, pool_size=pool)})

    def __getitem__(self, name: str) -> StreamBatch:
        try:
            return self.streams[name]
        except KeyError:
            raise ConfigError(
                f"this batch has no stream {name!r}; it has {', '.join(self.streams)}. "
                "Declare the stream in the method's `streams` so the data spec provides it"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.streams

    def __iter__(self) -> Iterator[str]:
        return iter(self.streams)


@dataclass
class StepOutput:
    """What a training step returns: the loss to minimise (scalars go to ``ctx.log``)."""

    loss: Tensor


class EpochLog:
    """Per-epoch means of logged scalars, accumulated on the device (no host sync per step)."""

    def __init__(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, name: str, value: Tensor | float) -> None:
        """Add one step's value of ``name`` (a 0-d tensor or a float)."""
        value = value.detach().float() if isinstance(value, Tensor) else torch.tensor(float(value))
        self._sums[name] = self._sums[name] + value if name in self._sums else value
        self._counts[name] = self._counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        """The epoch's mean of every name (one host sync per name), then clear."""
        means = {name: float(total) / self._counts[name] for name, total in self._sums.items()}
        self._sums.clear()
        self._counts.clear()
        return means


@dataclass
class TrainContext:
    """Everything a method may use during a phase.

    Attributes:
        model: the network being trained in this phase.
        optimizer: its optimiser; it also holds the parameters of ``modules``.
        device: the training device.
        num_classes: number of classes.
        generator: the run's generator, for draws that are not per sample (a mixing partner
            permutation, a Beta draw per batch). Per-sample augmentation uses :meth:`keys`.
        normalize: maps a stored batch to the float model input (fitted on the training split).
        total_steps: optimiser steps in the phase.
        seed: the run's seed (the seed of keyed draws).
        timer: splits step time into augmentation and the rest; wrap augmentation work in
            ``with ctx.timer.augmentation():`` so the benchmark can report its share.
        modules: extra networks a method creates in ``setup`` (a projection head, a domain
            discriminator, an EMA copy); they move to the device, are saved with the phase and,
            when trainable, join ``optimizer``.
        extra_optimizers: optimisers a method adds in ``setup`` for networks with their own
            objective (a mix block); stepped with the main one after the backward pass.
        models: the trained models of earlier phases by phase name (``ctx.models["teacher"]``).
        batch: the step's batch (set by the loop before ``training_step``).
        epoch: current epoch (0-based); step: optimiser steps taken so far.
        log: per-epoch scalar log, e.g. ``ctx.log.add("mask_rate", mask.mean())``.
        prepared: the keyed views the loop made for the current chunk of steps
            (:mod:`augbench.train.views`); ``ctx.augment`` reads them, ``None`` outside the loop.
        pools: the phase's whole training streams by name, as stored (not augmented), for a
            method that scores every training sample between steps (a coreset selection reads
            them through :meth:`pool_batches`); the phase loop passes the run's streams.
        modality: the data's modality name (how :meth:`pool_batches` collates samples).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    num_classes: int
    generator: torch.Generator
    normalize: Callable[[Tensor], Tensor]
    total_steps: int
    seed: int = 0
    timer: StepTimer = field(default_factory=StepTimer)
    modules: dict[str, nn.Module] = field(default_factory=dict)
    extra_optimizers: list[torch.optim.Optimizer] = field(default_factory=list)
    models: dict[str, nn.Module] = field(default_factory=dict)
    batch: Batch | None = None
    epoch: int = 0
    step: int = 0
    log: EpochLog = field(default_factory=EpochLog)
    prepared: PreparedViews | None = None
    pools: Mapping[str, Split] = field(default_factory=dict)
    modality: str = "image"

    def add_module(self, name: str, module: nn.Module, trainable: bool = True) -> nn.Module:
        """Register an extra network: moved to the device and saved with the phase's weights;
        a ``trainable`` one also joins ``optimizer`` (same settings), a non-trainable one (an
        EMA copy) is only kept. Returns the moved module."""
        module = module.to(self.device)
        self.modules[name] = module
        parameters = [p for p in module.parameters() if p.requires_grad] if trainable else []
        if parameters:
            self.optimizer.add_param_group({"params": parameters})
        return module

    def augment(
        self, transform: Callable[..., Tensor] | None, stream: str = "labeled", view: int | tuple[int, ...] = 0
    ) -> Tensor:
        """The current batch's ``stream`` inputs through ``transform`` with keyed per-sample draws
        (``ctx.keys(stream, view)``), timed as augmentation; the inputs as they are when
        ``transform`` is ``None``. A tuple of views augments the stream once per view in one
        call: ``(V * B, ...)`` rows, view-major.

        When the method declares the view in ``keyed_views``, the loop has made it for a chunk of
        steps in one call and this returns the step's slice (the same bits, see
        :mod:`augbench.train.views`); otherwise the batch is augmented here.
        """
        if self.batch is None:
            raise ConfigError("ctx.augment() is only available inside training_step (no current batch)")
        views = key_views(view)
        if transform is not None and self.prepared is not None:
            made = self.prepared.lookup(transform, stream, views, self.batch)
            if made is not None:
                return made
        inputs = self.batch[stream].inputs
        repeated = inputs if len(views) == 1 else torch.cat([inputs] * len(views))
        if transform is None:
            return repeated
        keys = torch.cat([self.keys(stream, each) for each in views])
        with self.timer.augmentation():
            return transform(repeated, keys=keys, seed=self.seed)

    def pool_batches(self, stream: str = "labeled", batch_size: int = 512) -> Iterator[StreamBatch]:
        """Every sample of ``stream``'s pool in stored order, not augmented, in batches of
        ``batch_size`` on the device (``passes`` is the current epoch): one pass over the whole
        training set, e.g. a forward pass on clean inputs to select a coreset."""
        if stream not in self.pools:
            have = ", ".join(self.pools) or "none"
            raise ConfigError(
                f"ctx.pool_batches: this context has no {stream!r} pool (it has {have}); the phase loop passes the "
                f"run's streams, a hand-built TrainContext needs pools={{{stream!r}: Split(...)}}"
            )
        split = self.pools[stream]
        modality = get_modality(self.modality)
        for index in torch.arange(len(split)).split(batch_size):
            yield stream_batch(split, index, self.epoch, modality, self.device)

    def keys(self, stream: str = "labeled", view: int = 0) -> Tensor:
        """Keys of the current batch's samples for keyed draws: ``(passes * N + ids) * 16 + view``.

        A sample's augmentation then depends on the run's seed, its id, how many passes over
        its stream came before and the view, never on batch order, batch size or executor.
        Use a different ``view`` (0..15) for each independently augmented copy of a sample.
        """
        if self.batch is None:
            raise ConfigError("ctx.keys() is only available inside training_step (no current batch)")
        return stream_keys(self.batch[stream], view)
