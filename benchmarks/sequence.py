"""Sequences/s of augbench's item-sequence ops against a per-sample Python loop (CPU).

Workloads, on a 512 x 50 batch of left-padded item ids (lengths uniform in 1..50, ids in
2..1683, MovieLens 100K's id range):

1. crop (eta 0.6) then mask (gamma 0.3) then reorder (beta 0.6) on every sequence;
2. one op per sequence, drawn uniformly from the three (CL4SRec's augmentation of a view):
   ``ModalityRandAugment("sequence", num_ops=1, magnitude=5)``, i.e. eta 0.6, gamma 0.4, beta 0.5.

No pip library implements CL4SRec's item crop / mask / reorder, so the peer is **our
re-implementation of the reference procedure** (Xie et al. 2022, CL4SRec; the same loop shape
as the authors' code): a Python loop over the sequences with the ``random`` module, each a list
(``randint`` for the window start, ``sample`` for the masked positions, ``shuffle`` for the
window), left-padded back into the ``(B, L)`` tensor a model takes. It is not a library; the
sequences are given to it as Python lists (prepared before timing, as a dataset would hold
them), and building the padded output tensor is timed. Run with the peers' venv:

    /work/main/.venv-peers/bin/python benchmarks/sequence.py --threads 1
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections.abc import Callable, Sequence

import torch

from _harness import AUGBENCH, PER_SAMPLE, Candidate, Settings, Step, Timing, print_environment, print_load, time_candidate

BATCH, LENGTH, NUM_ITEMS = 512, 50, 1682
ETA, GAMMA, BETA = 0.6, 0.3, 0.6
MASK_ID = 1
TARGET_RATIO = 10.0
"""The goal for these ops: at least this many times the sequences/s of the per-sample loop."""


def sequences() -> torch.Tensor:
    """The benchmark batch: ``(512, 50)`` int64, left-padded, lengths uniform in 1..50."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(2, NUM_ITEMS + 2, (BATCH, LENGTH), generator=generator)
    lengths = torch.randint(1, LENGTH + 1, (BATCH,), generator=generator)
    return ids.masked_fill(torch.arange(LENGTH).flip(0) >= lengths[:, None], 0)


# -- augbench -------------------------------------------------------------------------------------


def _three_ops():
    import augbench as ab
    from augbench.transforms import ItemCrop, ItemMask, ItemReorder

    return ab.Compose([ItemCrop(eta=ETA), ItemMask(gamma=GAMMA), ItemReorder(beta=BETA)])


def _one_of_three():
    from augbench.policies.modal import ModalityRandAugment

    return ModalityRandAugment("sequence", num_ops=1, magnitude=5)  # level 0.5: eta 0.6, gamma 0.4, beta 0.5


def augbench_candidate(build_pipeline: Callable[[], object], keyed: bool) -> Candidate:
    def build(items: torch.Tensor) -> Step:
        pipeline = build_pipeline()
        if keyed:
            keys = torch.arange(items.shape[0])
            return lambda: pipeline(items, keys=keys, seed=0)
        generator = torch.Generator().manual_seed(0)
        return lambda: pipeline(items, generator=generator)

    if keyed:
        return Candidate(f"{AUGBENCH} (keyed draws)", PER_SAMPLE, build, ("augbench",),
                         "keys = sample ids, seed 0: every draw a function of (seed, key) alone")
    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), "one batched call on the (512, 50) int64 batch, torch.Generator draws")


# -- the per-sample reference loop (our re-implementation) --------------------------------------------


def _crop(items: list[int], rng: random.Random, eta: float) -> list[int]:
    size = max(1, math.ceil(eta * len(items) - 1e-9))
    start = rng.randint(0, len(items) - size)
    return items[start : start + size]


def _mask(items: list[int], rng: random.Random, gamma: float) -> list[int]:
    out = list(items)
    for position in rng.sample(range(len(items)), int(gamma * len(items) + 1e-9)):
        out[position] = MASK_ID
    return out


