"""A reader of the WordNet 3.0 database files, and synonym tables over a vocabulary.

The files come from the Debian package ``wordnet-base`` (``apt-get install wordnet-base``),
under ``/usr/share/wordnet/``; ``$AUGBENCH_WORDNET`` or a ``folder`` argument points elsewhere.
Read: ``index.{noun,verb,adj,adv}`` (lemma -> byte offsets of its synsets in the data file),
``data.{noun,verb,adj,adv}`` (one synset per line at that offset: its lemmas) and the
``{noun,verb,adj,adv}.exc`` morphological exceptions (``geese -> goose``).

Synonyms of a word follow EDA (Wei & Zou 2019), which takes the lemmas of every synset of the
word in any part of speech: the word is first reduced to its WordNet base forms (the word
itself, its exceptions and the suffix rules of WordNet's ``morphy``, e.g. ``movies -> movie``,
kept when they are in the index), then the lemmas of their synsets are collected. Simplified:
multi-word lemmas (``moving_picture``) are left out, since a synonym must be one vocabulary
token, and synonyms come back in their base form (``films`` gets ``movie``, not ``movies``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from augbench.errors import DataError
from augbench.functional.text import FIRST_WORD_ID
from augbench.text.vocabulary import Vocabulary

__all__ = ["WORDNET_ENV_VAR", "DEFAULT_WORDNET", "STOP_WORDS", "WordNet", "wordnet_folder", "load_wordnet",
           "synonym_table"]

WORDNET_ENV_VAR = "AUGBENCH_WORDNET"
DEFAULT_WORDNET = Path("/usr/share/wordnet")
_PARTS = ("noun", "verb", "adj", "adv")
_SUFFIX_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "noun": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y")),
    "verb": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "adv": (),
}
"""WordNet's detachment rules (morphy(7)): suffix -> replacement, per part of speech."""
_MARKER = re.compile(r"\([a-z]+\)$")  # adjective position markers such as "galore(ip)"

STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves
""".split())
"""English function words that get no synonyms (EDA leaves stop words alone): WordNet would
map ``a`` to ``angstrom`` and ``i`` to ``iodine``."""


def wordnet_folder(folder: str | os.PathLike[str] | None = None) -> Path:
    """``folder``, else ``$AUGBENCH_WORDNET``, else ``/usr/share/wordnet``."""
    if folder is not None:
        return Path(folder).expanduser()
    return Path(os.environ.get(WORDNET_ENV_VAR) or DEFAULT_WORDNET)


class WordNet:
    """Word -> single-word synonyms over the WordNet database files of one folder.

    Args:
        folder: the folder holding ``index.*``, ``data.*`` and ``*.exc``.

    Raises:
        DataError: a file is missing or unreadable, in one line saying how to install them.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._offsets: dict[str, dict[str, tuple[int, ...]]] = {}
        self._data: dict[str, bytes] = {}
        self._exceptions: dict[str, dict[str, tuple[str, ...]]] = {}
        for part in _PARTS:
            self._offsets[part] = _read_index(self._read(f"index.{part}"))
            self._data[part] = self._read(f"data.{part}")
            self._exceptions[part] = _read_exceptions(self._read(f"{part}.exc", required=False))

    def _read(self, name: str, required: bool = True) -> bytes:
        path = self.folder / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            if not required:
                return b""
            raise DataError(
                f"WordNet: {path} not found; install the WordNet database with `apt-get install wordnet-base` "
                f"or point {WORDNET_ENV_VAR} at a folder holding index.noun, data.noun, ..."
            ) from None
        except OSError as error:
            raise DataError(f"WordNet: cannot read {path}: {error.strerror or error}") from None

    def base_forms(self, word: str, part: str) -> list[str]:
        """The forms of ``word`` in the ``part`` index: itself, its exceptions, its suffix-rule stems."""
        index = self._offsets[part]
        candidates = [word, *self._exceptions[part].get(word, ())]
        candidates += [word[: -len(suffix)] + ending for suffix, ending in _SUFFIX_RULES[part]
                       if word.endswith(suffix) and len(word) > len(suffix)]
        return list(dict.fromkeys(form for form in candidates if form in index))

    def synonyms(self, word: str) -> set[str]:
        """The single-word lemmas (lower case) of every synset of ``word``'s base forms, without ``word``."""
        found: set[str] = set()
        for part in _PARTS:
            for form in self.base_forms(word, part):
                for offset in self._offsets[part][form]:
                    found.update(self._lemmas(part, offset))
        found.discard(word)
        return found

    def _lemmas(self, part: str, offset: int) -> list[str]:
        """The single-word lemmas of the synset at byte ``offset`` of ``data.<part>``."""
        data = self._data[part]
        line = data[offset : data.find(b"\n", offset)].decode("utf-8", "replace").split()
        try:
            count = int(line[3], 16)
            lemmas = line[4 : 4 + 2 * count : 2]
        except (IndexError, ValueError):
            raise DataError(f"WordNet: {self.folder / ('data.' + part)}: no synset at byte {offset}; "
                            "the index and data files do not match: reinstall wordnet-base") from None
        words = (_MARKER.sub("", lemma).lower() for lemma in lemmas)
        return [lemma for lemma in words if "_" not in lemma]


