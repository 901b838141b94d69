"""Vocabularies (id <-> word), the whitespace tokenizer, and the registry that names vocabularies.

Ids: 0 ``<pad>`` (padding), 1 ``<unk>`` (a word outside the vocabulary), 2 ``<mask>``, then
the words from id 3 (:mod:`augbench.functional.text`). A batch is ``(B, L)`` int64,
right-padded with 0, so the padding mask is ``ids != 0``.

**How a transform gets its vocabulary.** Ops that need words (synonyms, random replacement,
rewriting) take a *vocabulary spec*, like every configurable part of augbench: a registered
name (``"sst2"``, ``"demo"``) or ``{type: name, **options}`` (``{type: sst2, min_count: 2}``,
``{type: words, words: [...]}``). The spec is what the transform stores, so a YAML method spec
(``augment: {type: TextSynonymReplace, alpha: 0.1, vocabulary: sst2}``) and ``to_dict`` carry it
as plain data; the vocabulary itself is built on first use (from ``$AUGBENCH_DATA`` for
``sst2``) and cached by its source. It must be the dataset's vocabulary: the ``sst2`` dataset's
ids come from the ``sst2`` vocabulary with the same ``min_count`` (and ``root``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
import torch
from torch import Tensor

from augbench.errors import ConfigError, InputValueError
from augbench.functional.text import FIRST_WORD_ID, PAD_ID, UNK_ID
from augbench.registry import Registry, Spec, spec_type

__all__ = [
    "RESERVED", "DEMO_WORDS", "Vocabulary", "VOCABULARIES", "tokenize", "build_vocabulary",
    "check_vocabulary_spec", "load_vocabulary",
]

RESERVED = ("<pad>", "<unk>", "<mask>")
"""The strings of the reserved ids 0, 1, 2."""


def tokenize(sentence: str) -> list[str]:
    """Split on whitespace: the tokenizer of lower-cased, pre-tokenized data such as SST-2."""
    return sentence.split()


@dataclass(frozen=True)
class Vocabulary:
    """The strings of ids ``0 .. len - 1``: :data:`RESERVED` first, then the words.

    Attributes:
        words: every id's string, ``words[:3] == RESERVED``, no duplicates.
        name: where it came from, for messages (``"sst2"``).

    >>> vocabulary = build_vocabulary(["a good film", "a bad film"])
    >>> ids = vocabulary.encode(["a fine film"], max_length=5)
    >>> ids.tolist(), vocabulary.decode(ids)
    ([[3, 1, 4, 0, 0]], ['a <unk> film'])
    """

    words: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if tuple(self.words[: len(RESERVED)]) != RESERVED:
            raise ConfigError(f"vocabulary {self.name!r}: ids 0, 1, 2 must be {RESERVED}, got {self.words[:3]}")
        if len(set(self.words)) != len(self.words):
            repeated = next(word for word, count in Counter(self.words).items() if count > 1)
            raise ConfigError(f"vocabulary {self.name!r}: the word {repeated!r} appears twice; list each word once")

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def index(self) -> dict[str, int]:
        """word -> id."""
        return {word: position for position, word in enumerate(self.words)}

    def encode(self, sentences: Sequence[str], max_length: int) -> Tensor:
        """``(N, max_length)`` int64 ids of whitespace-tokenized ``sentences``.

        Words outside the vocabulary become :data:`~augbench.functional.text.UNK_ID`, longer
        sentences are cut at ``max_length`` tokens, shorter ones right-padded with 0; a sentence
        with no token gives a row of padding only (the caller decides what to do with it).
        """
        index = self.index
        rows = [[index.get(token, UNK_ID) for token in tokenize(sentence)[:max_length]] for sentence in sentences]
        lengths = torch.tensor([len(row) for row in rows], dtype=torch.int64)
        ids = torch.zeros(len(rows), max_length, dtype=torch.int64)
        ids[torch.arange(max_length) < lengths[:, None]] = torch.tensor([i for row in rows for i in row], dtype=torch.int64)
        return ids

    def decode(self, ids: Tensor) -> list[str]:
        """The sentence of each row of ``(B, L)`` ids: its real tokens joined by spaces.

        Raises:
            InputValueError: an id outside the vocabulary.
        """
        if ids.numel() and int(ids.max()) >= len(self.words):
            raise InputValueError(
                f"vocabulary {self.name!r} has {len(self.words)} ids, got id {int(ids.max())}; "
                "decode with the vocabulary the ids came from"
            )
        words = self.words
        return [" ".join(words[i] for i in row if i != PAD_ID) for row in ids.tolist()]


def build_vocabulary(sentences: Iterable[str], min_count: int = 1, name: str = "") -> Vocabulary:
    """The words of ``sentences`` seen at least ``min_count`` times, most frequent first (ties
    alphabetical), after the reserved ids."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ConfigError(f"vocabulary {name!r}: min_count={min_count!r} must be an int >= 1")
    counts = Counter(token for sentence in sentences for token in tokenize(sentence))
    kept = sorted((word for word, count in counts.items() if count >= min_count and word not in RESERVED),
                  key=lambda word: (-counts[word], word))
    return Vocabulary((*RESERVED, *kept), name)


