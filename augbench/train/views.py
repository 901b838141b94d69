"""Keyed views made for several upcoming steps in one call.

A keyed view is an augmentation that depends only on a sample, its key and the run's seed,
never on the model (a supervised pipeline, FixMatch's weak and strong views, SimCLR's two
views). Per-sample keyed draws make ``transform(cat(x1, x2)) == cat(transform(x1),
transform(x2))`` bit for bit, so the loop can make a view for a *chunk* of upcoming steps in
one batched call and hand each step its slice: the same bits as one call per step, with the
per-call dispatch cost (dominant on small images and batches) paid once per chunk. The call
happens inside the first step of the chunk that reads the view and is timed as augmentation,
so the reported augmentation share stays honest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from augbench.metrics.cost import StepTimer
from augbench.train.context import Batch, key_views, stream_keys

__all__ = ["KeyedView", "PreparedViews", "CHUNK_SAMPLES", "CHUNK_BYTES", "chunk_steps"]

CHUNK_SAMPLES = 1024
"""Samples per view call at most: beyond this the per-sample cost no longer falls."""

CHUNK_BYTES = 64 * 2**20
"""Stored input bytes per view call at most (about 430 samples of 3x224x224 uint8)."""


@dataclass(frozen=True)
class KeyedView:
    """One model-free view a method's step reads through ``ctx.augment(transform, stream, view)``.

    Attributes:
        transform: a keyed engine transform (called as ``transform(x, keys=, seed=)``).
        stream: the stream it augments.
        view: the key view (0..15) that keeps it independent of the sample's other views, or a
            tuple of key views: the stream repeated once per view, augmented in one call, rows
            view-major (SimCLR's two views are ``view=(1, 2)``: rows ``b`` and ``B + b``).
    """

    transform: Callable[..., Tensor]
    stream: str = "labeled"
    view: int | tuple[int, ...] = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", key_views(self.view))

    @property
    def slot(self) -> tuple[int, str, tuple[int, ...]]:
        """What identifies the view in a step: the transform object, the stream and the key views."""
        return id(self.transform), self.stream, key_views(self.view)


def chunk_steps(views: Sequence[KeyedView], step_sizes: dict[str, int], sample_bytes: dict[str, int]) -> int:
    """How many steps one view call covers: the most that keeps every view's call within
    :data:`CHUNK_SAMPLES` samples and :data:`CHUNK_BYTES` bytes (at least one step).

    Args:
        views: the method's keyed views.
        step_sizes: samples per step of each stream.
        sample_bytes: stored bytes of one sample of each stream.
    """
    steps = CHUNK_SAMPLES
    for view in views:
        size = max(1, step_sizes[view.stream])
        budget = min(CHUNK_SAMPLES, CHUNK_BYTES // max(1, sample_bytes[view.stream]))
        steps = min(steps, budget // size)
    return max(1, steps)


class PreparedViews:
    """The keyed views of a chunk of steps, made on first use (one call per view, timed).

    Args:
        views: the method's keyed views.
        batches: the chunk's batches in step order.
        seed: the run's seed of keyed draws.
        timer: the phase's step timer (the call counts as augmentation of the step that makes it).
    """

    def __init__(self, views: Sequence[KeyedView], batches: Sequence[Batch], seed: int, timer: StepTimer) -> None:
        self._views = {view.slot: view for view in views}
        self._positions = {id(batch): position for position, batch in enumerate(batches)}
        self._batches = list(batches)
        self._seed = seed
        self._timer = timer
        self._made: dict[tuple[int, str, int], list[Tensor]] = {}

    def lookup(
        self, transform: Callable[..., Tensor], stream: str, view: int | tuple[int, ...], batch: Batch
    ) -> Tensor | None:
        """The prepared view of ``batch``, or ``None`` when the method did not declare it or
        ``batch`` is not one of the chunk's (the caller then augments the batch itself)."""
        slot = (id(transform), stream, key_views(view))
        position = self._positions.get(id(batch))
        if slot not in self._views or position is None:
            return None
        if slot not in self._made:
            with self._timer.augmentation():
                self._made[slot] = self._make(self._views[slot])
        return self._made[slot][position]

    def _make(self, view: KeyedView) -> list[Tensor]:
        parts = [batch[view.stream] for batch in self._batches]
        views = key_views(view.view)
        inputs = torch.cat([part.inputs for part in parts for _ in views])
        keys = torch.cat([stream_keys(part, each) for part in parts for each in views])
        made = view.transform(inputs, keys=keys, seed=self._seed)
        return list(made.split([len(part) * len(views) for part in parts]))
