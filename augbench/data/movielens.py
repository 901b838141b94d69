"""MovieLens 100K (Harper & Konstan 2015) as next-item prediction over item sequences.

Files (the original GroupLens ``ml-100k/`` folder, SHA-256-checked): ``u.data`` (tab-separated
user id, item id, rating, Unix time; 100,000 ratings by 943 users on 1,682 movies) and ``u.item``
(``|``-separated, ISO-8859-1; the movie titles). Every rating counts as an interaction (implicit
feedback; the rating value is not used).

Sequences: each user's items sorted by time, **ties broken by item id** (75,772 of the ratings
share their timestamp with another rating of the same user, so the order inside a timestamp is
undefined in the data). Split leave-one-out by time, the usual protocol of sequential
recommendation (SASRec, CL4SRec): a user's last item is the test target, the second-to-last the
validation target, the rest is training. Samples are ``(history, next item)`` pairs:

- ``train``: every prefix of the training part (targets at positions 1 .. n-3), or the last
  ``train_targets`` of them per user; 97,171 samples with all prefixes;
- ``val``: one per user, history = the training part, target = the second-to-last item;
- ``test``: one per user, history = everything but the last item, target = the last item.

A history is the most recent ``max_length`` items, **left-padded** with 0 (the ``sequence``
modality). Ids: 0 = padding, 1 = the reserved mask id, item ``i`` of the files = id ``i + 1``;
so ``vocab_size = class count = 1,684`` and labels are ids 2..1,683 (``class_names``: ``"<pad>"``,
``"<mask>"``, then the titles; the first two are never targets).

The item correlation table of :class:`~augbench.transforms.sequence.ItemInsert` /
``ItemSubstitute`` (``dataset="movielens_100k"``) counts co-occurrences within
:data:`CORRELATION_WINDOW` positions in the users' **training parts only** (never a validation
or test target).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from augbench.data.base import DATASETS, Dataset
from augbench.data.files import find_file, read_file, resolve_root, verify_sha256
from augbench.errors import ConfigError, DataError
from augbench.functional.sequence import FIRST_ITEM_ID, cooccurrence_table
from augbench.transforms.sequence import ITEM_CORRELATIONS

__all__ = ["ItemSequences", "read_movielens_100k", "load_movielens_100k", "movielens_100k_correlations",
           "CORRELATION_WINDOW"]

_NAME = "movielens_100k"
_SUBDIR = "ml-100k"
_SHA256 = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
}
_SPLITS = ("train", "val", "test")
_HELD_OUT = 2  # validation and test target per user
CORRELATION_WINDOW = 3
"""Items at most this many positions apart in a training sequence co-occur."""


@dataclass(frozen=True)
class ItemSequences:
    """Every user's interactions in time order, as augbench ids (raw item id + 1).

    Attributes:
        items: ``(total,)`` int64 ids of all users, user after user.
        starts: ``(users,)`` int64 index of each user's first item in ``items``.
        lengths: ``(users,)`` int64 number of items of each user (>= 3).
        titles: the movie titles, ``titles[i]`` of raw item id ``i + 1``.
    """

    items: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    titles: tuple[str, ...]

    @property
    def vocab_size(self) -> int:
        """Padding, mask and every item."""
        return len(self.titles) + FIRST_ITEM_ID

    def training_parts(self) -> Tensor:
        """``(users, longest)`` left-padded training parts (all but the last two items)."""
        users = np.arange(len(self.starts))
        return _histories(self, users, self.starts + self.lengths - _HELD_OUT, int((self.lengths - _HELD_OUT).max()))


def _parse_ratings(path: Path, text: str) -> np.ndarray:
    """``(N, 4)`` int64 user, item, rating, time; one line naming the first bad line."""
    lines = text.splitlines()
    tokens = text.split()
    if len(tokens) == 4 * len(lines):
        try:
            return np.array(tokens, dtype=np.int64).reshape(-1, 4)
        except ValueError:
            pass
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) != 4 or not all(field.strip().isdigit() for field in fields):
            raise DataError(
                f"{_NAME}: {path} line {number}: expected 4 tab-separated whole numbers "
                f"(user, item, rating, time), got {line[:60]!r}"
            )
    raise DataError(f"{_NAME}: {path}: no ratings; the file is truncated: copy it again")


def _parse_titles(path: Path, text: str) -> tuple[str, ...]:
    """Titles by item id 1..I; one line if the ids are not 1..I in order."""
    titles = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("|")
        if len(fields) < 2 or fields[0] != str(number):
            raise DataError(f"{_NAME}: {path} line {number}: expected '{number}|<title>|...', got {line[:60]!r}")
        titles.append(fields[1])
    if not titles:
        raise DataError(f"{_NAME}: {path}: no movies; the file is truncated: copy it again")
    return tuple(titles)


def _read(folder: Path, name: str, verify: bool) -> tuple[Path, str]:
    path = find_file(_NAME, folder, (name,), "MovieLens 100K " + name, subdir=_SUBDIR)
    data = read_file(_NAME, path)
    if verify:
        verify_sha256(_NAME, data, (_SHA256[name],))
    return path, data.content.decode("latin-1")


@functools.lru_cache(maxsize=4)
def _read_cached(folder: str, verify: bool) -> ItemSequences:
    titles = _parse_titles(*_read(Path(folder), "u.item", verify))
    path, text = _read(Path(folder), "u.data", verify)
    ratings = _parse_ratings(path, text)
    user, item, time = ratings[:, 0], ratings[:, 1], ratings[:, 3]
    if item.min() < 1 or item.max() > len(titles):
        raise DataError(f"{_NAME}: {path}: item ids {item.min()}..{item.max()} fall outside u.item's 1..{len(titles)}")
    order = np.lexsort((item, time, user))  # by user, then time, then item id
    user, item = user[order], item[order]
    _, starts, lengths = np.unique(user, return_index=True, return_counts=True)
    if lengths.min() <= _HELD_OUT:
        raise DataError(f"{_NAME}: {path}: a user has {lengths.min()} ratings; leave-one-out needs >= 3 per user")
    return ItemSequences(item + FIRST_ITEM_ID - 1, starts.astype(np.int64), lengths.astype(np.int64), titles)


def read_movielens_100k(root: str | os.PathLike[str] | None = None, verify: bool = True) -> ItemSequences:
    """The time-ordered item sequences of ``ml-100k/`` (cached per folder for the process).

    Args:
        root: the ``ml-100k`` folder; default ``$AUGBENCH_DATA/ml-100k``.
        verify: check the SHA-256 of ``u.data`` and ``u.item``.

    Raises:
        ConfigError: no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing, corrupt or malformed file (one line naming it).
    """
    return _read_cached(str(resolve_root(_NAME, root, _SUBDIR).resolve()), bool(verify))


def _histories(sequences: ItemSequences, user: np.ndarray, ends: np.ndarray, max_length: int) -> Tensor:
    """``(len(ends), max_length)`` int64 left-padded histories: the last ``max_length`` items of
    ``user[k]`` before global position ``ends[k]``."""
    columns = ends[:, None] - max_length + np.arange(max_length)
    inside = columns >= sequences.starts[user][:, None]
    return torch.from_numpy(np.where(inside, sequences.items[np.maximum(columns, 0)], 0))


def _samples(sequences: ItemSequences, split: str, max_length: int, train_targets: int | None) -> tuple[Tensor, Tensor]:
    """Histories and next-item labels of ``split``."""
    starts, lengths = sequences.starts, sequences.lengths
    if split == "train":
        low = np.ones_like(lengths) if train_targets is None else np.maximum(1, lengths - _HELD_OUT - train_targets)
        counts = lengths - _HELD_OUT - low
        user = np.repeat(np.arange(len(starts)), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        targets = starts[user] + low[user] + offset
    else:
        user = np.arange(len(starts))
        targets = starts + lengths - (_HELD_OUT if split == "val" else 1)
    return _histories(sequences, user, targets, max_length), torch.from_numpy(sequences.items[targets])


@DATASETS.register(_NAME)
def load_movielens_100k(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "val", "test"] = "train",
    verify: bool = True,
    max_length: int = 50,
    train_targets: int | None = None,
) -> Dataset:
    """MovieLens 100K next-item prediction, leave-one-out by time (see the module docstring).

    Args:
        root: the ``ml-100k`` folder holding ``u.data`` and ``u.item``; default ``$AUGBENCH_DATA/ml-100k``.
        split: ``"train"`` (prefixes of the training parts), ``"val"`` or ``"test"`` (943 each).
        verify: check the SHA-256 of ``u.data`` and ``u.item``.
        max_length: ``L``, the history length kept (most recent items), >= 1.
        train_targets: training samples per user: its last ``train_targets`` training targets
            (``None``: every prefix, 97,171 samples).

    Returns:
        ``(N, L)`` int64 left-padded item ids (modality ``sequence``), ``(N,)`` int64 labels (the
        next item's id), ``vocab_size = 1,684`` and 1,684 class names (padding, mask, titles).

    Raises:
        ConfigError: unknown ``split``, a bad ``max_length`` / ``train_targets``, no ``root`` and
            no ``AUGBENCH_DATA``.
        DataError: a missing, corrupt or malformed file (one line naming the file and line).
    """
    if split not in _SPLITS:
        raise ConfigError(f"{_NAME}: split={split!r} is not one of {', '.join(map(repr, _SPLITS))}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ConfigError(f"{_NAME}: max_length={max_length!r} must be an int >= 1 (e.g. 50)")
    if train_targets is not None and (isinstance(train_targets, bool) or not isinstance(train_targets, int) or train_targets < 1):
        raise ConfigError(f"{_NAME}: train_targets={train_targets!r} must be None (every prefix) or an int >= 1")
    sequences = read_movielens_100k(root, verify)
    inputs, labels = _samples(sequences, split, max_length, train_targets)
    names = ("<pad>", "<mask>", *sequences.titles)
    return Dataset(_NAME, inputs, labels, names, modality="sequence", vocab_size=sequences.vocab_size, tokens=names)


@ITEM_CORRELATIONS.register(_NAME)
def movielens_100k_correlations(neighbours: int = 10, root: str | os.PathLike[str] | None = None) -> Tensor:
    """``(1684, neighbours)`` int64: row ``i`` the items co-occurring most often with id ``i``
    within :data:`CORRELATION_WINDOW` positions of the users' training parts (best first, ties
    by id, 0-padded; rows 0 and 1 are empty). Cached per folder and ``neighbours``."""
    return _correlations(str(resolve_root(_NAME, root, _SUBDIR).resolve()), neighbours)


@functools.lru_cache(maxsize=8)
def _correlations(folder: str, neighbours: int) -> Tensor:
    sequences = _read_cached(folder, True)
    return cooccurrence_table(sequences.training_parts(), sequences.vocab_size, neighbours, CORRELATION_WINDOW)