VOCABULARIES: Registry[Vocabulary] = Registry("vocabulary")
"""Vocabulary sources by name: ``words`` and ``demo`` here, ``sst2`` from :mod:`augbench.data.sst2`."""


@VOCABULARIES.register("words")
def words_vocabulary(words: Sequence[str]) -> Vocabulary:
    """An explicit word list: ``words[i]`` gets id ``3 + i``."""
    if isinstance(words, str) or not isinstance(words, Sequence) or not all(isinstance(w, str) and w for w in words):
        raise ConfigError(f"vocabulary 'words': words={words!r} must be a list of non-empty strings")
    return Vocabulary((*RESERVED, *words), "words")


DEMO_WORDS = (
    "good", "well", "fine", "okay", "bad", "poor", "pathetic", "awful", "terrible", "movie", "film",
    "picture", "big", "large", "great", "huge", "vast", "small", "little", "fast", "quick", "happy",
    "glad", "sad", "sorry", "funny", "comic", "boring", "dull", "tedious", "smart", "bright", "clever",
    "ingenious", "begin", "start", "end", "finish", "story", "tale", "show", "display", "see", "watch",
    "actor", "player", "the",
)
"""The 47 words of the ``demo`` vocabulary (ids 3..49): groups of WordNet synonyms (all but
``the``, a stop word, have one here), for examples and tests that need no data files."""


@VOCABULARIES.register("demo")
def demo_vocabulary() -> Vocabulary:
    """The 50-id :data:`DEMO_WORDS` vocabulary."""
    return Vocabulary((*RESERVED, *DEMO_WORDS), "demo")


def _load_sources() -> None:
    """Import the dataset modules that register vocabularies (``sst2``)."""
    import augbench.data  # noqa: F401


def check_vocabulary_spec(who: str, spec: Spec) -> Spec:
    """``spec`` as given, after checking that it names a vocabulary source with valid options
    (nothing is read: the vocabulary is built on first use)."""
    _load_sources()
    try:
        spec_type(spec, "vocabulary")
        VOCABULARIES.resolve(spec)
    except ConfigError as error:
        raise ConfigError(f"{who}: vocabulary={spec!r}: {error}") from None
    return spec


def load_vocabulary(spec: Spec) -> Vocabulary:
    """Build the vocabulary a spec names (the sources cache what they read)."""
    _load_sources()
    vocabulary = VOCABULARIES.build(spec)
    if len(vocabulary) <= FIRST_WORD_ID:
        raise ConfigError(f"vocabulary {spec!r} holds no words; it needs at least one id >= {FIRST_WORD_ID}")
    return vocabulary

