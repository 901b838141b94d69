"""Sentences/s of augbench's EDA-style word ops against nlpaug and a per-sample EDA loop (CPU).

Workload: 512 SST-2 sentences (the first 512 of GLUE's dev.tsv, 4-47 words, ids padded to
L = 64) through three word ops per sentence, each with its own draw: random swap (alpha 0.1),
random deletion (0.1), then synonym replacement (0.1; WordNet synonyms in the SST-2 vocabulary).

Candidates:

* augbench: ``Compose([TextRandomSwap, TextRandomDelete, TextSynonymReplace])`` on the
  ``(512, 64)`` int64 ids, one batched call (torch.Generator draws; and keyed draws), and the
  same with the string round trip timed (``Vocabulary.encode`` -> pipeline -> ``decode``),
  since nlpaug takes and returns strings.
* nlpaug ``RandomWordAug`` swap -> delete -> substitute, per sentence (how its docs call it) and
  through ``augment(list)`` / ``naf.Sequential`` (still one draw per sentence: nlpaug has no
  one-draw-per-batch mode). nlpaug's ``SynonymAug`` needs nltk and its WordNet corpus, which
  are not installed and cannot be downloaded here, so its synonym step is replaced by
  ``RandomWordAug(action="substitute", target_words=...)`` (a random word from a list): the
  nearest offline op, cheaper than a synonym lookup. nlpaug's swap exchanges neighbouring
  words and its delete removes ``max(1, 0.1 n)`` words (counts, not probabilities).
* a per-sample EDA loop (reference): our re-implementation of the loop shape of Wei & Zou's
  ``eda.py`` (Python lists and ``random``; a word -> synonyms dict built from the same WordNet
  table before timing), strings in and out. It is not a library.

Run with the peers' venv (nlpaug installed), one thread for a like-for-like comparison:

    /work/main/.venv-peers/bin/python benchmarks/text.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
from collections.abc import Sequence
from pathlib import Path

import torch

from _harness import AUGBENCH, PER_SAMPLE, Candidate, Settings, Step, Timing, print_environment, print_load, time_candidate

BATCH, LENGTH, ALPHA = 512, 64, 0.1
TARGET_RATIO = 10.0
"""The goal: at least this many times the sentences/s of the fastest nlpaug row (all draw per sentence)."""
PEERS = ("nlpaug",)


def _data_folder() -> Path:
    return Path(os.environ.get("AUGBENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def sentences() -> list[str]:
    """The first 512 sentences of SST-2's dev.tsv (GLUE), stripped."""
    lines = (_data_folder() / "sst2" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[0].strip() for line in lines[:BATCH]]


def _pipeline():
    import augbench as ab
    from augbench.transforms import TextRandomDelete, TextRandomSwap, TextSynonymReplace

    return ab.Compose([TextRandomSwap(ALPHA), TextRandomDelete(ALPHA), TextSynonymReplace({"type": "sst2", "root": str(_data_folder() / "sst2")}, ALPHA)])


def _vocabulary():
    from augbench.text import load_vocabulary

    return load_vocabulary({"type": "sst2", "root": str(_data_folder() / "sst2")})


# -- augbench ---------------------------------------------------------------------------------------


def augbench_ids(keyed: bool) -> Candidate:
    def build(texts: list[str]) -> Step:
        pipeline, ids = _pipeline(), _vocabulary().encode(texts, LENGTH)
        pipeline(ids, generator=torch.Generator())  # builds the synonym table once, before timing
        if keyed:
            keys = torch.arange(ids.shape[0])
            return lambda: pipeline(ids, keys=keys, seed=0)
        generator = torch.Generator().manual_seed(0)
        return lambda: pipeline(ids, generator=generator)

    if keyed:
        return Candidate(f"{AUGBENCH} (keyed draws)", PER_SAMPLE, build, ("augbench",),
                         "keys = sample ids, seed 0: every draw a function of (seed, key) alone")
    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",),
                     "one batched call on the (512, 64) int64 ids (tokenised before timing)")


def augbench_strings() -> Candidate:
    def build(texts: list[str]) -> Step:
        pipeline, vocabulary = _pipeline(), _vocabulary()
        generator = torch.Generator().manual_seed(0)
        pipeline(vocabulary.encode(texts, LENGTH), generator=generator)
        return lambda: vocabulary.decode(pipeline(vocabulary.encode(texts, LENGTH), generator=generator))

    return Candidate(f"{AUGBENCH} (strings in and out)", PER_SAMPLE, build, ("augbench",),
                     "Vocabulary.encode (whitespace split, dict lookup) + the pipeline + decode, all timed")


# -- nlpaug -----------------------------------------------------------------------------------------


def _nlpaug_ops(texts: list[str]):
    import nlpaug.augmenter.word as naw

    random.seed(0)
    targets = sorted({word for text in texts for word in text.split()})
    return (naw.RandomWordAug(action="swap", aug_p=ALPHA), naw.RandomWordAug(action="delete", aug_p=ALPHA),
            naw.RandomWordAug(action="substitute", aug_p=ALPHA, target_words=targets))


