"""The Text* transforms: identity at 0, each op's invariant, row independence, specs, bad input.

The generic contract (shape/dtype, replay, keyed draws, same_on_batch, p=0, serialisation,
empty batch, layout errors) runs over every transform in tests/modalities/test_contract.py.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch

import augbench.transforms.text as T
from augbench.errors import AugbenchError, ConfigError, DataError, InputTypeError, InputValueError
from augbench.policies.build import build_transform
from augbench.serialization import from_dict
from augbench.text import REWRITERS, load_vocabulary, synonym_table
from augbench.transforms.base import TRANSFORMS

VOCAB = {"vocabulary": "demo"}
ALL = {
    "TextSynonymReplace": VOCAB, "TextSynonymInsert": VOCAB, "TextRandomSwap": {}, "TextRandomDelete": {},
    "TextMask": {}, "TextRandomReplace": VOCAB, "TextSpanCrop": {}, "TextRewrite": VOCAB,
}
SYNONYM_OPS = ("TextSynonymReplace", "TextSynonymInsert")
ZERO = {name: ({"scale": (1.0, 1.0)} if name == "TextSpanCrop" else {} if name == "TextRewrite" else {"alpha": 0.0})
        for name in ALL}


@pytest.fixture(scope="module")
def synonyms() -> torch.Tensor:
    return synonym_table(load_vocabulary("demo"))


def _build(name: str, **options: object):
    return TRANSFORMS.get(name)(**{**ALL[name], **options})


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rows(ids: torch.Tensor) -> list[list[int]]:
    return [[t for t in row if t != 0] for row in ids.tolist()]


def _is_subsequence(short: list[int], long: list[int]) -> bool:
    it = iter(long)
    return all(token in it for token in short)


def test_every_text_transform_is_listed():
    assert {name for name in TRANSFORMS.names() if name.startswith("Text")} == set(ALL) == set(T.__all__)


@pytest.mark.parametrize("name", ALL)
def test_layout_kept_and_identity_at_zero(name, demo_batch, wordnet):
    ids = demo_batch()
    out = _build(name)(ids, generator=_gen())
    assert out.shape == ids.shape and out.dtype == torch.int64
    real = out != 0
    lengths = real.sum(1)
    assert bool((lengths >= 1).all()), "a sentence was emptied"
    assert torch.equal(real, torch.arange(ids.shape[1]) < lengths[:, None]), "tokens must stay left-aligned"
    assert torch.equal(_build(name, **ZERO[name])(ids, generator=_gen()), ids)


@pytest.mark.parametrize("name", ALL)
def test_rows_are_transformed_independently(name, demo_batch, wordnet):
    """Row b's output depends on row b and its own draw only (no mixing across the batch)."""
    transform = _build(name, **({} if name in ("TextSpanCrop", "TextRewrite") else {"alpha": 0.3}))
    ids = demo_batch(batch=6)
    params = transform.sample(ids, generator=_gen(2))
    out = transform.apply(ids, params)
    for b in range(ids.shape[0]):
        alone = transform.apply(ids[b : b + 1], params.select(torch.tensor([b])))
        assert torch.equal(out[b : b + 1], alone)


@pytest.mark.parametrize("name", [n for n in ALL if n != "TextRewrite"])
def test_draws_differ_per_sample(name, wordnet):
    ids = torch.tensor([[12, 13, 36, 16, 20, 29, 31, 40, 41, 0]]).expand(16, 10).contiguous()
    out = _build(name, **({} if name == "TextSpanCrop" else {"alpha": 0.3}))(ids, generator=_gen())
    assert len({tuple(row) for row in out.tolist()}) > 2


def test_swap_keeps_the_words_and_makes_the_eda_count(demo_batch):
    ids = demo_batch()
    out = T.TextRandomSwap(alpha=0.25)(ids, generator=_gen())
    for before, after in zip(_rows(ids), _rows(out)):
        assert Counter(before) == Counter(after)
    one_swap = T.TextRandomSwap(alpha=0.01)(torch.tensor([[5, 6, 7, 8, 9]]).expand(50, 5), generator=_gen())
    assert bool(((one_swap != torch.tensor([5, 6, 7, 8, 9])).sum(1) == 2).all()), "exactly one swap of two words"


