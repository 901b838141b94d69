"""Text transforms on token ids ``(B, L)`` int64, right-padded with id 0, one draw per sample.

**Layout.** Each row holds its real tokens first and padding (id 0) after them: the padding
mask is ``ids != 0``. Reserved ids: 0 pad, 1 unknown, 2 mask, words from 3
(:mod:`augbench.functional.text`). Every op keeps the real tokens left-aligned and the
padding at the end, never empties a sentence, and refuses a row of padding only (or padding
before a real token) with one line.

**Ops.** EDA's four operations (Wei & Zou, "EDA: Easy Data Augmentation Techniques for Boosting
Performance on Text Classification Tasks", EMNLP 2019), with their rate ``alpha``:
:class:`TextSynonymReplace`, :class:`TextSynonymInsert`, :class:`TextRandomSwap`,
:class:`TextRandomDelete`; then :class:`TextMask` (tokens -> the mask id),
:class:`TextRandomReplace` (tokens -> random vocabulary ids), :class:`TextSpanCrop` (keep a
random contiguous span) and :class:`TextRewrite` (the seam for sentence rewriters such as
back-translation or an LLM, :mod:`augbench.text.rewrite`). For an ``alpha`` op on a sentence
of ``n`` tokens EDA changes ``max(1, floor(alpha * n))`` words; here ``alpha = 0`` is the
identity.

**Draws.** :meth:`~augbench.transforms.base.Transform.sample` sees only the batch shape, so
each transform draws unit uniforms per position or per operation slot (``(B, L)`` scores,
``(B, K)`` slots with ``K`` the count of a full row) and its ``apply`` turns them into
positions of each row's ``n`` real tokens with a batched kernel (a draw can be replayed; keyed
draws depend on a sample's key alone). "The ``m`` allowed positions with the lowest scores" is
a uniform random subset of size ``m``.

**Vocabulary.** Synonym ops, random replacement and rewriting take ``vocabulary``: a vocabulary
spec (``"sst2"``, ``{type: sst2, min_count: 2}``, ``"demo"``, ``{type: words, words: [...]}``;
see :mod:`augbench.text.vocabulary`). The spec is stored as given, so YAML specs and
``to_dict`` carry it as plain data; the vocabulary (and the WordNet synonym table) is built on
first use and cached. It must be the vocabulary the ids came from: an id beyond it is refused.
Synonyms come from WordNet (:mod:`augbench.text.wordnet`; ``apt-get install wordnet-base``);
without it only the synonym ops fail, with one line saying how to install it.

**Policy ops** (``augbench list ops --modality text``): ``Swap``, ``Delete``, ``Mask``, ``Crop``,
each the identity at level 0. The vocabulary ops are not policy ops: a policy op is built from
a level alone.
"""

from __future__ import annotations

import math
import os
import torch
from torch import Tensor

import augbench.functional.text as F
from augbench.distributions import AnyGenerator, rand
from augbench.errors import ConfigError, InputValueError
from augbench.policies.modal import register_op
from augbench.random import Params
from augbench.registry import Spec, spec_type
from augbench.text.rewrite import REWRITERS, Rewriter
from augbench.text.vocabulary import Vocabulary, check_vocabulary_spec, load_vocabulary
from augbench.text.wordnet import synonym_table
from augbench.transforms._args import check_range
from augbench.transforms.base import Transform

__all__ = [
    "TextSynonymReplace", "TextSynonymInsert", "TextRandomSwap", "TextRandomDelete", "TextMask",
    "TextRandomReplace", "TextSpanCrop", "TextRewrite",
]

_TEXT = "text"
_EPS = 1e-9  # keeps ceil(0.5 * 4) at 2 despite float rounding


def _rate(who: str, value: object, name: str = "alpha") -> float:
    """``value`` as a float in [0, 1], else one line."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and 0 <= value <= 1):
        raise InputValueError(f"{who}: {name}={value!r} must be a number in [0, 1] (the share of the words changed)")
    return float(value)


def _op_count(alpha: float, lengths: Tensor) -> Tensor:
    """EDA's number of operations ``max(1, floor(alpha * n))`` per row (0 when ``alpha == 0``)."""
    if alpha == 0:
        return torch.zeros_like(lengths)
    return torch.floor(alpha * lengths.double() + _EPS).long().clamp_(min=1)