def nlpaug_loop() -> Candidate:
    def build(texts: list[str]) -> Step:
        swap, delete, substitute = _nlpaug_ops(texts)

        def one(text: str) -> str:
            return substitute.augment(delete.augment(swap.augment(text)[0])[0])[0]

        return lambda: [one(text) for text in texts]

    return Candidate("nlpaug (per-sentence loop)", PER_SAMPLE, build, ("nlpaug",),
                     "RandomWordAug swap -> delete -> substitute (stand-in for SynonymAug), augment(str) per sentence")


def nlpaug_lists(flow: bool) -> Candidate:
    def build(texts: list[str]) -> Step:
        ops = _nlpaug_ops(texts)
        if flow:
            import nlpaug.flow as naf

            sequential = naf.Sequential(list(ops))
            return lambda: sequential.augment(texts)

        def step() -> list[str]:
            out = texts
            for op in ops:
                out = op.augment(out)
            return out

        return step

    if flow:
        return Candidate("nlpaug (naf.Sequential, list)", PER_SAMPLE, build, ("nlpaug",),
                         "naf.Sequential([swap, delete, substitute]).augment(list of 512)")
    return Candidate("nlpaug (augment(list) x 3)", PER_SAMPLE, build, ("nlpaug",),
                     "each op's augment(list of 512): a loop over the sentences inside nlpaug")


# -- the per-sample EDA loop (our re-implementation) ------------------------------------------------------


def _synonym_dict() -> dict[str, list[str]]:
    from augbench.text import synonym_table

    vocabulary = _vocabulary()
    table = synonym_table(vocabulary).tolist()
    return {vocabulary.words[i]: [vocabulary.words[s] for s in row if s >= 0] for i, row in enumerate(table) if row[0] >= 0}


def eda_loop() -> Candidate:
    def build(texts: list[str]) -> Step:
        synonyms, rng = _synonym_dict(), random.Random(0)

        def swap(words: list[str]) -> list[str]:
            words = list(words)
            for _ in range(max(1, int(ALPHA * len(words))) if len(words) > 1 else 0):
                i, j = rng.sample(range(len(words)), 2)
                words[i], words[j] = words[j], words[i]
            return words

        def delete(words: list[str]) -> list[str]:
            kept = [word for word in words if rng.random() > ALPHA]
            return kept or [rng.choice(words)]

        def replace(words: list[str]) -> list[str]:
            words, count = list(words), max(1, int(ALPHA * len(words)))
            candidates = [i for i, word in enumerate(words) if word in synonyms]
            rng.shuffle(candidates)
            for i in candidates[:count]:
                words[i] = rng.choice(synonyms[words[i]])
            return words

        return lambda: [" ".join(replace(delete(swap(text.split())))) for text in texts]

    return Candidate("per-sentence EDA loop (reference)", PER_SAMPLE, build, ("augbench",),
                     "our re-implementation of eda.py's loop shape (not a library): lists + random, strings in and out")


# -- the table ----------------------------------------------------------------------------------------


def print_table(timings: Sequence[Timing], settings: Settings) -> None:
    ours = next((t for t in timings if t.candidate.library == AUGBENCH and t.seconds), None)
    ours_rate = ours.images_per_second(BATCH) if ours else None
    print(f"\n== swap({ALPHA}) + delete({ALPHA}) + synonym replacement({ALPHA}) per sentence: "
          f"{BATCH} SST-2 sentences, ids {BATCH}x{LENGTH}, CPU ==")
    print(f"{'library':<36} {'randomness':<11} {'sent/s':>10} {'best':>10} {'ms/batch':>9} {'augbench / it':>14}")
    for timing in timings:
        row = f"{timing.candidate.library:<36} {timing.candidate.randomness:<11}"
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
    print(f"  sent/s = {BATCH} / median seconds per batch over >= {settings.repeats} timed calls "
          f"(>= {settings.min_seconds:g} s) after {settings.warmup} warm-up calls; best = fastest call")
    if ours_rate is None:
        return
    peers = [t for t in timings if t.seconds and t.candidate.library.startswith("nlpaug")]
    if peers:
        fastest = max(peers, key=lambda t: t.images_per_second(BATCH))
        ratio = ours_rate / fastest.images_per_second(BATCH)
        verdict = "reached" if ratio >= TARGET_RATIO else "NOT reached"
        print(f"  verdict: augbench is {ratio:.1f}x the fastest peer library row ({fastest.candidate.library}), "
              f"target >= {TARGET_RATIO:g}x {verdict}")
    reference = next((t for t in timings if t.seconds and "(reference)" in t.candidate.library), None)
    if reference is not None:
        print(f"  augbench is {ours_rate / reference.images_per_second(BATCH):.1f}x the plain-Python EDA loop "
              "(no library overhead: a bound for what batching wins on sentences this short)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sentences/s of augbench's text ops vs nlpaug and an EDA loop (CPU).")
    parser.add_argument("--repeats", type=int, default=Settings.repeats, help="minimum number of timed calls")
    parser.add_argument("--min-seconds", type=float, default=Settings.min_seconds, help="minimum timed seconds per candidate")
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="untimed calls before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = Settings(args.warmup, args.repeats, args.min_seconds)
    print_environment(PEERS)
    texts = sentences()
    candidates = [augbench_ids(False), augbench_ids(True), augbench_strings(), nlpaug_loop(), nlpaug_lists(False),
                  nlpaug_lists(True), eda_loop()]
    print_table([time_candidate(candidate, texts, settings) for candidate in candidates], settings)
    print_load()


if __name__ == "__main__":
    main()