def test_delete_keeps_a_subsequence_and_never_empties(demo_batch):
    ids = demo_batch()
    out = T.TextRandomDelete(alpha=0.3)(ids, generator=_gen())
    for before, after in zip(_rows(ids), _rows(out)):
        assert _is_subsequence(after, before) and after
    everything = T.TextRandomDelete(alpha=1.0)(ids, generator=_gen())
    assert bool(((everything != 0).sum(1) == 1).all()), "alpha=1 keeps exactly one word per sentence"
    assert all(after[0] in before for before, after in zip(_rows(ids), _rows(everything)))
    rate = 1 - (out != 0).sum() / (ids != 0).sum()
    assert 0.2 < float(rate) < 0.4


def test_mask_and_replace_touch_only_real_tokens(demo_batch):
    ids = demo_batch()
    masked = T.TextMask(alpha=0.5)(ids, generator=_gen())
    changed = masked != ids
    assert bool((masked[changed] == 2).all()) and not bool(changed[ids == 0].any())
    assert 0.4 < float(changed.sum() / (ids != 0).sum()) < 0.6
    replaced = T.TextRandomReplace("demo", alpha=1.0)(ids, generator=_gen())
    assert torch.equal(replaced == 0, ids == 0)
    assert bool((replaced[ids != 0] >= 3).all() and (replaced < 50).all())
    assert T.TextMask(alpha=1.0, mask_id=7)(ids, generator=_gen())[ids != 0].unique().tolist() == [7]


