"""Images/s of augbench's per-sample mixers against torchvision v2 and kornia on the CPU (``make bench``).

Four tables, all measured in one run, each on a batch of ``B`` images with int64 labels of 10
classes (the labels are part of every call, as in training):

* CutMix on a **uint8** batch, 512x3x32x32 and 64x3x224x224: augbench ``CutMix(per_sample=True)``
  (a box, lambda and partner per sample) against torchvision v2 ``CutMix`` (one lambda and one
  box for the whole batch, partners = ``roll(1)``) and kornia ``RandomCutMixV2`` (per sample).
* Mixup on a **float32** batch in [0, 1], same shapes: augbench ``Mixup(per_sample=True)``
  against torchvision v2 ``MixUp`` (one lambda per batch) and kornia ``RandomMixUpV2``
  (per sample).

Every peer is optional; a missing one prints "not installed". The targets are printed under
each table with whether they are met:

* per-sample CutMix on uint8: >= 20x kornia and >= 0.5x torchvision's batch-wide CutMix;
* per-sample Mixup on float32: >= 1x torchvision's batch-wide MixUp.

torchvision's ``v2.CutMix`` accepts the uint8 batch as it is (it only copies pixels), so its
main row is called on uint8; a reference row adds the float32 round trip. ``v2.MixUp`` and
kornia need floating input. Every row's note says what its timed call includes.

Run: ``python benchmarks/mixing.py`` (``--help`` for the options; ``--threads 1`` compares
single-core speed on a busy machine). It reuses the shared harness's candidates and settings
(warm-up calls, then the median of >= ``repeats`` timed calls) and adds locally what the
mixers need: float32 batches, labels, per-peer targets, and timing rounds interleaved across
the rows of a table, so that a burst of load from other processes hits every row alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

import _harness
from _harness import AUGBENCH, PER_SAMPLE, SHARED, Candidate, Settings, Step, Timing, is_augbench, print_environment

PEERS = ("torchvision", "kornia")
NUM_CLASSES = 10
TORCHVISION_CUTMIX = "torchvision v2 CutMix"
TORCHVISION_MIXUP = "torchvision v2 MixUp"
KORNIA_CUTMIX = "kornia RandomCutMixV2"
KORNIA_MIXUP = "kornia RandomMixUpV2"


@dataclass(frozen=True)
class Target:
    """augbench's main row must reach ``ratio`` times the images/s of the row labelled ``peer``."""

    peer: str
    ratio: float


@dataclass(frozen=True)
class MixWorkload:
    """A named batch (``dtype`` uint8 0-255 or float32 0-1), its candidates and augbench's targets.

    Every candidate's ``build(images)`` gets the batch in ``dtype`` (converted before timing)
    and draws its labels with :func:`labels_for`.
    """

    name: str
    batch_shape: tuple[int, int, int, int]
    dtype: torch.dtype
    candidates: Sequence[Candidate]
    targets: Sequence[Target]


def labels_for(images: torch.Tensor) -> torch.Tensor:
    """The ``(B,)`` int64 labels in [0, 10) of a batch, the same for every candidate."""
    return torch.randint(0, NUM_CLASSES, (images.shape[0],), generator=torch.Generator().manual_seed(1))


# -- augbench ---------------------------------------------------------------------------------
def augbench_mixer(name: str, per_sample: bool) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        from augbench.mix import MIXERS

        mixer = MIXERS.build(name, num_classes=NUM_CLASSES, per_sample=per_sample)
        labels = labels_for(images)
        generator = torch.Generator().manual_seed(0)
        return lambda: mixer(images, labels, generator=generator)

    dtype_note = "uint8 in and out" if name == "cutmix" else "float32 in and out"
    if per_sample:
        note = (
            f"mixer(images, labels): validation, draws, mixing and (B, 10) float32 soft targets; {dtype_note}"
        )
        return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), note)
    note = "one lambda (and box) for the whole batch and a permutation as partners, like the peers' batch-wide draw"
    return Candidate(f"{AUGBENCH} (per_sample=False)", SHARED, build, ("augbench",), note)


# -- torchvision ------------------------------------------------------------------------------
def torchvision_mixer(kind: str, float_input_for_uint8: bool = False) -> Candidate:
    """torchvision v2 ``CutMix`` / ``MixUp`` called as ``t(images, labels)`` on the whole batch."""

    def build(images: torch.Tensor) -> Step:
        from torchvision.transforms import v2

        torch.manual_seed(0)
        transform = (v2.CutMix if kind == "cutmix" else v2.MixUp)(num_classes=NUM_CLASSES)
        labels = labels_for(images)
        if not float_input_for_uint8:
            return lambda: transform(images, labels)

        def step() -> tuple[torch.Tensor, torch.Tensor]:
            mixed, targets = transform(images.float().div_(255), labels)
            return mixed.mul_(255).round_().to(torch.uint8), targets

        return step

    if kind == "cutmix" and float_input_for_uint8:
        note = (
            "the same call on float32 input: the uint8 -> float [0, 1] -> uint8 conversions are included"
        )
        return Candidate(f"{TORCHVISION_CUTMIX} (float32 round trip)", SHARED, build, ("torchvision",), note)
    if kind == "cutmix":
        note = (
            "t(images, labels) on the uint8 batch (v2.CutMix accepts uint8 and returns uint8 images): "
            "one Beta draw and one box for the batch, partners = roll(1), clone + one slice copy, "
            "(B, 10) float32 soft targets included"
        )
        return Candidate(TORCHVISION_CUTMIX, SHARED, build, ("torchvision",), note)
    note = (
        "t(images, labels) on the float32 batch (v2.MixUp rejects uint8): one Beta draw for the batch, "
        "partners = roll(1), (B, 10) float32 soft targets included"
    )
    return Candidate(TORCHVISION_MIXUP, SHARED, build, ("torchvision",), note)