def _read_index(content: bytes) -> dict[str, tuple[int, ...]]:
    """lemma -> synset offsets, from an ``index.<part>`` file (license lines start with spaces)."""
    offsets: dict[str, tuple[int, ...]] = {}
    for line in content.decode("utf-8", "replace").splitlines():
        if not line or line[0] == " ":
            continue
        fields = line.split()
        synsets = int(fields[2])
        offsets[fields[0]] = tuple(int(field) for field in fields[len(fields) - synsets :])
    return offsets


def _read_exceptions(content: bytes) -> dict[str, tuple[str, ...]]:
    """inflected form -> base forms, from a ``<part>.exc`` file."""
    table: dict[str, tuple[str, ...]] = {}
    for line in content.decode("utf-8", "replace").splitlines():
        form, *bases = line.split()
        if bases:
            table[form] = tuple(bases)
    return table


@lru_cache(maxsize=4)
def load_wordnet(folder: str | os.PathLike[str] | None = None) -> WordNet:
    """The :class:`WordNet` of :func:`wordnet_folder` ``(folder)``, read once per folder and process."""
    return _load(wordnet_folder(folder).resolve())


@lru_cache(maxsize=4)
def _load(folder: Path) -> WordNet:
    return WordNet(folder)


@lru_cache(maxsize=8)
def _table(words: tuple[str, ...], folder: Path) -> Tensor:
    wordnet = _load(folder)
    index = {word: position for position, word in enumerate(words)}
    rows: list[list[int]] = [[] for _ in words]
    for position in range(FIRST_WORD_ID, len(words)):
        word = words[position]
        if word in STOP_WORDS:
            continue
        rows[position] = sorted(
            index[synonym] for synonym in wordnet.synonyms(word)
            if synonym in index and synonym not in STOP_WORDS and index[synonym] >= FIRST_WORD_ID
        )
    width = max(len(row) for row in rows)
    table = torch.full((len(words), width), -1, dtype=torch.int64)
    for position, row in enumerate(rows):
        if row:
            table[position, : len(row)] = torch.tensor(row)
    return table


def synonym_table(vocabulary: Vocabulary, folder: str | os.PathLike[str] | None = None) -> Tensor:
    """``(V, S)`` int64: row ``i`` lists the ids of the WordNet synonyms of word ``i`` that are in
    ``vocabulary`` (ascending, padded with -1; ``S`` the most any word has).

    Reserved ids and :data:`STOP_WORDS` have none and are nobody's synonym. Built once per
    vocabulary and WordNet folder, cached in memory.

    Raises:
        DataError: the WordNet files are missing (one line: ``apt-get install wordnet-base``).
    """
    return _table(vocabulary.words, wordnet_folder(folder).resolve())
