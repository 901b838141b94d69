"""Timing harness for the speed benchmarks: declare workloads, time candidates, print ratios.

A :class:`Workload` is an input batch plus the :class:`Candidate` pipelines that process it; a
candidate names its library, says whether its randomness is drawn per sample or shared by the
batch, lists the modules it needs and builds a zero-argument ``step`` that processes the whole
batch once. The harness times every step the same way (warm-up calls, then the median of the
timed calls) and prints one table per workload with augbench's ratio to each peer.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

AUGBENCH = "augbench"
PER_SAMPLE = "per-sample"
SHARED = "shared"
TARGET_RATIO = 2.0
"""augbench's goal: at least this many times the images/s of the fastest per-sample peer."""

Step = Callable[[], object]


@dataclass(frozen=True)
class Candidate:
    """One library's pipeline for a workload.

    Args:
        library: the row label, e.g. ``"torchvision v2 (loop)"``. augbench's main row is
            ``"augbench"``, the one its ratios use; other rows whose label starts with
            ``"augbench "`` are variants shown for reference.
        randomness: ``PER_SAMPLE`` (every image its own draw) or ``SHARED`` (one draw per batch;
            shown for reference, never the peer augbench is compared with).
        build: ``build(images)`` -> ``step``; gets the uint8 ``(B, C, H, W)`` batch, does any
            untimed preparation and returns a callable that processes the batch once.
        requires: modules that must be importable; a missing one prints "not installed".
        note: how the step is measured (conversions included or not), printed under the table.
    """

    library: str
    randomness: str
    build: Callable[[torch.Tensor], Step]
    requires: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Workload:
    """A named input batch and the candidates that process it."""

    name: str
    batch_shape: tuple[int, int, int, int]
    candidates: Sequence[Candidate]


@dataclass(frozen=True)
class Timing:
    """Seconds per step of one candidate, or why it was not measured."""

    candidate: Candidate
    seconds: list[float] = field(default_factory=list)
    skipped: str = ""

    def images_per_second(self, batch_size: int, best: bool = False) -> float:
        per_step = min(self.seconds) if best else statistics.median(self.seconds)
        return batch_size / per_step


@dataclass(frozen=True)
class Settings:
    """How each step is timed: ``warmup`` untimed calls, then ``repeats`` timed calls or more,
    until ``min_seconds`` of timed calls have run."""

    warmup: int = 3
    repeats: int = 15
    min_seconds: float = 1.0


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""The ``--clock`` choices: the wall clock, or the process's CPU time (on a shared machine it
discounts the time other processes hold the core; use it with ``--threads 1``)."""


def measure(step: Step, settings: Settings, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds on ``clock`` (default the wall clock) of each timed call of ``step`` (after the warm-up calls)."""
    for _ in range(settings.warmup):
        step()
    seconds: list[float] = []
    while len(seconds) < settings.repeats or sum(seconds) < settings.min_seconds:
        start = clock()
        step()
        seconds.append(clock() - start)
    return seconds


def is_augbench(candidate: Candidate) -> bool:
    """augbench's main row or one of its variants."""
    return candidate.library == AUGBENCH or candidate.library.startswith(AUGBENCH + " ")


def missing_module(candidate: Candidate) -> str | None:
    """The first required module that cannot be found, or ``None``."""
    for name in candidate.requires:
        if importlib.util.find_spec(name) is None:
            return name
    return None


def time_candidate(
    candidate: Candidate, images: torch.Tensor, settings: Settings, clock: Callable[[], float] = time.perf_counter
) -> Timing:
    """Build and time one candidate on ``clock``; a missing or broken peer is reported, not raised."""
    missing = missing_module(candidate)
    if missing is not None:
        return Timing(candidate, skipped=f"not installed ({missing})")
    try:
        step = candidate.build(images)
    except ImportError as error:
        return Timing(candidate, skipped=f"not installed ({error})")
    return Timing(candidate, measure(step, settings, clock))


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def module_version(name: str) -> str:
    if importlib.util.find_spec(name) is None:
        return "not installed"
    try:
        return str(getattr(importlib.import_module(name), "__version__", "?"))
    except ImportError as error:
        return f"not importable ({error})"


def print_environment(peers: Sequence[str]) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, CPU: {cpu_model()} ({os.cpu_count()} logical cores)")
    print("peers: " + ", ".join(f"{name} {module_version(name)}" for name in peers))
    print_load()


