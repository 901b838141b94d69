"""Waveforms/s of augbench's audio transforms against audiomentations and torch-audiomentations (CPU).

Workload 1 (the issue's): a per-sample random pipeline of gain (+-6 dB), white Gaussian noise at
an SNR drawn in 10-30 dB and a time shift of +-20 % of the length (zero fill, no fade), on a
float32 batch of 64 x 1 x 16000 (1 s at 16 kHz). Workload 2: pitch shift by +-2 semitones alone
(the most expensive op; every library resamples and phase-vocodes differently, so it compares cost,
not output). Peers, each optional ("not installed" when missing):

* audiomentations: numpy, one sample per call, timed as a loop over the batch (that is how it is
  called); the tensor -> numpy conversion is done once before timing.
* torch-audiomentations: torch, ``mode="per_example"`` (a draw per sample) and, for reference,
  ``mode="per_batch"`` (one draw for the whole batch).

Run it with the peers' venv: ``.venv-peers/bin/python benchmarks/audio.py [--threads 1] [--clock cpu]``.
It times as ``_harness.py`` does (warm-up calls, then the median of the timed calls) and prints one
table per workload with augbench's ratio to every row. ``--clock cpu`` times with the process's CPU
time instead of the wall clock: on a shared machine that discounts the time other processes hold
the core (use it with ``--threads 1``).
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Sequence

import torch

from _harness import (
    AUGBENCH,
    CLOCKS,
    PER_SAMPLE,
    SHARED,
    Candidate,
    Settings,
    Step,
    Timing,
    is_augbench,
    print_environment,
    print_load,
    time_candidate,
)

PEERS = ("audiomentations", "torch_audiomentations", "numpy")
TARGET_RATIO = 10.0
"""The issue's goal: at least this many times the waveforms/s of the fastest per-sample peer."""
SAMPLE_RATE = 16000
BATCH = 64
LENGTH = 16000
"""The issue's batch: 64 x 1 x 16000 (``--length`` changes the clip length, e.g. 1600 = 0.1 s)."""


# -- workload 1: gain + noise at an SNR + time shift ------------------------------------------------


def _augbench_pipeline():
    import augbench.transforms as T

    return T.Compose([T.AudioGain(6.0), T.AudioNoise(snr_db=(10.0, 30.0)), T.AudioTimeShift(0.2, mode="zero")])


def augbench_gain_noise_shift(keyed: bool) -> Candidate:
    def build(waveforms: torch.Tensor) -> Step:
        pipeline = _augbench_pipeline()
        if keyed:
            keys = torch.arange(len(waveforms))
            return lambda: pipeline(waveforms, keys=keys, seed=0)
        generator = torch.Generator().manual_seed(0)
        return lambda: pipeline(waveforms, generator=generator)

    if keyed:
        return Candidate(f"{AUGBENCH} (keyed)", PER_SAMPLE, build, ("augbench",),
                         "keyed draws (keys=sample ids, seed=0): each sample's draw depends on its key alone")
    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), "one batched call, a torch.Generator, draws per sample")


def audiomentations_gain_noise_shift() -> Candidate:
    def build(waveforms: torch.Tensor) -> Step:
        import audiomentations as A

        pipeline = A.Compose([
            A.Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0),
            A.AddGaussianSNR(min_snr_db=10.0, max_snr_db=30.0, p=1.0),
            A.Shift(min_shift=-0.2, max_shift=0.2, rollover=False, fade_duration=0.0, p=1.0),
        ])
        arrays = [sample.numpy() for sample in waveforms]
        return lambda: [pipeline(samples=array, sample_rate=SAMPLE_RATE) for array in arrays]

    note = "loop over (1, T) float32 numpy arrays; the tensor -> numpy conversion is excluded (done once)"
    return Candidate("audiomentations (per-sample loop)", PER_SAMPLE, build, ("audiomentations", "numpy"), note)


def torch_audiomentations_gain_noise_shift(mode: str) -> Candidate:
    def build(waveforms: torch.Tensor) -> Step:
        import torch_audiomentations as TA

        torch.manual_seed(0)
        pipeline = TA.Compose([
            TA.Gain(min_gain_in_db=-6.0, max_gain_in_db=6.0, mode=mode, p=1.0, output_type="tensor"),
            TA.AddColoredNoise(min_snr_in_db=10.0, max_snr_in_db=30.0, min_f_decay=0.0, max_f_decay=0.0, mode=mode,
                               p=1.0, output_type="tensor"),
            TA.Shift(min_shift=-0.2, max_shift=0.2, rollover=False, mode=mode, p=1.0, output_type="tensor"),
        ], output_type="tensor")
        return lambda: pipeline(waveforms, sample_rate=SAMPLE_RATE)

    randomness = PER_SAMPLE if mode == "per_example" else SHARED
    note = "white noise = AddColoredNoise with f_decay 0 (its Gaussian noise op has no SNR option)"
    return Candidate(f"torch-audiomentations ({mode})", randomness, build, ("torch_audiomentations",), note)


# -- workload 2: pitch shift -----------------------------------------------------------------------


def augbench_pitch() -> Candidate:
    def build(waveforms: torch.Tensor) -> Step:
        import augbench.transforms as T

        shift, generator = T.AudioPitchShift(2.0), torch.Generator().manual_seed(0)
        return lambda: shift(waveforms, generator=generator)

    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), "phase vocoder (n_fft 512, hop 128) + resampling, batched")