def test_span_crop_keeps_a_contiguous_span(demo_batch):
    ids = demo_batch()
    out = T.TextSpanCrop(scale=(0.5, 0.5))(ids, generator=_gen())
    for before, after in zip(_rows(ids), _rows(out)):
        assert len(after) == max(1, -(-len(before) // 2))
        assert any(before[i : i + len(after)] == after for i in range(len(before)))


def test_synonym_replace_uses_synonyms_and_the_eda_count(synonyms, wordnet):
    ids = torch.tensor([[12, 13, 36, 16, 20, 29, 31, 40, 41, 49]]).expand(20, 10).contiguous()  # all but "the" have one
    out = T.TextSynonymReplace("demo", alpha=0.2)(ids, generator=_gen())
    changed = out != ids
    assert bool((changed.sum(1) == 2).all()), "n = max(1, floor(0.2 * 10)) = 2 words replaced"
    for b, position in changed.nonzero().tolist():
        assert out[b, position].item() in synonyms[ids[b, position]].tolist()
    assert not bool(changed[:, 9].any()), "stop words are never replaced"
    no_synonyms = torch.tensor([[49, 49, 0]])
    assert torch.equal(T.TextSynonymReplace("demo", alpha=1.0)(no_synonyms, generator=_gen()), no_synonyms)


def test_synonym_insert_adds_synonyms_of_the_sentence(synonyms, wordnet):
    ids = torch.zeros(20, 12, dtype=torch.int64)
    ids[:, :5] = torch.tensor([12, 49, 16, 49, 29])  # movie the huge the smart
    out = T.TextSynonymInsert("demo", alpha=0.4)(ids, generator=_gen())
    allowed = set(synonyms[[12, 16, 29]].flatten().tolist()) - {-1}
    for before, after in zip(_rows(ids), _rows(out)):
        assert len(after) == 7 and _is_subsequence(before, after)
        extra = Counter(after) - Counter(before)
        assert set(extra) <= allowed
    full = torch.arange(3, 15).view(1, 12)
    assert torch.equal(T.TextSynonymInsert("demo", alpha=0.5)(full, generator=_gen()), full), "a full row has no room"
    assert torch.equal(T.TextSynonymInsert("demo", alpha=1.0)(torch.tensor([[49, 0, 0]]), generator=_gen()),
                       torch.tensor([[49, 0, 0]]))


def test_rewrite_calls_the_registered_rewriter_once_per_batch(ragged):
    calls: list[list[str]] = []

    def reverse() -> object:
        def rewrite(sentences: list[str]) -> list[str]:
            calls.append(sentences)
            return [" ".join(reversed(s.split())) if "film" in s else ("" if "vast" in s else s + " zzz") for s in sentences]
        return rewrite

    if "test_reverse" not in REWRITERS:
        REWRITERS.register("test_reverse")(reverse)
    ids = ragged([[12, 13, 49], [19, 0, 0], [3, 0, 0]])  # movie film the | vast | good
    out = T.TextRewrite("demo", rewriter="test_reverse")(ids, generator=_gen())
    assert calls == [["movie film the", "vast", "good"]]
    assert out.tolist() == [[49, 13, 12], [19, 0, 0], [3, 1, 0]], "reversed; empty answer keeps the row; unknown -> 1"
    assert torch.equal(T.TextRewrite("demo")(ids, generator=_gen()), ids)
    calls.clear()
    T.TextRewrite("demo", rewriter="test_reverse", p=0.5)(ids.repeat(4, 1), generator=_gen())
    assert 0 < len(calls[0]) < 12, "only the samples drawn by p are sent to the rewriter"


def test_rewrite_refuses_a_bad_answer():
    if "test_bad" not in REWRITERS:
        REWRITERS.register("test_bad")(lambda: (lambda sentences: sentences[:-1]))
    with pytest.raises(InputValueError, match="must return a list of 2 strings"):
        T.TextRewrite("demo", rewriter="test_bad")(torch.tensor([[5, 6], [7, 0]]), generator=_gen())
    with pytest.raises(ConfigError, match="unknown rewriter"):
        T.TextRewrite("demo", rewriter="back_translation")


@pytest.mark.parametrize("name", ALL)
def test_yaml_spec_and_to_dict_round_trip(name, demo_batch, wordnet):
    transform = build_transform({"type": name, **ALL[name]})
    again = from_dict(transform.to_dict())
    ids = demo_batch()
    assert torch.equal(again(ids, generator=_gen(4)), transform(ids, generator=_gen(4)))
    if "vocabulary" in ALL[name]:
        assert transform.to_dict()["transform"]["vocabulary"] == "demo"


def test_a_vocabulary_given_as_options_or_a_word_list():
    words = ["movie", "film", "picture"]
    transform = build_transform({"type": "TextRandomReplace", "alpha": 1.0, "vocabulary": {"type": "words", "words": words}})
    out = transform(torch.tensor([[3, 4, 5, 0]]), generator=_gen())
    assert bool(((out[0, :3] >= 3) & (out[0, :3] < 6)).all())
    assert from_dict(transform.to_dict()).vocabulary == {"type": "words", "words": words}


@pytest.mark.parametrize("name", ALL)
def test_bad_input_fails_in_one_line(name, wordnet):
    transform = _build(name)
    cases = {
        "all padding": (torch.tensor([[5, 6], [0, 0]]), InputValueError, "all padding"),
        "left padding": (torch.tensor([[0, 5, 6]]), InputValueError, "right-padded"),
        "negative": (torch.tensor([[5, -3]]), InputValueError, ">= 0"),
        "floats": (torch.tensor([[5.0, 6.0]]), InputTypeError, "integer ids"),
        "no batch axis": (torch.tensor([5, 6]), InputValueError, r"\(B, L\)"),
    }
    if "vocabulary" in ALL[name]:
        cases["beyond the vocabulary"] = (torch.tensor([[5, 60]]), InputValueError, "outside vocabulary 'demo'")
    for ids, error, message in cases.values():
        with pytest.raises(error, match=message) as raised:
            transform(ids, generator=_gen())
        assert "\n" not in str(raised.value) and name in str(raised.value)


@pytest.mark.parametrize("option", [{"alpha": -0.1}, {"alpha": 1.5}, {"alpha": "0.1"}, {"p": 2.0}])
@pytest.mark.parametrize("name", ["TextSynonymReplace", "TextRandomSwap", "TextRandomDelete", "TextMask", "TextRandomReplace"])
def test_bad_options_fail_at_construction(name, option):
    with pytest.raises(AugbenchError, match="must be a number in"):
        _build(name, **option)


def test_bad_vocabulary_specs_and_other_options():
    with pytest.raises(ConfigError, match="unknown vocabulary 'sst-2'.*did you mean 'sst2'"):
        T.TextSynonymReplace("sst-2")
    with pytest.raises(ConfigError, match="unknown option 'min_cont'"):
        T.TextRandomReplace({"type": "sst2", "min_cont": 2})
    with pytest.raises(ConfigError, match="needs option 'vocabulary'"):
        build_transform({"type": "TextSynonymReplace", "alpha": 0.1})
    with pytest.raises(InputValueError, match="mask_id=0"):
        T.TextMask(mask_id=0)
    with pytest.raises(InputValueError, match="scale"):
        T.TextSpanCrop(scale=(0.0, 1.0))


def test_without_wordnet_only_the_synonym_ops_fail(tmp_path, demo_batch):
    ids = demo_batch()
    for name in SYNONYM_OPS:
        transform = _build(name, wordnet=str(tmp_path))
        with pytest.raises(DataError, match="apt-get install wordnet-base") as raised:
            transform(ids, generator=_gen())
        assert "\n" not in str(raised.value)
    for name in ("TextRandomSwap", "TextRandomDelete", "TextMask", "TextRandomReplace", "TextSpanCrop", "TextRewrite"):
        assert _build(name)(ids, generator=_gen()).shape == ids.shape
