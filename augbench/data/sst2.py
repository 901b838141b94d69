"""SST-2 (Socher et al. 2013, GLUE version): binary sentiment of movie-review sentences, as token ids.

Files: GLUE's ``train.tsv`` (67,349 rows, short phrases included) and ``dev.tsv`` (872
sentences) in the ``sst2`` folder, UTF-8, header ``sentence<TAB>label``, no quoting, label 0
(negative) or 1 (positive); both SHA-256-checked (values from ``shared/data/README.md``).
Splits: ``train`` is ``train.tsv``; GLUE's test labels are not public, so ``test`` is
``dev.tsv`` (the usual practice). The text is already lower-cased and tokenized, so the
tokenizer splits on whitespace.

Vocabulary: built from the training split only (never from dev), the words seen at least
``min_count`` times, most frequent first; ids 0 pad, 1 unknown, 2 mask, words from 3
(:mod:`augbench.text.vocabulary`). It is registered as the vocabulary source ``sst2``
(options ``root``, ``min_count``, ``verify``), so a transform spec's ``vocabulary: sst2`` is the
vocabulary of ``load_dataset("sst2")`` (same ``min_count`` and ``root``). Built once per
training file and ``min_count``, per process.
"""

from __future__ import annotations

import os
from typing import Literal

import torch

from augbench.data.base import DATASETS, Dataset
from augbench.data.files import FileBytes, find_file, read_file, resolve_root, verify_sha256
from augbench.errors import ConfigError, DataError
from augbench.text.vocabulary import VOCABULARIES, Vocabulary, build_vocabulary

__all__ = ["load_sst2", "sst2_vocabulary", "parse_sst2"]

_SUBDIR = "sst2"
_FILES = {"train": "train.tsv", "test": "dev.tsv"}
_SHA256 = {
    "train.tsv": ("48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",),
    "dev.tsv": ("54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",),
}
_HEADER = "sentence\tlabel"
CLASS_NAMES = ("negative", "positive")

_VOCABULARY_CACHE: dict[tuple[tuple[str, int, int, int], int], Vocabulary] = {}


def parse_sst2(dataset: str, data: FileBytes) -> tuple[list[str], list[int]]:
    """The sentences (stripped) and labels of a GLUE SST-2 TSV file.

    Raises:
        DataError: not UTF-8, a wrong header, a line without exactly one tab, a label other
            than 0/1, or an empty sentence; one line naming the file and line.
    """
    try:
        lines = data.content.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{dataset}: {data.path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not lines or lines[0].strip() != _HEADER:
        got = lines[0][:40] if lines else "an empty file"
        raise DataError(f"{dataset}: {data.path} line 1: expected the header 'sentence<TAB>label', got {got!r}")
    sentences: list[str] = []
    labels: list[int] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        where = f"{dataset}: {data.path} line {number}"
        if len(fields) != 2:
            raise DataError(f"{where}: {len(fields)} tab-separated fields, expected 2 (sentence, label)")
        sentence, label = fields[0].strip(), fields[1].strip()
        if label not in ("0", "1"):
            raise DataError(f"{where}: label {label!r} is not 0 (negative) or 1 (positive)")
        if not sentence:
            raise DataError(f"{where}: empty sentence; every row needs at least one token")
        sentences.append(sentence)
        labels.append(int(label))
    if not sentences:
        raise DataError(f"{dataset}: {data.path}: no rows after the header; the file is truncated: copy it again")
    return sentences, labels


def _read(dataset: str, root: str | os.PathLike[str] | None, split: str, verify: bool) -> FileBytes:
    if split not in _FILES:
        raise ConfigError(f"{dataset}: split={split!r} is not one of 'train', 'test' (test = GLUE's dev.tsv)")
    folder = resolve_root(dataset, root, _SUBDIR)
    name = _FILES[split]
    data = read_file(dataset, find_file(dataset, folder, (name,), f"SST-2 {split} split (GLUE TSV)", subdir=_SUBDIR))
    if verify:
        verify_sha256(dataset, data, _SHA256[name])
    return data


@VOCABULARIES.register("sst2")
def sst2_vocabulary(root: str | os.PathLike[str] | None = None, min_count: int = 1, verify: bool = True) -> Vocabulary:
    """The vocabulary of SST-2's training split: words seen ``min_count`` times or more.

    Args:
        root: the ``sst2`` folder; default ``$AUGBENCH_DATA/sst2``.
        min_count: minimum number of occurrences in ``train.tsv`` (>= 1).
        verify: check the file's SHA-256.
    """
    data = _read("sst2", root, "train", verify)
    key = (data.stamp, min_count)
    if key not in _VOCABULARY_CACHE:
        sentences, _ = parse_sst2("sst2", data)
        _VOCABULARY_CACHE[key] = build_vocabulary(sentences, min_count, name="sst2")
    return _VOCABULARY_CACHE[key]


@DATASETS.register("sst2")
def load_sst2(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
    min_count: int = 1,
    max_length: int = 64,
) -> Dataset:
    """SST-2 sentences as ``(N, max_length)`` int64 token ids, right-padded with 0.

    Args:
        root: the ``sst2`` folder holding ``train.tsv`` and ``dev.tsv``; default ``$AUGBENCH_DATA/sst2``.
        split: ``"train"`` (67,349 rows) or ``"test"`` (GLUE's dev set, 872 sentences).
        verify: check the SHA-256 of both files.
        min_count: the vocabulary keeps training words seen this often (rarer ones -> id 1).
        max_length: tokens per row; longer sentences are cut (SST-2's longest has 52).

    Returns:
        A ``text`` :class:`~augbench.data.base.Dataset`: labels 0 negative / 1 positive,
        ``vocab_size`` and ``tokens`` from the training vocabulary.

    Raises:
        ConfigError: unknown ``split``, bad ``max_length``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing, corrupt or malformed file (one line naming it).
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ConfigError(f"sst2: max_length={max_length!r} must be an int >= 1 (tokens per sentence)")
    vocabulary = sst2_vocabulary(root, min_count, verify)
    sentences, labels = parse_sst2("sst2", _read("sst2", root, split, verify))
    return Dataset(
        "sst2",
        vocabulary.encode(sentences, max_length),
        torch.tensor(labels, dtype=torch.int64),
        CLASS_NAMES,
        modality="text",
        vocab_size=len(vocabulary),
        tokens=vocabulary.words,
    )
