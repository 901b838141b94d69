"""Point clouds/s of augbench and PyTorch Geometric on the CPU: rotation + scaling (+ jitter).

Workloads: a float32 batch of 256 clouds x 1,024 points x (x, y, z), each cloud rotated about
the z axis by an angle in [-180, 180] degrees, scaled by a factor in [0.8, 1.25] (one factor
for the three axes, as PyG's ``RandomScale``) and jittered; and the same without the jitter
(per-cloud draws only, no per-point noise).

* augbench: ``Compose([PointRotate(180), PointScale((0.8, 1.25), anisotropic=False),
  PointJitter(0.01, clip=0.05)])`` on the whole batch, one draw per cloud; also with keyed
  draws (``keys=``, ``seed=``) and with anisotropic scaling (one factor per axis), for reference.
* PyG: ``T.Compose([T.RandomRotate(180, axis=2), T.RandomScale((0.8, 1.25)),
  T.RandomJitter(0.01)])`` on one ``Data(pos=...)`` per cloud, as users call it (the loop over
  the batch, building the ``Data`` objects and stacking the results are timed); its "one draw
  per batch" mode calls it once on a ``Data`` holding all 262,144 points (one angle and one
  scale for the whole batch; jitter stays per point).

Not the same noise: PyG's ``RandomJitter`` adds uniform noise in [-0.01, 0.01], augbench's
``PointJitter`` clipped Gaussian noise (PointNet's sigma 0.01, clip 0.05); both draw one random
number per coordinate from a CPU ``torch.Generator``. ``--clock cpu`` times with the process's
CPU time instead of the wall clock: on a shared machine that discounts the time other processes
hold the core (use it with ``--threads 1``). Run with the peers' venv::

    .venv-peers/bin/python benchmarks/points.py --threads 1 --clock cpu
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

import torch

from _harness import (
    AUGBENCH, CLOCKS, PER_SAMPLE, SHARED, Candidate, Settings, Step, Timing, is_augbench, print_environment, print_load,
    time_candidate,
)

PEERS = ("torch_geometric",)
BATCH_SHAPE = (256, 1024, 3)
TARGET_RATIO = 10.0
"""The goal: at least this many times the clouds/s of the fastest per-sample peer."""


def _augbench_pipeline(jitter: bool, anisotropic: bool):
    import augbench as ab
    from augbench.transforms import PointJitter, PointRotate, PointScale

    transforms = [PointRotate(degrees=180.0, axis="z"), PointScale((0.8, 1.25), anisotropic=anisotropic)]
    return ab.Compose(transforms + ([PointJitter(0.01, clip=0.05)] if jitter else []))


def augbench_candidate(jitter: bool, keyed: bool = False, anisotropic: bool = False) -> Candidate:
    def build(clouds: torch.Tensor) -> Step:
        pipeline = _augbench_pipeline(jitter, anisotropic)
        if keyed:
            keys = torch.arange(clouds.shape[0])
            return lambda: pipeline(clouds, keys=keys, seed=0)
        generator = torch.Generator().manual_seed(0)
        return lambda: pipeline(clouds, generator=generator)

    if keyed:
        label, note = f"{AUGBENCH} (keyed draws)", "keys=arange(B), seed=0: each cloud's draw a function of its key"
    elif anisotropic:
        label, note = f"{AUGBENCH} (anisotropic scale)", "PointScale(anisotropic=True): one factor per axis"
    else:
        label, note = AUGBENCH, "one batched call on the (B, N, 3) tensor, a draw per cloud"
    return Candidate(label, PER_SAMPLE, build, ("augbench",), note)


def _pyg_pipeline(jitter: bool):
    import torch_geometric.transforms as T

    transforms = [T.RandomRotate(180, axis=2), T.RandomScale((0.8, 1.25))]
    return T.Compose(transforms + ([T.RandomJitter(0.01)] if jitter else []))


def pyg_loop(jitter: bool) -> Candidate:
    def build(clouds: torch.Tensor) -> Step:
        from torch_geometric.data import Data

        pipeline = _pyg_pipeline(jitter)
        return lambda: torch.stack([pipeline(Data(pos=cloud)).pos for cloud in clouds])

    note = "Compose on one Data(pos=(1024, 3)) per cloud (Python's random for angle and scale), then torch.stack"
    return Candidate("torch_geometric (per-cloud loop)", PER_SAMPLE, build, ("torch_geometric",), note)


def pyg_batch(jitter: bool) -> Candidate:
    def build(clouds: torch.Tensor) -> Step:
        from torch_geometric.data import Data

        pipeline = _pyg_pipeline(jitter)
        flat = clouds.reshape(-1, 3)
        return lambda: pipeline(Data(pos=flat)).pos.view_as(clouds)

    note = "Compose once on a Data holding every point of the batch: one angle and one scale for all clouds"
    return Candidate("torch_geometric (one draw per batch)", SHARED, build, ("torch_geometric",), note)


WORKLOADS = {
    f"rotate z + scale{' + jitter' if jitter else ''}": [
        augbench_candidate(jitter), augbench_candidate(jitter, keyed=True), augbench_candidate(jitter, anisotropic=True),
        pyg_loop(jitter), pyg_batch(jitter),
    ]
    for jitter in (True, False)
}

def print_table(name: str, timings: Sequence[Timing], settings: Settings, clock: str) -> None:
    """One row per candidate: clouds/s (median and best) and augbench's ratio to it."""
    batch = BATCH_SHAPE[0]
    rate = lambda t, best=False: t.images_per_second(batch, best)  # noqa: E731  (clouds per second)
    ours = next((t for t in timings if t.candidate.library == AUGBENCH and t.seconds), None)
    print(f"\n== {name}: float32 batch {'x'.join(map(str, BATCH_SHAPE))}, CPU, {clock} clock ==")
    print(f"{'library':<38} {'randomness':<11} {'clouds/s':>10} {'best':>10} {'ms/batch':>9} {'augbench / it':>14}")
    for timing in timings:
        row = f"{timing.candidate.library:<38} {timing.candidate.randomness:<11}"
        if not timing.seconds:
            print(f"{row} {timing.skipped}")
            continue
        ratio = "" if ours is None or is_augbench(timing.candidate) else f"{rate(ours) / rate(timing):.2f}x"
        milliseconds = 1000 * statistics.median(timing.seconds)
        print(f"{row} {rate(timing):>10,.0f} {rate(timing, True):>10,.0f} {milliseconds:>9.2f} {ratio:>14}")
    for timing in timings:
        if timing.candidate.note:
            print(f"  * {timing.candidate.library}: {timing.candidate.note}")
    print(
        f"  clouds/s = batch size / median seconds per batch over >= {settings.repeats} timed calls "
        f"(>= {settings.min_seconds:g} s) after {settings.warmup} warm-up calls; best = fastest call"
    )
    peers = [t for t in timings if t.seconds and not is_augbench(t.candidate)]
    for randomness, target in ((PER_SAMPLE, TARGET_RATIO), (SHARED, 1.0)):
        group = [t for t in peers if t.candidate.randomness == randomness]
        if ours is None or not group:
            continue
        fastest = max(group, key=rate)
        ratio = rate(ours) / rate(fastest)
        print(
            f"  vs the fastest {randomness} peer ({fastest.candidate.library}): augbench is {ratio:.2f}x it, "
            f"target >= {target:g}x {'reached' if ratio >= target else 'NOT reached'}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Throughput of augbench's point-cloud ops against PyG (CPU).")
    parser.add_argument("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    parser.add_argument("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall clock, or this process's CPU time")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = Settings(args.warmup, args.repeats, args.min_seconds)
    print_environment(PEERS)
    clouds = torch.randn(BATCH_SHAPE, generator=torch.Generator().manual_seed(0))
    clouds = clouds / clouds.norm(dim=-1).amax(1).view(-1, 1, 1)
    for name, candidates in WORKLOADS.items():
        timings = [time_candidate(candidate, clouds, settings, CLOCKS[args.clock]) for candidate in candidates]
        print_table(name, timings, settings, args.clock)
        print_load()


if __name__ == "__main__":
    main()