def print_load() -> None:
    """The 1-minute load average: timings are only comparable on an otherwise idle machine.

    Other processes hurt batched torch code most: with every core busy, each OpenMP-parallel op
    waits for a descheduled thread (pass ``--threads 1`` to compare single-core speed then).
    """
    if not hasattr(os, "getloadavg"):
        return
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    busy = (
        "  WARNING: other processes are running; timings are noisy (batched torch code suffers most; "
        "--threads 1 compares single-core speed)"
        if load > 0.5 * cores
        else ""
    )
    print(f"load average (1 min): {load:.2f} on {cores} cores{busy}")


def print_table(workload: Workload, timings: Sequence[Timing], settings: Settings) -> None:
    """One row per candidate: images/s (median and best) and augbench's ratio to it."""
    batch_size = workload.batch_shape[0]
    ours = next((t for t in timings if t.candidate.library == AUGBENCH and t.seconds), None)
    ours_rate = ours.images_per_second(batch_size) if ours else None
    shape = "x".join(str(s) for s in workload.batch_shape)
    print(f"\n== {workload.name}: uint8 batch {shape}, CPU ==")
    print_rows(timings, batch_size, ours_rate)
    print(
        f"  images/s = batch size / median seconds per batch over >= {settings.repeats} timed calls "
        f"(>= {settings.min_seconds:g} s) after {settings.warmup} warm-up calls; best = fastest call"
    )
    print_verdict(timings, batch_size, ours_rate)


def print_rows(
    timings: Sequence[Timing], batch_size: int, ours_rate: float | None, unit: str = "images/s", label_width: int = 34
) -> None:
    """The header, one row per candidate (``unit``: median and best, augbench's ratio to it) and the notes."""
    print(f"{'library':<{label_width}} {'randomness':<11} {unit:>10} {'best':>10} {'augbench / it':>14}")
    for timing in timings:
        row = f"{timing.candidate.library:<{label_width}} {timing.candidate.randomness:<11}"
        if not timing.seconds:
            print(f"{row} {timing.skipped}")
            continue
        rate = timing.images_per_second(batch_size)
        ratio = "" if ours_rate is None or is_augbench(timing.candidate) else f"{ours_rate / rate:.2f}x"
        print(f"{row} {rate:>10,.0f} {timing.images_per_second(batch_size, best=True):>10,.0f} {ratio:>14}")
    for timing in timings:
        if timing.candidate.note:
            print(f"  * {timing.candidate.library}: {timing.candidate.note}")


def print_verdict(timings: Sequence[Timing], batch_size: int, ours_rate: float | None) -> None:
    """Name the fastest per-sample peer and say whether augbench reaches the target against it."""
    peers = [t for t in timings if t.seconds and not is_augbench(t.candidate) and t.candidate.randomness == PER_SAMPLE]
    if not peers or ours_rate is None:
        print("  verdict: nothing to compare (augbench or every per-sample peer is missing)")
        return
    fastest = max(peers, key=lambda t: t.images_per_second(batch_size))
    ratio = ours_rate / fastest.images_per_second(batch_size)
    reached = "reached" if ratio >= TARGET_RATIO else "NOT reached"
    print(
        f"  fastest per-sample peer: {fastest.candidate.library} "
        f"({fastest.images_per_second(batch_size):,.0f} images/s); augbench is {ratio:.2f}x it, "
        f"target >= {TARGET_RATIO:g}x {reached} (rows with shared randomness are not compared)"
    )


def run(workloads: Sequence[Workload], settings: Settings, peers: Sequence[str]) -> None:
    """Time every candidate of every workload and print the tables."""
    print_environment(peers)
    for workload in workloads:
        images = torch.randint(0, 256, workload.batch_shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        timings = [time_candidate(candidate, images, settings) for candidate in workload.candidates]
        print_table(workload, timings, settings)
        print_load()


def main(workloads: Sequence[Workload], peers: Sequence[str], argv: Sequence[str] | None = None) -> None:
    """Command line: pick workloads by substring, set repeats and torch's thread count."""
    parser = argparse.ArgumentParser(description="Throughput of augbench against peer libraries (CPU).")
    parser.add_argument("--only", default="", help="run only workloads whose name contains this text")
    parser.add_argument("--library", default="", help="time only peers whose label contains this text (and augbench)")
    parser.add_argument("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    parser.add_argument("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    selected = [
        Workload(
            w.name,
            w.batch_shape,
            [c for c in w.candidates if is_augbench(c) or args.library.lower() in c.library.lower()],
        )
        for w in workloads
        if args.only.lower() in w.name.lower()
    ]
    run(selected, Settings(args.warmup, args.repeats, args.min_seconds), peers)
