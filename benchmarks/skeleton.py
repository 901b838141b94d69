"""Sequences/s of augbench's skeleton pipeline against a per-sample numpy reference on the CPU.

Workload: rotation (+-15 deg about each axis) + shear (off-diagonal factors in [-0.5, 0.5]) +
temporal crop-resample (kept duration 50-100 %, linear interpolation back to T), one draw per
sequence, on a float32 batch of 256 sequences x 32 frames x 20 joints x 3 (random, seed 0).

No pip library implements these skeleton ops (the skeleton self-supervised codes, e.g.
AimCLR's and CrosSCLR's ``feeder/tools.py``, ship them as numpy functions called on one
sample at a time in ``Dataset.__getitem__``). The peer rows are therefore **our
re-implementation of that reference procedure**, written from the papers' description (not
copied): per sequence, draw three angles, build ``Rz Ry Rx``, draw the six shear factors, map
the ``(T * J, 3)`` points by both matrices with one ``@``, draw the crop and resample it with
numpy fancy indexing and a lerp over all joints at once (each sample's work vectorised, the
loop over samples in Python, as a DataLoader's per-sample calls do):

* augbench: ``Compose([SkeletonRotate(15), SkeletonShear(0.5), SkeletonCropResample((0.5, 1))])``
  on the ``(B, T, J, 3)`` tensor with a ``torch.Generator`` (main row), and with keyed draws;
* numpy per-sample loop (reference procedure, re-implemented), on a list of ``(T, J, 3)``
  float32 arrays, numpy's ``default_rng``;
* numpy one draw per batch (re-implemented): the same maths once for the whole batch (one
  rotation, one shear, one crop), for the "never slower than a one-draw-per-batch mode" check.

Targets: augbench >= 10x the per-sample loop and >= 1x the one-draw-per-batch mode.

Run: ``python benchmarks/skeleton.py`` (``--help`` for the options; ``--threads 1`` compares
single-core speed on a busy machine). Timing rounds are interleaved across the rows
(benchmarks/mixing.py's ``measure_interleaved``), so a burst of load hits every row alike.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch

import _harness
from _harness import (
    AUGBENCH, PER_SAMPLE, SHARED, Candidate, Settings, Step, Timing, is_augbench, print_environment, print_rows,
)
from mixing import build_step, measure_interleaved

PEERS = ("numpy",)
BATCH_SHAPE = (256, 32, 20, 3)
DEGREES, SHEAR, RATIO = 15.0, 0.5, (0.5, 1.0)
TARGET_LOOP, TARGET_BATCH = 10.0, 1.0
LOOP = "numpy per-sample loop (reference, re-impl.)"
BATCH = "numpy one draw per batch (re-impl.)"


def make_joints(shape: tuple[int, ...] = BATCH_SHAPE) -> torch.Tensor:
    """A float32 ``(B, T, J, 3)`` batch, seed 0."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


def _augbench_pipeline():
    import augbench as ab
    from augbench.transforms.skeleton import SkeletonCropResample, SkeletonRotate, SkeletonShear

    return ab.Compose([SkeletonRotate(DEGREES), SkeletonShear(SHEAR), SkeletonCropResample(RATIO)])


def augbench_generator() -> Candidate:
    def build(joints: torch.Tensor) -> Step:
        pipeline, generator = _augbench_pipeline(), torch.Generator().manual_seed(0)
        return lambda: pipeline(joints, generator=generator)

    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), "one batched call on the (B, T, J, 3) float32 tensor")


def augbench_keyed() -> Candidate:
    def build(joints: torch.Tensor) -> Step:
        pipeline, keys = _augbench_pipeline(), torch.arange(joints.shape[0])
        return lambda: pipeline(joints, keys=keys, seed=0)

    return Candidate(f"{AUGBENCH} (keyed draws)", PER_SAMPLE, build, ("augbench",),
                     "keyed draws: each sequence's random numbers hashed from (seed, key)")


# -- the reference procedure, re-implemented in numpy ---------------------------------------------


def _rotation(angles: np.ndarray) -> np.ndarray:
    """``Rz @ Ry @ Rx`` for angles (radians) about x, y, z."""
    (ca, cb, cc), (sa, sb, sc) = np.cos(angles), np.sin(angles)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _shear(factors: np.ndarray) -> np.ndarray:
    matrix = np.eye(3)
    matrix[[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]] = factors
    return matrix