# -- kornia -----------------------------------------------------------------------------------
def kornia_mixer(kind: str) -> Candidate:
    """kornia ``RandomCutMixV2`` / ``RandomMixUpV2`` with ``data_keys=["input", "class"]``."""

    def build(images: torch.Tensor) -> Step:
        import kornia.augmentation as K

        torch.manual_seed(0)
        if kind == "cutmix":
            transform = K.RandomCutMixV2(data_keys=["input", "class"], use_correct_lambda=True)
        else:
            transform = K.RandomMixUpV2(data_keys=["input", "class"])
        labels = labels_for(images)

        if images.dtype != torch.uint8:

            def step_float() -> object:
                with torch.no_grad():
                    return transform(images, labels)

            return step_float

        def step_uint8() -> object:
            with torch.no_grad():
                mixed, mix_labels = transform(images.float().div_(255), labels)
            return mixed.mul_(255).round_().to(torch.uint8), mix_labels

        return step_uint8

    if kind == "cutmix":
        note = (
            "needs float input: the uint8 -> float [0, 1] -> uint8 conversions are included; returns "
            "(label, partner label, lambda) triples, not soft targets (building them is not included)"
        )
        return Candidate(KORNIA_CUTMIX, PER_SAMPLE, build, ("kornia",), note)
    note = (
        "on the float32 batch, lambda ~ U(0, 1) = Beta(1, 1) per sample; returns (label, partner label, "
        "lambda) triples, not soft targets (building them is not included)"
    )
    return Candidate(KORNIA_MIXUP, PER_SAMPLE, build, ("kornia",), note)


# -- workloads --------------------------------------------------------------------------------
def cutmix_uint8(batch_size: int, size: int) -> MixWorkload:
    candidates = [
        augbench_mixer("cutmix", per_sample=True),
        augbench_mixer("cutmix", per_sample=False),
        torchvision_mixer("cutmix"),
        torchvision_mixer("cutmix", float_input_for_uint8=True),
        kornia_mixer("cutmix"),
    ]
    targets = [Target(KORNIA_CUTMIX, 20.0), Target(TORCHVISION_CUTMIX, 0.5)]
    return MixWorkload("CutMix(alpha=1), per-sample", (batch_size, 3, size, size), torch.uint8, candidates, targets)


def mixup_float(batch_size: int, size: int) -> MixWorkload:
    candidates = [
        augbench_mixer("mixup", per_sample=True),
        augbench_mixer("mixup", per_sample=False),
        torchvision_mixer("mixup"),
        kornia_mixer("mixup"),
    ]
    targets = [Target(TORCHVISION_MIXUP, 1.0)]
    return MixWorkload("Mixup(alpha=1), per-sample", (batch_size, 3, size, size), torch.float32, candidates, targets)


WORKLOADS = [cutmix_uint8(512, 32), cutmix_uint8(64, 224), mixup_float(512, 32), mixup_float(64, 224)]