def _slots(alpha: float, shape: tuple[int, ...]) -> int:
    """The operation count of a full row of ``shape = (L,)``: the slots a draw must hold."""
    return int(_op_count(alpha, torch.tensor([shape[-1]]))[0])


class _TextTransform(Transform):
    """Base of the text transforms: the modality and the checked row lengths."""

    modality = _TEXT

    def _lengths(self, ids: Tensor) -> Tensor:
        return F.token_lengths(ids, type(self).__name__)

    def _real(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return torch.arange(ids.shape[1], device=ids.device) < lengths[:, None]


class _VocabularyTransform(_TextTransform):
    """A text transform with a vocabulary spec, resolved on first use and cached."""

    def _init_vocabulary(self, vocabulary: Spec, wordnet: str | os.PathLike[str] | None = None) -> None:
        who = type(self).__name__
        self.vocabulary = check_vocabulary_spec(who, vocabulary)
        if wordnet is not None and not isinstance(wordnet, (str, os.PathLike)):
            raise ConfigError(f"{who}: wordnet={wordnet!r} must be a folder path or None (default /usr/share/wordnet)")
        self.wordnet = None if wordnet is None else os.fspath(wordnet)
        self._loaded: Vocabulary | None = None
        self._synonyms: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def _words(self, ids: Tensor) -> Vocabulary:
        """The vocabulary, after checking that every id of ``ids`` is in it."""
        if self._loaded is None:
            self._loaded = load_vocabulary(self.vocabulary)
        if ids.numel() and int(ids.max()) >= len(self._loaded):
            raise InputValueError(
                f"{type(self).__name__}: id {int(ids.max())} is outside vocabulary {self.vocabulary!r} "
                f"({len(self._loaded)} ids); pass the vocabulary the ids were encoded with"
            )
        return self._loaded

    def _synonym_table(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """``(V, S)`` synonym ids (-1 padded) and ``(V,)`` counts on the ids' device."""
        vocabulary = self._words(ids)
        if ids.device not in self._synonyms:
            table = synonym_table(vocabulary, self.wordnet).to(ids.device)
            self._synonyms[ids.device] = table, (table >= 0).sum(1)
        return self._synonyms[ids.device]

    def extra_repr(self) -> str:
        return f"vocabulary={self.vocabulary!r}, alpha={self.alpha:g}"


class TextSynonymReplace(_VocabularyTransform):
    """EDA's synonym replacement: ``max(1, floor(alpha * n))`` words -> a WordNet synonym.

    The replaced words are a uniform random subset of the row's words that have a synonym in
    the vocabulary (all of them when fewer); each gets one of its synonyms uniformly. Stop
    words are left alone (:data:`~augbench.text.wordnet.STOP_WORDS`). Simplified from EDA:
    synonyms are single vocabulary tokens in WordNet's base form.

    Args:
        vocabulary: the vocabulary spec of the ids (module docstring).
        alpha: share of the words replaced, in [0, 1]; 0 is the identity.
        wordnet: folder of the WordNet files (default ``$AUGBENCH_WORDNET`` or ``/usr/share/wordnet``).
        p: per-sample probability of the op.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype, same lengths.

    >>> ids = torch.tensor([[12, 13, 49, 36, 0]])  # "movie film the ingenious" -> "film film the clever"
    >>> TextSynonymReplace("demo", alpha=0.5)(ids, generator=torch.Generator().manual_seed(0)).tolist()
    [[13, 13, 49, 35, 0]]
    """

    def __init__(
        self, vocabulary: Spec, alpha: float = 0.1, wordnet: str | None = None, p: float = 1.0,
        *, same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.alpha = _rate(type(self).__name__, alpha)
        self._init_vocabulary(vocabulary, wordnet)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"scores": rand((n, shape[-1]), generator), "choice": rand((n, _slots(self.alpha, shape)), generator)}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        lengths = self._lengths(ids)
        if not ids.numel():
            return ids.clone()
        table, counts = self._synonym_table(ids)
        count, limit = _op_count(self.alpha, lengths), params.choice.shape[1]
        positions, chosen = F.lowest_positions(params.scores, counts.take(ids) > 0, count, limit)
        words = ids.gather(1, positions)
        synonyms = F.lookup_synonyms(words, table, counts, params.choice[:, : positions.shape[1]])
        return ids.scatter(1, positions, torch.where(chosen, synonyms, words))


class TextSynonymInsert(_VocabularyTransform):
    """EDA's random insertion: ``max(1, floor(alpha * n))`` times, a synonym of a random word at a random place.

    Each insertion picks a word uniformly among the row's words that have a synonym, one of its
    synonyms uniformly, and a gap uniformly among the ``n + 1`` (the end included); insertions
    into one gap keep their draw order. Rows without such a word are unchanged; a row never
    grows past ``L`` (insertions beyond the free places are skipped). Simplified from EDA: the
    source words are drawn from the original sentence, not from the one being grown.

    Args:
        vocabulary: the vocabulary spec of the ids (module docstring).
        alpha: insertions per word, in [0, 1]; 0 is the identity.
        wordnet: folder of the WordNet files (default ``$AUGBENCH_WORDNET`` or ``/usr/share/wordnet``).
        p: per-sample probability of the op.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype, rows up to ``max(1, floor(alpha * n))``
        tokens longer (never past ``L``).
    """

    def __init__(
        self, vocabulary: Spec, alpha: float = 0.1, wordnet: str | None = None, p: float = 1.0,
        *, same_on_batch: bool = False,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.alpha = _rate(type(self).__name__, alpha)
        self._init_vocabulary(vocabulary, wordnet)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        slots = (n, _slots(self.alpha, shape))
        return {"source": rand(slots, generator), "choice": rand(slots, generator), "gap": rand(slots, generator)}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        lengths = self._lengths(ids)
        if not ids.numel() or not params.source.shape[1]:
            return ids.clone()
        table, counts = self._synonym_table(ids)
        candidates = counts.take(ids) > 0  # padding (id 0) has no synonyms
        found = candidates.sum(1, keepdim=True)
        words = ids.gather(1, F.nth_true(candidates, F.uniform_positions(params.source, found)))
        tokens = F.lookup_synonyms(words, table, counts, params.choice)
        slot = torch.arange(params.source.shape[1], device=ids.device)
        room = (ids.shape[1] - lengths).minimum(_op_count(self.alpha, lengths))
        active = (slot < room[:, None]) & (found > 0)
        gaps = F.uniform_positions(params.gap, lengths[:, None] + 1)
        return F.insert_tokens(ids, gaps, tokens, active)


class TextRandomSwap(_TextTransform):
    """EDA's random swap: ``max(1, floor(alpha * n))`` times, swap two distinct random words.

    The swaps are applied one after the other (a word can move twice); rows of one word are
    unchanged.

    Args:
        alpha: swaps per word, in [0, 1]; 0 is the identity.
        p: per-sample probability of the op.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype, same lengths and words.

    >>> TextRandomSwap(alpha=0.5)(torch.tensor([[5, 6, 7, 8, 0]]), generator=torch.Generator().manual_seed(0)).tolist()
    [[8, 7, 6, 5, 0]]
    """

    def __init__(self, alpha: float = 0.1, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.alpha = _rate(type(self).__name__, alpha)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        slots = (n, _slots(self.alpha, shape))
        return {"first": rand(slots, generator), "second": rand(slots, generator)}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        lengths = self._lengths(ids)[:, None]
        if not ids.numel() or not params.first.shape[1]:
            return ids.clone()
        first = F.uniform_positions(params.first, lengths)
        second = (first + 1 + F.uniform_positions(params.second, lengths - 1)).remainder(lengths)
        slot = torch.arange(params.first.shape[1], device=ids.device)
        active = (slot < _op_count(self.alpha, lengths)) & (lengths >= 2)
        return F.swap_tokens(ids, first, second, active)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


class TextRandomDelete(_TextTransform):
    """EDA's random deletion: each word is deleted with probability ``alpha``, the others keep their order.

    A sentence is never emptied: when every word of a row would go, one of them, uniformly at
    random, is kept (as in EDA); a one-word row is unchanged.

    Args:
        alpha: deletion probability per word, in [0, 1]; 0 is the identity.
        p: per-sample probability of the op.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype, rows shorter or equal.
    """

    def __init__(self, alpha: float = 0.1, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.alpha = _rate(type(self).__name__, alpha)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"scores": rand((n, shape[-1]), generator), "keep": rand((n, 1), generator)}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        lengths = self._lengths(ids)
        if not ids.numel():
            return ids.clone()
        real = self._real(ids, lengths)
        drop = real & (params.scores < self.alpha)
        emptied = drop.sum(1, keepdim=True) == lengths[:, None]
        kept = F.uniform_positions(params.keep, lengths[:, None])
        rescued = torch.zeros_like(drop).scatter_(1, kept, True) & emptied
        return F.delete_tokens(ids, drop & ~rescued)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


class TextMask(_TextTransform):
    """Token masking: each word becomes ``mask_id`` with probability ``alpha`` (padding never).

    Args:
        alpha: masking probability per word, in [0, 1]; 0 is the identity.
        mask_id: the id written, ``>= 1`` (default the reserved mask id 2).
        p: per-sample probability of the op.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype, same lengths.
    """

    def __init__(self, alpha: float = 0.1, mask_id: int = F.MASK_ID, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        who = type(self).__name__
        self.alpha = _rate(who, alpha)
        if isinstance(mask_id, bool) or not isinstance(mask_id, int) or mask_id < 1:
            raise InputValueError(f"{who}: mask_id={mask_id!r} must be an int >= 1 (0 is padding; the reserved mask id is 2)")
        self.mask_id = mask_id

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"scores": rand((n, shape[-1]), generator)}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        lengths = self._lengths(ids)
        masked = self._real(ids, lengths) & (params.scores < self.alpha)
        return F.replace_tokens(ids, masked, self.mask_id)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, mask_id={self.mask_id}"


class TextRandomReplace(_VocabularyTransform):
    """Random token replacement: each word becomes a uniform random word id with probability ``alpha``.

    The new id is uniform over the vocabulary's words (ids ``3 .. V - 1``; it may draw the word
    itself). Simplified from UDA's TF-IDF word replacement, which favours uninformative words.

    Args:
        vocabulary: the vocabulary spec of the ids (its size is what is used).
        alpha: replacement probability per word, in [0, 1]; 0 is the identity.
        p: per-sample probability of the op.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype, same lengths.
    """

    def __init__(self, vocabulary: Spec, alpha: float = 0.1, p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.alpha = _rate(type(self).__name__, alpha)
        self._init_vocabulary(vocabulary)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {"scores": rand((n, shape[-1]), generator), "choice": rand((n, shape[-1]), generator)}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        lengths = self._lengths(ids)
        words = len(self._words(ids)) - F.FIRST_WORD_ID
        replaced = self._real(ids, lengths) & (params.scores < self.alpha)
        new = F.FIRST_WORD_ID + F.uniform_positions(params.choice, torch.tensor(words, device=ids.device))
        return F.replace_tokens(ids, replaced, new)


class TextSpanCrop(_TextTransform):
    """Keep a random contiguous span of each sentence, moved to the front of the row.

    The kept share ``f ~ U(scale)``: ``k = ceil(f * n)`` tokens (at least 1), starting uniformly
    at one of the ``n - k + 1`` possible places.

    Args:
        scale: ``(min, max)`` kept share of the tokens, within (0, 1]; ``(1, 1)`` is the identity.
        p: per-sample probability of cropping.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype, rows shorter or equal.

    >>> TextSpanCrop(scale=(0.5, 0.5))(torch.tensor([[5, 6, 7, 8]]), generator=torch.Generator().manual_seed(0)).tolist()
    [[7, 8, 0, 0]]
    """

    def __init__(self, scale: tuple[float, float] = (0.5, 1.0), p: float = 1.0, *, same_on_batch: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch)
        self.scale = check_range(type(self).__name__, "scale", scale, low=1e-6, high=1.0)

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        low, high = self.scale
        return {"share": low + (high - low) * rand((n,), generator), "offset": rand((n,), generator)}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        lengths = self._lengths(ids)
        kept = torch.ceil(params.share.double() * lengths - _EPS).long().clamp_(min=1).minimum(lengths)
        start = F.uniform_positions(params.offset, lengths - kept + 1)
        return F.crop_tokens(ids, start, kept)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class TextRewrite(_VocabularyTransform):
    """Rewrite whole sentences with a registered rewriter (back-translation, an LLM paraphrase).

    The batch is decoded with ``vocabulary`` (``" ".join`` of the words), the rewriter is called
    once with the sentences of the samples drawn for rewriting (``p``), and its answers are
    encoded back: whitespace-tokenized, words outside the vocabulary -> id 1, cut at ``L``
    tokens. An answer with no token keeps the original row (a sentence is never emptied).
    Deterministic for a deterministic rewriter: the only draw is ``p``'s.

    Args:
        vocabulary: the vocabulary spec of the ids (module docstring).
        rewriter: a rewriter spec, a name or ``{type: name, **options}`` in
            :data:`~augbench.text.rewrite.REWRITERS` (shipped: ``identity``); built on first use.
        p: per-sample probability of rewriting.

    Shape:
        ``(B, L)`` int64 ids, right-padded -> same shape and dtype.
    """

    blend_skipped = False  # skipped samples are not sent to the rewriter

    def __init__(self, vocabulary: Spec, rewriter: Spec = "identity", p: float = 1.0) -> None:
        super().__init__(p=p)
        who = type(self).__name__
        try:
            spec_type(rewriter, "rewriter")
            REWRITERS.resolve(rewriter)
        except ConfigError as error:
            raise ConfigError(f"{who}: rewriter={rewriter!r}: {error}") from None
        self.rewriter = rewriter
        self._init_vocabulary(vocabulary)
        self._built: Rewriter | None = None

    def make_params(self, n: int, shape: tuple[int, ...], generator: AnyGenerator) -> dict[str, Tensor]:
        return {}

    def transform(self, ids: Tensor, params: Params, target: str) -> Tensor:
        self._lengths(ids)
        if not ids.numel():
            return ids.clone()
        vocabulary = self._words(ids)
        if self._built is None:
            self._built = REWRITERS.build(self.rewriter)
        sentences = vocabulary.decode(ids)
        answers = self._built(list(sentences))
        if not isinstance(answers, list) or len(answers) != len(sentences) or not all(isinstance(a, str) for a in answers):
            raise InputValueError(
                f"{type(self).__name__}: rewriter {self.rewriter!r} must return a list of {len(sentences)} strings, "
                f"one per sentence; got {type(answers).__name__} of {len(answers) if isinstance(answers, list) else '?'}"
            )
        rewritten = vocabulary.encode(answers, ids.shape[1]).to(ids.device)
        emptied = (rewritten == F.PAD_ID).all(1, keepdim=True)
        return torch.where(emptied, ids, rewritten)

    def extra_repr(self) -> str:
        return f"rewriter={self.rewriter!r}, vocabulary={self.vocabulary!r}"


@register_op(_TEXT, "Swap", "alpha 0 -> 0.2: max(1, floor(alpha * n)) swaps of two words")
def _swap_op(level: float) -> Transform:
    return TextRandomSwap(alpha=0.2 * level)


@register_op(_TEXT, "Delete", "deletion probability per word 0 -> 0.2")
def _delete_op(level: float) -> Transform:
    return TextRandomDelete(alpha=0.2 * level)


@register_op(_TEXT, "Mask", "masking probability per word 0 -> 0.2")
def _mask_op(level: float) -> Transform:
    return TextMask(alpha=0.2 * level)


@register_op(_TEXT, "Crop", "smallest kept share of the tokens 1 -> 0.6 (a random contiguous span)")
def _crop_op(level: float) -> Transform:
    return TextSpanCrop(scale=(1.0 - 0.4 * level, 1.0))