def audiomentations_pitch() -> Candidate:
    def build(waveforms: torch.Tensor) -> Step:
        import audiomentations as A

        shift = A.PitchShift(min_semitones=-2.0, max_semitones=2.0, p=1.0)
        arrays = [sample.numpy() for sample in waveforms]
        return lambda: [shift(samples=array, sample_rate=SAMPLE_RATE) for array in arrays]

    note = "librosa's pitch shift (phase vocoder + soxr resampling) per sample"
    return Candidate("audiomentations (per-sample loop)", PER_SAMPLE, build, ("audiomentations", "numpy"), note)


def torch_audiomentations_pitch(mode: str) -> Candidate:
    def build(waveforms: torch.Tensor) -> Step:
        import torch_audiomentations as TA

        torch.manual_seed(0)
        shift = TA.PitchShift(min_transpose_semitones=-2.0, max_transpose_semitones=2.0, mode=mode, p=1.0,
                              sample_rate=SAMPLE_RATE, output_type="tensor")
        return lambda: shift(waveforms)

    randomness = PER_SAMPLE if mode == "per_example" else SHARED
    note = "torch-pitch-shift: resampling by ratios of small integers (fixed set of shifts)"
    return Candidate(f"torch-audiomentations ({mode})", randomness, build, ("torch_audiomentations",), note)


WORKLOADS: list[tuple[str, list[Candidate]]] = [
    ("gain +-6 dB + white noise at SNR 10-30 dB + time shift +-20 %", [
        augbench_gain_noise_shift(keyed=False),
        augbench_gain_noise_shift(keyed=True),
        audiomentations_gain_noise_shift(),
        torch_audiomentations_gain_noise_shift("per_example"),
        torch_audiomentations_gain_noise_shift("per_batch"),
    ]),
    ("pitch shift +-2 semitones", [
        augbench_pitch(),
        audiomentations_pitch(),
        torch_audiomentations_pitch("per_example"),
        torch_audiomentations_pitch("per_batch"),
    ]),
]


# -- timing --------------------------------------------------------------------------------------

# -- report ----------------------------------------------------------------------------------------


def print_table(name: str, shape: tuple[int, int, int], timings: Sequence[Timing], settings: Settings, clock: str) -> None:
    """One row per candidate: waveforms/s (median and best), ms per batch and augbench's ratio to it."""
    batch = shape[0]
    ours = next((t for t in timings if t.candidate.library == AUGBENCH and t.seconds), None)
    ours_rate = ours.images_per_second(batch) if ours else None
    print(f"\n== {name}: float32 batch {'x'.join(map(str, shape))} ({shape[-1] / SAMPLE_RATE:g} s at {SAMPLE_RATE} Hz), "
          f"CPU, {clock} clock ==")
    print(f"{'library':<38} {'randomness':<11} {'waveforms/s':>12} {'best':>10} {'ms/batch':>9} {'augbench / it':>14}")
    for timing in timings:
        row = f"{timing.candidate.library:<38} {timing.candidate.randomness:<11}"
        if not timing.seconds:
            print(f"{row} {timing.skipped}")
            continue
        rate = timing.images_per_second(batch)
        ratio = "" if ours_rate is None or timing.candidate.library == AUGBENCH else f"{ours_rate / rate:.2f}x"
        milliseconds = 1000 * statistics.median(timing.seconds)
        print(f"{row} {rate:>12,.0f} {timing.images_per_second(batch, best=True):>10,.0f} {milliseconds:>9.2f} {ratio:>14}")
    for timing in timings:
        if timing.candidate.note:
            print(f"  * {timing.candidate.library}: {timing.candidate.note}")
    print(
        f"  waveforms/s = batch size / median seconds per batch over >= {settings.repeats} timed calls "
        f"(>= {settings.min_seconds:g} s) after {settings.warmup} warm-up calls; best = fastest call"
    )
    peers = [t for t in timings if t.seconds and not is_augbench(t.candidate)]
    if ours_rate is None or not any(t.candidate.randomness == PER_SAMPLE for t in peers):
        print("  verdict: nothing to compare (augbench or every per-sample peer is missing)")
        return
    for randomness, target in ((PER_SAMPLE, TARGET_RATIO), (SHARED, 1.0)):
        group = [t for t in peers if t.candidate.randomness == randomness]
        if not group:
            continue
        fastest = max(group, key=lambda t: t.images_per_second(batch))
        ratio = ours_rate / fastest.images_per_second(batch)
        print(
            f"  fastest {randomness} peer: {fastest.candidate.library} ({fastest.images_per_second(batch):,.0f} waveforms/s); "
            f"augbench is {ratio:.2f}x it, target >= {target:g}x {'reached' if ratio >= target else 'NOT reached'}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Throughput of augbench's audio transforms against peer libraries (CPU).")
    parser.add_argument("--only", default="", help="run only workloads whose name contains this text")
    parser.add_argument("--library", default="", help="time only peers whose label contains this text (and augbench)")
    parser.add_argument("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    parser.add_argument("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--length", type=int, default=LENGTH, help="samples per clip (default 16000 = 1 s)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall clock, or this process's CPU time")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch-audiomentations' output_type notice
    settings = Settings(args.warmup, args.repeats, args.min_seconds)
    print_environment(PEERS)
    shape = (BATCH, 1, args.length)
    waveforms = 0.1 * torch.randn(shape, generator=torch.Generator().manual_seed(0))
    for name, candidates in WORKLOADS:
        if args.only.lower() not in name.lower():
            continue
        chosen = [c for c in candidates if is_augbench(c) or args.library.lower() in c.library.lower()]
        timings = [time_candidate(candidate, waveforms, settings, CLOCKS[args.clock]) for candidate in chosen]
        print_table(name, shape, timings, settings, args.clock)
        print_load()


if __name__ == "__main__":
    main()