def _crop_resample(sequence: np.ndarray, start: float, size: float, axis: int = 0) -> np.ndarray:
    """Frames ``start .. start + size`` (fractions of the duration) along ``axis``, resampled to
    the same number of frames (lerp between the two nearest frames)."""
    frames = sequence.shape[axis]
    position = (start + size * np.arange(frames) / (frames - 1)) * (frames - 1)
    low = np.minimum(np.floor(position).astype(np.int64), frames - 2)
    shape = [1] * sequence.ndim
    shape[axis] = frames
    weight = (position - low).astype(sequence.dtype).reshape(shape)
    before, after = np.take(sequence, low, axis=axis), np.take(sequence, low + 1, axis=axis)
    return before + weight * (after - before)


def _reference_draws(rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """One sample's (or one batch's) draw: the combined linear map, crop start and size."""
    matrix = _shear(rng.uniform(-SHEAR, SHEAR, 6)) @ _rotation(np.deg2rad(rng.uniform(-DEGREES, DEGREES, 3)))
    size = rng.uniform(*RATIO)
    return matrix.astype(np.float32), rng.uniform(0.0, 1.0 - size), size


def numpy_loop() -> Candidate:
    def build(joints: torch.Tensor) -> Step:
        samples = [sample.numpy().copy() for sample in joints]
        rng = np.random.default_rng(0)

        def step() -> list[np.ndarray]:
            out = []
            for sample in samples:
                matrix, start, size = _reference_draws(rng)
                mapped = (sample.reshape(-1, 3) @ matrix.T).reshape(sample.shape)
                out.append(_crop_resample(mapped, start, size))
            return out

        return step

    note = ("a Python loop over (T, J, 3) float32 arrays, each sample's maths vectorised; the tensor -> list of "
            "arrays conversion is EXCLUDED (done once before timing; the output stays a list of arrays)")
    return Candidate(LOOP, PER_SAMPLE, build, ("numpy",), note)


def numpy_batch() -> Candidate:
    def build(joints: torch.Tensor) -> Step:
        array, rng = joints.numpy().copy(), np.random.default_rng(0)

        def step() -> np.ndarray:
            matrix, start, size = _reference_draws(rng)
            # (B, T * J, 3) @ (3, 3): numpy's fastest form here (a flat (B * T * J, 3) product is ~50x slower)
            mapped = (array.reshape(array.shape[0], -1, 3) @ matrix.T).reshape(array.shape)
            return _crop_resample(mapped, start, size, axis=1)

        return step

    note = "the same maths once for the (B, T, J, 3) array: one rotation, shear and crop for every sequence"
    return Candidate(BATCH, SHARED, build, ("numpy",), note)


CANDIDATES = [augbench_generator(), augbench_keyed(), numpy_loop(), numpy_batch()]


# -- report ---------------------------------------------------------------------------------------


def print_table(timings: Sequence[Timing], settings: Settings, rounds: int) -> None:
    """Sequences/s per row, augbench's ratio to each peer and the verdicts against the targets."""
    batch_size = BATCH_SHAPE[0]
    ours = next((t for t in timings if t.candidate.library == AUGBENCH and t.seconds), None)
    ours_rate = ours.images_per_second(batch_size) if ours else None
    shape = "x".join(map(str, BATCH_SHAPE))
    print(f"\n== rotate + shear + temporal crop-resample: float32 batch {shape} (B x T x J x 3), CPU, "
          f"{torch.get_num_threads()} torch threads ==")
    print_rows(timings, batch_size, ours_rate, unit="seqs/s", label_width=44)
    print(
        f"  seqs/s = batch size / median seconds per batch over >= {settings.repeats} timed calls "
        f"(>= {settings.min_seconds:g} s) in {rounds} interleaved rounds, after {settings.warmup} warm-up calls; "
        "best = fastest call"
    )
    for label, target in ((LOOP, TARGET_LOOP), (BATCH, TARGET_BATCH)):
        peer = next((t for t in timings if t.candidate.library == label and t.seconds), None)
        if ours_rate is None or peer is None:
            print(f"  target vs {label}: not measured")
            continue
        ratio = ours_rate / peer.images_per_second(batch_size)
        print(f"  target augbench >= {target:g}x {label}: {ratio:.2f}x, {'MET' if ratio >= target else 'NOT met'}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Throughput of augbench's skeleton ops against a numpy reference (CPU).")
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
    joints = make_joints()
    built = [build_step(candidate, joints) for candidate in candidates]
    seconds = measure_interleaved([step for step, _ in built], settings, rounds)
    timings = [
        Timing(candidate, times) if step is not None else Timing(candidate, skipped=why)
        for candidate, (step, why), times in zip(candidates, built, seconds)
    ]
    print_table(timings, settings, rounds)
    _harness.print_load()


if __name__ == "__main__":
    main()