# -- running and printing ---------------------------------------------------------------------
def make_batch(workload: MixWorkload) -> torch.Tensor:
    """The harness's uint8 batch (seed 0), as float32 in [0, 1] for float workloads."""
    images = torch.randint(0, 256, workload.batch_shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return images if workload.dtype == torch.uint8 else images.to(workload.dtype).div_(255)


def print_table(
    workload: MixWorkload, timings: Sequence[Timing], settings: Settings, rounds: int
) -> list[tuple[str, bool]]:
    """One row per candidate and the verdict of every target; returns ``(description, met)`` pairs."""
    batch_size = workload.batch_shape[0]
    ours = next((t for t in timings if t.candidate.library == AUGBENCH and t.seconds), None)
    ours_rate = ours.images_per_second(batch_size) if ours else None
    shape = "x".join(str(s) for s in workload.batch_shape)
    dtype = str(workload.dtype).removeprefix("torch.")
    print(f"\n== {workload.name}: {dtype} batch {shape} + int64 labels ({NUM_CLASSES} classes), CPU ==")
    print(f"{'library':<42} {'randomness':<11} {'images/s':>10} {'best':>10} {'augbench / it':>14}")
    for timing in timings:
        row = f"{timing.candidate.library:<42} {timing.candidate.randomness:<11}"
        if not timing.seconds:
            print(f"{row} {timing.skipped}")
            continue
        value = timing.images_per_second(batch_size)
        ratio = "" if ours_rate is None or is_augbench(timing.candidate) else f"{ours_rate / value:.2f}x"
        print(f"{row} {value:>10,.0f} {timing.images_per_second(batch_size, best=True):>10,.0f} {ratio:>14}")
    for timing in timings:
        if timing.candidate.note:
            print(f"  * {timing.candidate.library}: {timing.candidate.note}")
    print(
        f"  images/s = batch size / median seconds per batch over >= {settings.repeats} timed calls "
        f"(>= {settings.min_seconds:g} s) in {rounds} rounds interleaved with the other rows, after "
        f"{settings.warmup} warm-up calls; best = fastest call"
    )
    verdicts = []
    for target in workload.targets:
        peer = next((t for t in timings if t.candidate.library == target.peer and t.seconds), None)
        wanted = f"augbench >= {target.ratio:g}x {target.peer}"
        if peer is None or ours_rate is None:
            print(f"  target {wanted}: not measured (a library is missing)")
            continue
        ratio = ours_rate / peer.images_per_second(batch_size)
        met = ratio >= target.ratio
        print(f"  target {wanted}: {ratio:.2f}x, {'MET' if met else 'NOT met'}")
        verdicts.append((f"{workload.name} {shape}: {wanted} ({ratio:.2f}x)", met))
    return verdicts


def build_step(candidate: Candidate, images: torch.Tensor) -> tuple[Step | None, str]:
    """The candidate's step, or ``None`` and why it cannot run (a peer that is not installed)."""
    for name in candidate.requires:
        if importlib.util.find_spec(name) is None:
            return None, f"not installed ({name})"
    try:
        return candidate.build(images), ""
    except ImportError as error:
        return None, f"not installed ({error})"


def measure_interleaved(steps: Sequence[Step | None], settings: Settings, rounds: int) -> list[list[float]]:
    """Seconds of each timed call of every step, measured in ``rounds`` interleaved rounds.

    Every step gets ``settings.warmup`` untimed calls, then each round times every step in turn
    for at least ``repeats / rounds`` calls and ``min_seconds / rounds`` seconds. On a shared
    machine a burst of load then slows every candidate alike instead of the one that happened
    to run during it (the shared harness times candidates one after the other).
    """
    for step in steps:
        for _ in range(settings.warmup if step is not None else 0):
            step()
    calls, seconds = math.ceil(settings.repeats / rounds), settings.min_seconds / rounds
    timings: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for step, times in zip(steps, timings):
            if step is None:
                continue
            spent, count = 0.0, 0
            while count < calls or spent < seconds:
                start = time.perf_counter()
                step()
                elapsed = time.perf_counter() - start
                times.append(elapsed)
                spent, count = spent + elapsed, count + 1
    return timings


def run(workloads: Sequence[MixWorkload], settings: Settings, rounds: int) -> None:
    print_environment(PEERS)
    if not hasattr(_harness, "print_load"):  # older harnesses do not print the load themselves
        _harness.print_load()
    verdicts: list[tuple[str, bool]] = []
    for workload in workloads:
        images = make_batch(workload)
        built = [build_step(candidate, images) for candidate in workload.candidates]
        seconds = measure_interleaved([step for step, _ in built], settings, rounds)
        timings = [
            Timing(candidate, times) if step is not None else Timing(candidate, skipped=why)
            for candidate, (step, why), times in zip(workload.candidates, built, seconds)
        ]
        verdicts += print_table(workload, timings, settings, rounds)
        _harness.print_load()
    if verdicts:
        print("\n== targets ==")
        for description, met in verdicts:
            print(f"  {'MET    ' if met else 'NOT met'}  {description}")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: pick workloads and peers by substring, set repeats, rounds and threads."""
    parser = argparse.ArgumentParser(description="Throughput of augbench's mixers against torchvision and kornia (CPU).")
    add = parser.add_argument
    add("--only", default="", help="run only workloads whose name or shape contains this text, e.g. 224x224")
    add("--library", default="", help="time only peers whose label contains this text (and augbench)")
    add("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    add("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    add("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    add("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    add("--rounds", type=int, default=5, help="interleaved timing rounds per workload (1: one row after the other)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    def keep(candidate: Candidate) -> bool:
        return is_augbench(candidate) or args.library.lower() in candidate.library.lower()

    selected = [
        MixWorkload(w.name, w.batch_shape, w.dtype, [c for c in w.candidates if keep(c)], w.targets)
        for w in WORKLOADS
        if args.only.lower() in f"{w.name} {'x'.join(map(str, w.batch_shape))}".lower()
    ]
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="kornia")
    run(selected, Settings(args.warmup, args.repeats, args.min_seconds), max(1, args.rounds))


if __name__ == "__main__":
    main()
