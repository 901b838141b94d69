"""Series/s of augbench's time-series pipeline against tsaug on the CPU.

Workload: jitter + time warp + drift, one draw per series, on a float32 batch of 256 series of
3 channels and 500 steps (a random walk, seed 0):

* augbench: ``Compose([SeriesJitter(0.03), SeriesTimeWarp(0.2, knots=4), SeriesDrift(0.5, knots=4)])``
  on the ``(B, C, L)`` tensor with a ``torch.Generator`` (main row), with keyed draws
  (``keys=``, ``seed=``: each series' draw depends on its key alone), and with
  ``pad_value=None`` (no search for trailing padding);
* tsaug 0.2: ``AddNoise(scale=0.03) + TimeWarp(n_speed_change=4, max_speed_ratio=2) +
  Drift(max_drift=0.5, n_drift_points=4)``. tsaug draws per series when it is called on the whole
  ``(N, T, C)`` array (noise per element, one speed curve per series, one drift per series and
  channel), so that batched call is the per-sample peer; its ``TimeWarp`` interpolates series
  by series in a Python loop. A second row calls it once per series, as in a per-sample
  data pipeline. tsaug has no one-draw-per-batch mode.

The strengths differ in detail (augbench scales noise and drift by each channel's standard
deviation and warps with log-normal knot speeds; tsaug uses absolute scales and its own speed
anchors); the work per series is the same kind: noise per element, a smooth monotone warp
read by linear interpolation, a smooth drift curve. Target: augbench >= 10x the fastest
per-sample peer. Every row is timed in wall-clock seconds (the harness's convention) and in
process CPU seconds, which a busy machine distorts less.

Run: ``python benchmarks/timeseries.py`` with a Python that has tsaug (``--help`` for the
options; ``--threads 1`` compares single-core speed on a busy machine). Timing rounds are
interleaved across the rows (benchmarks/mixing.py's ``measure_interleaved``), so a burst of
load from other processes hits every row alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import numpy as np
import torch

import _harness
from _harness import AUGBENCH, PER_SAMPLE, Candidate, Settings, Step, Timing, is_augbench, print_environment
from mixing import build_step, measure_interleaved

PEERS = ("tsaug", "numpy", "scipy")
BATCH_SHAPE = (256, 3, 500)
TARGET = 10.0
TSAUG_BATCHED = "tsaug (batched call)"


def make_series(shape: tuple[int, int, int] = BATCH_SHAPE) -> torch.Tensor:
    """A float32 random walk ``(B, C, L)``, seed 0 (no exact zeros, so nothing counts as padding)."""
    steps = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    return steps.cumsum(-1).mul_(0.1).add_(1.0)


def _augbench_pipeline(pad_value: float | None = 0.0):
    import augbench as ab
    from augbench.transforms.timeseries import SeriesDrift, SeriesJitter, SeriesTimeWarp

    return ab.Compose([
        SeriesJitter(0.03, pad_value=pad_value),
        SeriesTimeWarp(0.2, knots=4, pad_value=pad_value),
        SeriesDrift(0.5, knots=4, pad_value=pad_value),
    ])


def augbench_generator(pad_value: float | None = 0.0) -> Candidate:
    def build(series: torch.Tensor) -> Step:
        pipeline = _augbench_pipeline(pad_value)
        generator = torch.Generator().manual_seed(0)
        return lambda: pipeline(series, generator=generator)

    if pad_value is None:
        return Candidate(f"{AUGBENCH} (pad_value=None)", PER_SAMPLE, build, ("augbench",),
                         "the same pipeline without the search for trailing padding")
    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), "one batched call on the (B, C, L) float32 tensor")


def augbench_keyed() -> Candidate:
    def build(series: torch.Tensor) -> Step:
        pipeline = _augbench_pipeline()
        keys = torch.arange(series.shape[0])
        return lambda: pipeline(series, keys=keys, seed=0)

    return Candidate(f"{AUGBENCH} (keyed draws)", PER_SAMPLE, build, ("augbench",),
                     "keyed draws: each series' random numbers hashed from (seed, key)")


def _tsaug_pipeline():
    from tsaug import AddNoise, Drift, TimeWarp

    return AddNoise(scale=0.03) + TimeWarp(n_speed_change=4, max_speed_ratio=2.0) + Drift(max_drift=0.5, n_drift_points=4)


def _as_ntc(series: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(series.permute(0, 2, 1).numpy())


def tsaug_batched() -> Candidate:
    def build(series: torch.Tensor) -> Step:
        pipeline, array = _tsaug_pipeline(), _as_ntc(series)
        return lambda: pipeline.augment(array)

    note = ("one call on the (N, T, C) float32 numpy array, per-series draws; the (B, C, L) tensor -> (N, T, C) "
            "array conversion is EXCLUDED (done once before timing; the output stays an (N, T, C) array)")
    return Candidate(TSAUG_BATCHED, PER_SAMPLE, build, ("tsaug",), note)


def tsaug_loop() -> Candidate:
    def build(series: torch.Tensor) -> Step:
        pipeline, array = _tsaug_pipeline(), _as_ntc(series)
        rows = [array[i : i + 1] for i in range(array.shape[0])]
        return lambda: [pipeline.augment(row) for row in rows]

    note = "one call per (1, T, C) series (a per-sample data pipeline); conversions EXCLUDED as above"
    return Candidate("tsaug (per-series loop)", PER_SAMPLE, build, ("tsaug",), note)


CANDIDATES = [augbench_generator(), augbench_keyed(), augbench_generator(pad_value=None), tsaug_batched(), tsaug_loop()]


def with_cpu_time(step: Step | None, cpu_seconds: list[float]) -> Step | None:
    """``step`` that also appends the process CPU seconds of each call to ``cpu_seconds``.

    CPU time is what a busy machine distorts least: wall time includes the waits for cores
    that other processes hold (compare single-threaded runs, ``--threads 1``, with it).
    """
    if step is None:
        return None

    def timed() -> object:
        start = time.process_time()
        result = step()
        cpu_seconds.append(time.process_time() - start)
        return result

    return timed


def print_table(timings: Sequence[Timing], cpu: Sequence[Sequence[float]], settings: Settings, rounds: int) -> None:
    """Series/s per row (wall and CPU time), augbench's ratios to each peer and the verdict."""
    batch_size = BATCH_SHAPE[0]
    rows = list(zip(timings, cpu))
    ours = next(((t, c) for t, c in rows if t.candidate.library == AUGBENCH and t.seconds), None)
    ours_rate = ours[0].images_per_second(batch_size) if ours else None
    ours_cpu = batch_size / statistics.median(ours[1]) if ours else None
    shape = "x".join(map(str, BATCH_SHAPE))
    print(f"\n== jitter + time warp + drift, per series: float32 batch {shape} (B x C x L), CPU, {torch.get_num_threads()} torch threads ==")
    print(f"{'library':<34} {'randomness':<11} {'series/s':>10} {'best':>10} {'augbench / it':>14} "
          f"{'CPU series/s':>13} {'augbench / it (CPU)':>20}")
    for timing, cpu_seconds in rows:
        row = f"{timing.candidate.library:<34} {timing.candidate.randomness:<11}"
        if not timing.seconds:
            print(f"{row} {timing.skipped}")
            continue
        rate = timing.images_per_second(batch_size)
        cpu_rate = batch_size / statistics.median(cpu_seconds)
        peer = ours_rate is not None and not is_augbench(timing.candidate)
        ratio = f"{ours_rate / rate:.2f}x" if peer else ""
        cpu_ratio = f"{ours_cpu / cpu_rate:.2f}x" if peer else ""
        print(f"{row} {rate:>10,.0f} {timing.images_per_second(batch_size, best=True):>10,.0f} {ratio:>14} "
              f"{cpu_rate:>13,.0f} {cpu_ratio:>20}")
    for timing in timings:
        if timing.candidate.note:
            print(f"  * {timing.candidate.library}: {timing.candidate.note}")
    print(
        f"  series/s = batch size / median seconds per batch over >= {settings.repeats} timed calls "
        f"(>= {settings.min_seconds:g} s) in {rounds} interleaved rounds, after {settings.warmup} warm-up calls; "
        "best = fastest call; CPU series/s = batch size / median process CPU seconds per batch"
    )
    peers = [t for t in timings if t.seconds and not is_augbench(t.candidate)]
    if ours_rate is None or not peers:
        print("  target: not measured (augbench or tsaug is missing)")
        return
    fastest = max(peers, key=lambda t: t.images_per_second(batch_size))
    ratio = ours_rate / fastest.images_per_second(batch_size)
    print(f"  target augbench >= {TARGET:g}x the fastest per-sample peer ({fastest.candidate.library}): "
          f"{ratio:.2f}x, {'MET' if ratio >= TARGET else 'NOT met'}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Throughput of augbench's time-series ops against tsaug (CPU).")
    add = parser.add_argument
    add("--library", default="", help="time only peers whose label contains this text (and augbench)")
    add("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    add("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    add("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    add("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    add("--rounds", type=int, default=5, help="interleaved timing rounds (1: one row after the other)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    candidates = [c for c in CANDIDATES if is_augbench(c) or args.library.lower() in c.library.lower()]
    settings, rounds = Settings(args.warmup, args.repeats, args.min_seconds), max(1, args.rounds)
    print_environment(PEERS)
    series = make_series()
    built = [build_step(candidate, series) for candidate in candidates]
    cpu: list[list[float]] = [[] for _ in candidates]
    steps = [with_cpu_time(step, cpu_seconds) for (step, _), cpu_seconds in zip(built, cpu)]
    seconds = measure_interleaved(steps, settings, rounds)
    for cpu_seconds in cpu:
        del cpu_seconds[: settings.warmup]  # the warm-up calls
    timings = [
        Timing(candidate, times) if step is not None else Timing(candidate, skipped=why)
        for candidate, (step, why), times in zip(candidates, built, seconds)
    ]
    print_table(timings, cpu, settings, rounds)
    _harness.print_load()


if __name__ == "__main__":
    main()
