"""Images/s of augbench's augmentation policies and peer libraries on the CPU (``make bench``).

Policies: RandAugment(N=2, M=9 of 31 bins), TrivialAugmentWide, AutoAugment (CIFAR-10 policy)
and AugMix (severity 3, width 3, random depth 1-3), on uint8 batches 512x3x32x32 and
64x3x224x224. Each row states how its randomness is drawn:

* ``per-sample``: every image draws its own ops, magnitudes and signs (augbench; torchvision v2
  applied image by image in a Python loop).
* ``op-shared``: one op choice (RandAugment/TrivialAugment op, AutoAugment sub-policy, AugMix
  chain) for the whole batch, some parameters per image (kornia: signs and op probabilities
  per image; torchvision/torchaug AugMix: mixing weights per image).
* ``shared``: one draw for the whole batch (torchvision v2 / torchaug called on the batch).

augbench's targets, per workload: at least ``1.5x`` the fastest peer of any randomness and at
least ``5x`` the fastest per-sample peer. Every peer is optional; a missing one prints
"not installed".

Beyond ``_harness``, this file times the candidates of a workload *interleaved* (round after
round, each candidate once per round, in a rotating order) so that load from other processes
hits every row alike, prints a third randomness kind and checks two targets; ``--profile``
prints where augbench's time goes (torch.profiler, per policy and batch).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from _harness import (
    AUGBENCH,
    PER_SAMPLE,
    SHARED,
    Candidate,
    Settings,
    Step,
    Workload,
    is_augbench,
    missing_module,
    print_environment,
    print_load,
)

PEERS = ("torchvision", "kornia", "torchaug")
OP_SHARED = "op-shared"
ANY_PEER_TARGET = 1.5
"""augbench (per-sample) must reach this many times the images/s of the fastest peer of any randomness."""
PER_SAMPLE_TARGET = 5.0
"""... and this many times the images/s of the fastest per-sample peer."""

SIZES = ((512, 32), (64, 224))


# ---------------------------------------------------------------------------------------------
# The policies, one spec per library.


@dataclass(frozen=True)
class Policy:
    """One policy and how each library builds it (``None``: the library has no such policy)."""

    name: str
    augbench: Callable[[], Callable]
    torchvision: Callable[[], Callable]
    kornia: Callable[[], Callable] | None
    torchaug: Callable[[], Callable] | None
    batched_randomness: str
    """Randomness of torchvision's and torchaug's call on the whole batch."""


def _augbench(name: str, **kwargs) -> Callable[[], Callable]:
    def make():
        import augbench as ab

        return getattr(ab, name)(**kwargs)

    return make


def _torchvision(name: str, **kwargs) -> Callable[[], Callable]:
    def make():
        from torchvision.transforms import v2

        if name == "AutoAugment":
            return v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
        return getattr(v2, name)(**kwargs)

    return make


def _kornia(name: str, *args, **kwargs) -> Callable[[], Callable]:
    def make():
        import kornia.augmentation.auto as KA

        return getattr(KA, name)(*args, **kwargs)

    return make


def _torchaug(name: str, **kwargs) -> Callable[[], Callable]:
    def make():
        import torchaug.transforms as TA

        if name == "AutoAugment":
            return TA.AutoAugment(TA.AutoAugmentPolicy.CIFAR10)
        return getattr(TA, name)(**kwargs)

    return make


POLICIES = (
    Policy(
        "RandAugment(N=2, M=9)",
        _augbench("RandAugment", num_ops=2, magnitude=9),
        _torchvision("RandAugment", num_ops=2, magnitude=9),
        _kornia("RandAugment", n=2, m=9),  # m / 30 of each range, as M=9 of 31 bins
        _torchaug("RandAugment", num_ops=2, magnitude=9),
        SHARED,
    ),
    Policy(
        "TrivialAugmentWide",
        _augbench("TrivialAugmentWide"),
        _torchvision("TrivialAugmentWide"),
        _kornia("TrivialAugment"),
        _torchaug("TrivialAugmentWide"),
        SHARED,
    ),
    Policy(
        "AutoAugment(CIFAR-10)",
        _augbench("AutoAugment", policy="cifar10"),
        _torchvision("AutoAugment"),
        _kornia("AutoAugment", "cifar10"),
        _torchaug("AutoAugment"),
        SHARED,
    ),
    Policy(
        "AugMix(severity=3, width=3)",
        _augbench("AugMix", severity=3, width=3),
        _torchvision("AugMix", severity=3, mixture_width=3),
        None,  # kornia 0.9 has no AugMix
        _torchaug("AugMix", severity=3, mixture_width=3),
        OP_SHARED,  # one op chain per batch, Dirichlet/Beta mixing weights per image
    ),
)


def augbench_candidate(policy: Policy) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        transform = policy.augbench()
        generator = torch.Generator().manual_seed(0)
        return lambda: transform(images, generator=generator)

    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), "one batched call, ops grouped by op; uint8 in and out")


def torchvision_loop(policy: Policy) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        torch.manual_seed(0)
        transform = policy.torchvision()
        return lambda: torch.stack([transform(image) for image in images])

    note = "the v2 transform applied to each (C, H, W) uint8 image, then torch.stack"
    return Candidate("torchvision v2 (per-sample loop)", PER_SAMPLE, build, ("torchvision",), note)


def torchvision_batched(policy: Policy) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        torch.manual_seed(0)
        transform = policy.torchvision()
        return lambda: transform(images)

    if policy.batched_randomness == SHARED:
        note = "the v2 transform called on the whole batch: one op/magnitude/sign draw for all images"
    else:
        note = "the v2 transform called on the whole batch: one op chain for all images, mixing weights per image"
    return Candidate("torchvision v2 (batched call)", policy.batched_randomness, build, ("torchvision",), note)


def kornia_candidate(policy: Policy) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        if policy.kornia is None:
            raise LookupError("kornia 0.9 has no AugMix (kornia.augmentation.auto: RandAugment, TrivialAugment, AutoAugment)")
        torch.manual_seed(0)
        transform = policy.kornia()

        def step() -> torch.Tensor:
            with torch.no_grad():
                augmented = transform(images.float().div_(255))
            return augmented.mul_(255).round_().to(torch.uint8)

        return step

    note = (
        "kornia.augmentation.auto on the batch: the op (RandAugment/TrivialAugment) or sub-policy (AutoAugment) "
        "is drawn once per batch, signs and op probabilities per image; needs float input, the "
        "uint8 -> float [0, 1] -> uint8 conversions are included"
    )
    return Candidate("kornia (batched)", OP_SHARED, build, ("kornia",), note if policy.kornia else "")


def torchaug_candidate(policy: Policy) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        from torchaug import ta_tensors

        torch.manual_seed(0)
        transform = policy.torchaug()
        batch = ta_tensors.BatchImages(images)
        return lambda: transform(batch)

    if policy.batched_randomness == SHARED:
        note = "torchaug.transforms on a BatchImages: one op/magnitude/sign draw for all images"
    else:
        note = "torchaug.transforms on a BatchImages: one op chain for all images, mixing weights per image"
    return Candidate("torchaug (batched)", policy.batched_randomness, build, ("torchaug",), note)


def workload(policy: Policy, batch_size: int, size: int) -> Workload:
    candidates = [
        augbench_candidate(policy),
        torchvision_loop(policy),
        torchvision_batched(policy),
        kornia_candidate(policy),
        torchaug_candidate(policy),
    ]
    return Workload(policy.name, (batch_size, 3, size, size), candidates)


WORKLOADS = [workload(policy, batch_size, size) for batch_size, size in SIZES for policy in POLICIES]


# ---------------------------------------------------------------------------------------------
# Interleaved timing and the two-target table (local additions to _harness).


@dataclass
class Row:
    candidate: Candidate
    step: Step | None = None
    skipped: str = ""
    seconds: list[float] | None = None

    def rate(self, batch_size: int, best: bool = False) -> float:
        """Images/s from the median call (or the fastest, with ``best``)."""
        assert self.seconds
        return batch_size / (min(self.seconds) if best else statistics.median(self.seconds))

    def mean_rate(self, batch_size: int) -> float:
        """Images/s over all timed calls: the throughput of a long run."""
        assert self.seconds
        return batch_size * len(self.seconds) / sum(self.seconds)


def build_row(candidate: Candidate, images: torch.Tensor) -> Row:
    missing = missing_module(candidate)
    if missing is not None:
        return Row(candidate, skipped=f"not installed ({missing})")
    try:
        step = candidate.build(images)
    except ImportError as error:
        return Row(candidate, skipped=f"not installed ({error})")
    except LookupError as error:
        return Row(candidate, skipped=f"n/a: {error}")
    try:
        out = step()  # also checks that the peer works with this torch
    except Exception as error:  # a peer broken on this torch build is reported, not raised
        return Row(candidate, skipped=f"not usable ({type(error).__name__}: {str(error)[:80]})")
    if tuple(out.shape) != tuple(images.shape) or out.dtype != torch.uint8:
        return Row(candidate, skipped=f"unexpected output {tuple(out.shape)} {out.dtype}")
    return Row(candidate, step, seconds=[])


def measure_interleaved(rows: Sequence[Row], settings: Settings) -> None:
    """Warm every step up, then run rounds: each round times each unfinished step once.

    The order rotates each round; a step is finished after ``repeats`` calls and
    ``min_seconds`` of timed calls.
    """
    active = [row for row in rows if row.step is not None]
    for row in active:
        for _ in range(settings.warmup):
            row.step()
    round_index = 0
    while True:
        pending = [row for row in active if len(row.seconds) < settings.repeats or sum(row.seconds) < settings.min_seconds]
        if not pending:
            return
        shift = round_index % len(pending)
        for row in pending[shift:] + pending[:shift]:
            start = time.perf_counter()
            row.step()
            row.seconds.append(time.perf_counter() - start)
        round_index += 1


def print_table(work: Workload, rows: Sequence[Row], settings: Settings) -> dict[str, bool | None]:
    batch_size = work.batch_shape[0]
    ours = next((r for r in rows if r.candidate.library == AUGBENCH and r.seconds), None)
    ours_rate = ours.rate(batch_size) if ours else None
    shape = "x".join(str(s) for s in work.batch_shape)
    print(f"\n== {work.name}: uint8 batch {shape}, CPU ==")
    print(f"{'library':<34} {'randomness':<11} {'images/s':>10} {'mean':>10} {'best':>11} {'augbench / it':>14}")
    for row in rows:
        label = f"{row.candidate.library:<34} {row.candidate.randomness:<11}"
        if not row.seconds:
            print(f"{label} {row.skipped}")
            continue
        rate = row.rate(batch_size)
        mean = row.mean_rate(batch_size)
        ratio = "" if ours_rate is None or is_augbench(row.candidate) else f"{ours_rate / rate:.2f}x"
        print(f"{label} {rate:>10,.0f} {mean:>10,.0f} {row.rate(batch_size, best=True):>11,.0f} {ratio:>14}")
    for row in rows:
        if row.candidate.note and row.seconds:
            print(f"  * {row.candidate.library}: {row.candidate.note}")
    print(
        f"  images/s = batch size / median seconds per batch over >= {settings.repeats} timed calls "
        f"(>= {settings.min_seconds:g} s), candidates interleaved, after {settings.warmup} warm-up calls; mean = batch size / "
        "mean seconds (the throughput of a long run: a shared draw's cost depends on the op drawn); best = fastest call; "
        "ratios and targets use images/s"
    )
    return print_verdict(rows, batch_size, ours_rate)


def print_verdict(rows: Sequence[Row], batch_size: int, ours_rate: float | None) -> dict[str, bool | None]:
    peers = [r for r in rows if r.seconds and not is_augbench(r.candidate)]
    verdict: dict[str, bool | None] = {"any": None, "per-sample": None}
    if ours_rate is None or not peers:
        print("  verdict: nothing to compare (augbench or every peer is missing)")
        return verdict
    checks = (
        ("any", "fastest peer (any randomness)", peers, ANY_PEER_TARGET),
        ("per-sample", "fastest per-sample peer", [r for r in peers if r.candidate.randomness == PER_SAMPLE], PER_SAMPLE_TARGET),
    )
    ours = next(r for r in rows if r.candidate.library == AUGBENCH and r.seconds)
    for key, title, group, target in checks:
        if not group:
            print(f"  {title}: none measured")
            continue
        fastest = max(group, key=lambda r: r.rate(batch_size))
        ratio = ours_rate / fastest.rate(batch_size)
        verdict[key] = ratio >= target
        met = "MET" if ratio >= target else "NOT met"
        # A shared draw's cost depends on the op drawn (AutoAugment's often draw no op at all),
        # so its median can be far from its throughput over many batches: say the mean too.
        by_mean = max(group, key=lambda r: r.mean_rate(batch_size))
        mean_ratio = ours.mean_rate(batch_size) / by_mean.mean_rate(batch_size)
        print(
            f"  {title}: {fastest.candidate.library} [{fastest.candidate.randomness}] "
            f"({fastest.rate(batch_size):,.0f} images/s); augbench is {ratio:.2f}x it, target >= {target:g}x {met} "
            f"(by mean images/s: {mean_ratio:.2f}x {by_mean.candidate.library})"
        )
    return verdict


def profile_augbench(work: Workload, images: torch.Tensor, rows: int = 12) -> None:
    """torch.profiler's table of augbench's step on this workload (self CPU time per op)."""
    from torch.profiler import ProfilerActivity, profile

    step = augbench_candidate(next(p for p in POLICIES if p.name == work.name)).build(images)
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            step()
    print(f"\n-- profile: augbench {work.name}, batch {'x'.join(map(str, work.batch_shape))} (5 calls) --")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def run(workloads: Sequence[Workload], settings: Settings, profile: bool) -> None:
    print_environment(PEERS)
    summary = []
    for work in workloads:
        images = torch.randint(0, 256, work.batch_shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        if profile:
            profile_augbench(work, images)
            continue
        rows = [build_row(candidate, images) for candidate in work.candidates]
        measure_interleaved(rows, settings)
        verdict = print_table(work, rows, settings)
        print_load()
        summary.append((work, verdict))
    if summary:
        print("\n== targets (augbench per-sample) ==")
        for work, verdict in summary:
            shape = "x".join(str(s) for s in work.batch_shape)
            marks = {k: "n/a" if v is None else ("met" if v else "NOT met") for k, v in verdict.items()}
            print(
                f"  {work.name:<28} {shape:<13} >= {ANY_PEER_TARGET:g}x fastest peer: {marks['any']:<8} "
                f">= {PER_SAMPLE_TARGET:g}x fastest per-sample peer: {marks['per-sample']}"
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Throughput of augbench's policies against peer libraries (CPU).")
    parser.add_argument("--only", default="", help="run only workloads whose policy name contains this text")
    parser.add_argument("--size", type=int, default=0, help="run only the workloads of this image side (32 or 224)")
    parser.add_argument("--library", default="", help="time only peers whose label contains this text (and augbench)")
    parser.add_argument("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    parser.add_argument("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--profile", action="store_true", help="profile augbench's step per workload instead of timing")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    selected = [
        Workload(w.name, w.batch_shape, [c for c in w.candidates if is_augbench(c) or args.library.lower() in c.library.lower()])
        for w in WORKLOADS
        if args.only.lower() in w.name.lower() and (not args.size or w.batch_shape[-1] == args.size)
    ]
    run(selected, Settings(args.warmup, args.repeats, args.min_seconds), args.profile)


if __name__ == "__main__":
    main()
