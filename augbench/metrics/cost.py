"""Training cost: wall time split into augmentation vs the rest of the step, throughput, peak memory.

Usage in a training loop::

    timer = StepTimer(device)
    for images, labels in loader:
        with timer.step(batch_size=len(images)):
            with timer.augmentation():
                images = augment(images)
            loss = train_step(images, labels)
    timer.summary().as_metrics()  # augmentation_fraction, images_per_s, ...

On CUDA devices the timer synchronises the device at every region boundary, so that
asynchronous kernels are charged to the region that launched them (this adds a little
overhead; on the CPU there is nothing to synchronise).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch

from augbench.errors import InputValueError

__all__ = ["CostSummary", "StepTimer", "peak_memory_bytes", "reset_peak_memory"]


@dataclass(frozen=True)
class CostSummary:
    """Totals of a :class:`StepTimer`.

    Attributes:
        steps: timed steps.
        images: images processed in them.
        step_time_s: total wall time inside steps, seconds.
        augmentation_time_s: part of ``step_time_s`` inside augmentation regions, seconds.
        augmentation_fraction: ``augmentation_time_s / step_time_s`` in [0, 1] (0 when no
            time was measured).
        images_per_s: ``images / step_time_s`` (0 when no time was measured).
    """

    steps: int
    images: int
    step_time_s: float
    augmentation_time_s: float
    augmentation_fraction: float
    images_per_s: float

    def as_metrics(self) -> dict[str, float]:
        """The fields as a flat ``{name: float}`` dict, for the results store."""
        return {name: float(value) for name, value in asdict(self).items()}


class StepTimer:
    """Accumulates the wall time of training steps and of the augmentation inside them.

    Args:
        device: the training device; CUDA devices are synchronised at region boundaries.
        clock: seconds as a float (default ``time.perf_counter``); tests pass a fake clock.
    """

    def __init__(self, device: torch.device | str = "cpu", clock: Callable[[], float] = time.perf_counter) -> None:
        self.device = torch.device(device)
        self._clock = clock
        self._in_step = False
        self._in_augmentation = False
        self.reset()

    def reset(self) -> None:
        """Zero all totals."""
        self._steps = 0
        self._images = 0
        self._step_time = 0.0
        self._augmentation_time = 0.0

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return self._clock()

    @contextmanager
    def step(self, batch_size: int) -> Iterator[None]:
        """Time one training step of ``batch_size`` images (steps do not nest)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
            raise InputValueError(f"StepTimer.step: batch_size={batch_size!r} must be an int >= 0")
        if self._in_step:
            raise InputValueError("StepTimer.step: steps do not nest; close the current step first")
        self._in_step = True
        started = self._now()
        try:
            yield
        finally:
            self._step_time += self._now() - started
            self._steps += 1
            self._images += batch_size
            self._in_step = False

    @contextmanager
    def augmentation(self) -> Iterator[None]:
        """Time an augmentation region inside the current step (several per step add up).

        Outside a step the region runs untimed, so a method's ``training_step`` also works in a
        user's own loop that does not time steps.
        """
        if not self._in_step:
            yield
            return
        if self._in_augmentation:
            raise InputValueError("StepTimer.augmentation: augmentation regions do not nest")
        self._in_augmentation = True
        started = self._now()
        try:
            yield
        finally:
            self._augmentation_time += self._now() - started
            self._in_augmentation = False

    def summary(self) -> CostSummary:
        """Totals since construction or the last :meth:`reset`."""
        total = self._step_time
        return CostSummary(
            steps=self._steps,
            images=self._images,
            step_time_s=total,
            augmentation_time_s=self._augmentation_time,
            augmentation_fraction=self._augmentation_time / total if total > 0 else 0.0,
            images_per_s=self._images / total if total > 0 else 0.0,
        )


def peak_memory_bytes(device: torch.device | str = "cpu") -> int:
    """Peak memory in bytes.

    On CUDA: ``torch.cuda.max_memory_allocated(device)``, the peak of tensors allocated by
    torch since the start or :func:`reset_peak_memory` (excludes the caching allocator's
    reserve and the CUDA context). On the CPU: the process-wide peak resident set size
    (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; KiB on Linux, bytes on macOS), which
    counts everything the process ever held, Python and libraries included, and cannot be
    reset. Not available on Windows.

    Raises:
        InputValueError: a device type other than ``cpu`` or ``cuda``, or the CPU peak on a
            platform without the ``resource`` module.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    if device.type != "cpu":
        raise InputValueError(f"peak_memory_bytes: device {device} is not supported; use a cpu or cuda device")
    try:
        import resource
    except ImportError:
        raise InputValueError("peak_memory_bytes: the CPU peak needs the Unix `resource` module") from None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def reset_peak_memory(device: torch.device | str = "cpu") -> None:
    """Restart the CUDA peak count of :func:`peak_memory_bytes`; a no-op on the CPU (cannot be reset)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
