"""Vocabularies, the whitespace tokenizer, the vocabulary registry and the WordNet reader."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError, DataError, InputValueError
from augbench.text import (
    DEMO_WORDS, RESERVED, STOP_WORDS, VOCABULARIES, Vocabulary, build_vocabulary, check_vocabulary_spec, load_vocabulary,
    load_wordnet, synonym_table, tokenize,
)


def test_reserved_ids_and_frequency_order():
    vocabulary = build_vocabulary(["b a c a", "a b d"], min_count=2)
    assert vocabulary.words == (*RESERVED, "a", "b")
    assert tokenize("  the  film , ok ") == ["the", "film", ",", "ok"]


def test_encode_truncates_maps_unknown_words_and_decodes():
    vocabulary = build_vocabulary(["a b c"])
    ids = vocabulary.encode(["a zz b c a", "c", ""], max_length=4)
    assert ids.dtype == torch.int64 and ids.tolist() == [[3, 1, 4, 5], [5, 0, 0, 0], [0, 0, 0, 0]]
    assert vocabulary.decode(ids[:2]) == ["a <unk> b c", "c"]
    with pytest.raises(InputValueError, match="has 6 ids, got id 9"):
        vocabulary.decode(torch.tensor([[9]]))


def test_bad_vocabularies():
    with pytest.raises(ConfigError, match="ids 0, 1, 2 must be"):
        Vocabulary(("a", "b", "c"))
    with pytest.raises(ConfigError, match="'x' appears twice"):
        Vocabulary((*RESERVED, "x", "x"))
    with pytest.raises(ConfigError, match="min_count=0"):
        build_vocabulary(["a"], min_count=0)
    with pytest.raises(ConfigError, match="list of non-empty strings"):
        VOCABULARIES.build({"type": "words", "words": "a b"})
    with pytest.raises(ConfigError, match="holds no words"):
        load_vocabulary({"type": "words", "words": []})


def test_registry_specs():
    assert load_vocabulary("demo").words[3:] == DEMO_WORDS and len(load_vocabulary("demo")) == 50
    assert check_vocabulary_spec("T", {"type": "sst2", "min_count": 2}) == {"type": "sst2", "min_count": 2}
    with pytest.raises(ConfigError, match="T: vocabulary=42"):
        check_vocabulary_spec("T", 42)
    assert {"sst2", "demo", "words"} <= set(VOCABULARIES.names())


def test_wordnet_synonyms_use_base_forms(wordnet):
    net = load_wordnet()
    assert {"film", "movie", "picture"} <= net.synonyms("movies")  # noun rule s -> ""
    assert "good" not in net.synonyms("good") and "well" in net.synonyms("good")
    assert "goose" in net.base_forms("geese", "noun")  # noun.exc
    assert not any("_" in word for word in net.synonyms("film"))


def test_synonym_table_of_the_demo_vocabulary(wordnet):
    vocabulary = load_vocabulary("demo")
    table = synonym_table(vocabulary)
    assert table.shape[0] == 50 and table.dtype == torch.int64
    index = vocabulary.index
    assert index["film"] in table[index["movie"]].tolist() and index["movie"] in table[index["film"]].tolist()
    assert bool((table[:3] == -1).all()) and bool((table[index["the"]] == -1).all())
    for word, row in zip(vocabulary.words, table.tolist()):
        synonyms = [s for s in row if s >= 0]
        assert index[word] not in synonyms and all(s >= 3 for s in synonyms)
        assert row == sorted(synonyms) + [-1] * (len(row) - len(synonyms))
    assert synonym_table(vocabulary) is table, "built once per vocabulary and folder"
    assert "the" in STOP_WORDS


def test_missing_wordnet_is_one_line(tmp_path):
    with pytest.raises(DataError, match="apt-get install wordnet-base") as raised:
        synonym_table(load_vocabulary("demo"), tmp_path)
    assert "\n" not in str(raised.value) and str(tmp_path) in str(raised.value)


def test_a_mismatched_wordnet_data_file_is_one_line(tmp_path):
    for name in ("index.noun", "index.verb", "index.adj", "index.adv"):
        (tmp_path / name).write_text("film n 1 0 1 0 00000099  \n")
    for name in ("data.noun", "data.verb", "data.adj", "data.adv"):
        (tmp_path / name).write_text("short\n")
    with pytest.raises(DataError, match="do not match: reinstall wordnet-base"):
        load_wordnet(tmp_path).synonyms("film")