def _reorder(items: list[int], rng: random.Random, beta: float) -> list[int]:
    size = math.ceil(beta * len(items) - 1e-9)
    start = rng.randint(0, len(items) - size)
    window = items[start : start + size]
    rng.shuffle(window)
    return items[:start] + window + items[start + size :]


def _padded(rows: Sequence[list[int]]) -> torch.Tensor:
    return torch.tensor([[0] * (LENGTH - len(row)) + row for row in rows], dtype=torch.int64)


def loop_candidate(one_of_three: bool) -> Candidate:
    def build(items: torch.Tensor) -> Step:
        rows = [[int(v) for v in row if v != 0] for row in items]
        rng = random.Random(0)
        if one_of_three:  # the settings of ModalityRandAugment("sequence", magnitude=5)
            ops = ((_crop, 0.6), (_mask, 0.4), (_reorder, 0.5))

            def one(row: list[int]) -> list[int]:
                op, setting = rng.choice(ops)
                return op(row, rng, setting)

            return lambda: _padded([one(row) for row in rows])
        return lambda: _padded([_reorder(_mask(_crop(row, rng, ETA), rng, GAMMA), rng, BETA) for row in rows])

    note = ("our re-implementation of CL4SRec's per-sample procedure (not a library): Python lists + random, "
            "then left-padded into a (512, 50) tensor (timed); list preparation excluded")
    return Candidate("per-sample Python loop (reference)", PER_SAMPLE, build, (), note)


# -- the table ---------------------------------------------------------------------------------------


def print_table(name: str, timings: Sequence[Timing], settings: Settings) -> None:
    ours = next((t for t in timings if t.candidate.library == AUGBENCH and t.seconds), None)
    ours_rate = ours.images_per_second(BATCH) if ours else None
    print(f"\n== {name}: int64 batch {BATCH}x{LENGTH}, CPU ==")
    print(f"{'library':<38} {'randomness':<11} {'seq/s':>10} {'best':>10} {'ms/batch':>9} {'augbench / it':>14}")
    for timing in timings:
        row = f"{timing.candidate.library:<38} {timing.candidate.randomness:<11}"
        if not timing.seconds:
            print(f"{row} {timing.skipped}")
            continue
        rate = timing.images_per_second(BATCH)
        ratio = "" if ours_rate is None or timing is ours else f"{ours_rate / rate:.2f}x"
        milliseconds = 1000 * statistics.median(timing.seconds)
        print(f"{row} {rate:>10,.0f} {timing.images_per_second(BATCH, best=True):>10,.0f} {milliseconds:>9.2f} {ratio:>14}")
    for timing in timings:
        if timing.candidate.note:
            print(f"  * {timing.candidate.library}: {timing.candidate.note}")
    print(f"  seq/s = {BATCH} / median seconds per batch over >= {settings.repeats} timed calls "
          f"(>= {settings.min_seconds:g} s) after {settings.warmup} warm-up calls; best = fastest call")
    loop = next((t for t in timings if t.candidate.library.startswith("per-sample") and t.seconds), None)
    if ours_rate is not None and loop is not None:
        ratio = ours_rate / loop.images_per_second(BATCH)
        verdict = "reached" if ratio >= TARGET_RATIO else "NOT reached"
        print(f"  verdict: augbench is {ratio:.1f}x the per-sample loop, target >= {TARGET_RATIO:g}x {verdict}")


WORKLOADS = {
    f"crop({ETA}) + mask({GAMMA}) + reorder({BETA}), all three per sequence": (_three_ops, False),
    "one of crop(0.6) / mask(0.4) / reorder(0.5) per sequence (CL4SRec's view)": (_one_of_three, True),
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sequences/s of augbench's item-sequence ops vs a per-sample loop (CPU).")
    parser.add_argument("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    parser.add_argument("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = Settings(args.warmup, args.repeats, args.min_seconds)
    print_environment(())
    items = sequences()
    for name, (pipeline, one_of_three) in WORKLOADS.items():
        candidates = [augbench_candidate(pipeline, False), augbench_candidate(pipeline, True), loop_candidate(one_of_three)]
        print_table(name, [time_candidate(candidate, items, settings) for candidate in candidates], settings)
        print_load()


if __name__ == "__main__":
    main()
