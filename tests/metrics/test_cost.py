"""StepTimer arithmetic with a fake clock, and the peak-memory helper."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import InputValueError
from augbench.metrics import CostSummary, StepTimer, peak_memory_bytes, reset_peak_memory


class FakeClock:
    """A clock that advances only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_step_time_splits_into_augmentation_and_rest() -> None:
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    for augment_s, rest_s, batch in ((0.25, 0.75, 32), (0.5, 0.5, 32), (0.0, 2.0, 16)):
        with timer.step(batch_size=batch):
            with timer.augmentation():
                clock.advance(augment_s)
            clock.advance(rest_s)
    summary = timer.summary()
    assert summary == CostSummary(
        steps=3, images=80, step_time_s=4.0, augmentation_time_s=0.75, augmentation_fraction=0.1875, images_per_s=20.0
    )
    assert summary.as_metrics() == {
        "steps": 3.0,
        "images": 80.0,
        "step_time_s": 4.0,
        "augmentation_time_s": 0.75,
        "augmentation_fraction": 0.1875,
        "images_per_s": 20.0,
    }


def test_several_augmentation_regions_per_step_add_up() -> None:
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    with timer.step(batch_size=8):
        for _ in range(3):
            with timer.augmentation():
                clock.advance(0.5)
            clock.advance(0.25)
    summary = timer.summary()
    assert summary.augmentation_time_s == 1.5 and summary.step_time_s == 2.25
    assert summary.augmentation_fraction == pytest.approx(2 / 3)


def test_time_between_steps_is_not_counted_and_reset_clears() -> None:
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    with timer.step(batch_size=4):
        clock.advance(1.0)
    clock.advance(10.0)  # data loading, logging: outside the step
    assert timer.summary().step_time_s == 1.0
    timer.reset()
    assert timer.summary() == CostSummary(0, 0, 0.0, 0.0, 0.0, 0.0)


def test_an_exception_still_closes_the_regions() -> None:
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    with pytest.raises(RuntimeError), timer.step(batch_size=2), timer.augmentation():
        clock.advance(1.0)
        raise RuntimeError("augmentation failed")
    assert timer.summary().augmentation_time_s == 1.0 and timer.summary().steps == 1
    with timer.step(batch_size=2):  # the timer is usable again
        clock.advance(1.0)
    assert timer.summary().steps == 2


def test_augmentation_outside_a_step_is_untimed() -> None:
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    with timer.augmentation():
        clock.advance(5.0)
    assert timer.summary().augmentation_time_s == 0.0 and timer.summary().steps == 0


def test_misuse_raises() -> None:
    timer = StepTimer(clock=FakeClock())
    with pytest.raises(InputValueError, match="do not nest"), timer.step(batch_size=1), timer.step(batch_size=1):
        pass
    with pytest.raises(InputValueError, match="do not nest"), timer.step(batch_size=1), timer.augmentation():
        with timer.augmentation():
            pass
    with pytest.raises(InputValueError, match="batch_size"), timer.step(batch_size=-1):
        pass


def test_real_clock_measures_something() -> None:
    timer = StepTimer()
    with timer.step(batch_size=4), timer.augmentation():
        torch.ones(1000).sum()
    summary = timer.summary()
    assert 0.0 <= summary.augmentation_time_s <= summary.step_time_s
    assert 0.0 <= summary.augmentation_fraction <= 1.0


def test_cpu_peak_memory_is_the_process_rss() -> None:
    peak = peak_memory_bytes("cpu")
    assert isinstance(peak, int) and peak > 10 * 2**20  # torch alone keeps tens of MiB resident
    reset_peak_memory("cpu")  # documented no-op
    assert peak_memory_bytes() >= peak
    with pytest.raises(InputValueError, match="not supported"):
        peak_memory_bytes("meta")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_peak_memory_tracks_allocations() -> None:
    reset_peak_memory("cuda")
    base = peak_memory_bytes("cuda")
    block = torch.empty(2**24, dtype=torch.uint8, device="cuda")
    assert peak_memory_bytes("cuda") >= base + 2**24
    del block
