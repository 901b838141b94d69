"""The SST-2 loader: the real files (skipped without them) and broken copies in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from augbench.data import load_dataset
from augbench.data.sst2 import load_sst2
from augbench.errors import ConfigError, DataError
from augbench.text import load_vocabulary

SST2 = Path(os.environ.get("AUGBENCH_DATA", "")) / "sst2"
needs_sst2 = pytest.mark.skipif(not (SST2 / "train.tsv").is_file(), reason=f"SST-2 not found at {SST2}")


@needs_sst2
def test_the_official_splits_and_vocabulary():
    train, test = load_dataset("sst2"), load_dataset("sst2", split="test")
    assert train.inputs.shape == (67349, 64) and test.inputs.shape == (872, 64)
    assert train.labels.bincount().tolist() == [29780, 37569] and test.labels.bincount().tolist() == [428, 444]
    assert train.modality == "text" and train.class_names == ("negative", "positive")
    assert train.vocab_size == test.vocab_size == len(train.tokens) == len(load_vocabulary("sst2"))
    assert train.tokens[:3] == ("<pad>", "<unk>", "<mask>")
    assert bool(((train.inputs != 0).sum(1) >= 1).all())
    assert int((train.inputs == 1).sum()) == 0, "the vocabulary comes from the training split"
    assert int((test.inputs == 1).sum()) > 0, "dev words unseen in training are unknown"
    assert load_vocabulary("sst2").decode(train.inputs[:1]) == ["hide new secretions from the parental units"]


@needs_sst2
def test_options_min_count_and_max_length():
    rare = load_dataset("sst2", split="test", min_count=5)
    assert rare.vocab_size == len(load_vocabulary({"type": "sst2", "min_count": 5})) < load_dataset("sst2").vocab_size
    short = load_sst2(split="test", max_length=8)
    assert short.inputs.shape == (872, 8) and bool((short.inputs[:, -1] != 0).any())
    with pytest.raises(ConfigError, match="max_length=0"):
        load_sst2(max_length=0)
    with pytest.raises(ConfigError, match="split='dev'.*test = GLUE's dev.tsv"):
        load_sst2(split="dev")


def _write(folder: Path, train: str, dev: str = "sentence\tlabel\na b \t1\n") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "train.tsv").write_text(train, encoding="utf-8")
    (folder / "dev.tsv").write_text(dev, encoding="utf-8")
    return folder


def test_small_files_and_the_checksum(tmp_path):
    folder = _write(tmp_path / "sst2", "sentence\tlabel\nthe film \t1\nbad film \t0\n", "sentence\tlabel\nfilm noir \t0\n")
    with pytest.raises(DataError, match="SHA-256 .* matches none of the known hashes"):
        load_sst2(root=folder)
    train, test = load_sst2(root=folder, verify=False), load_sst2(root=folder, split="test", verify=False, max_length=4)
    assert train.tokens == ("<pad>", "<unk>", "<mask>", "film", "bad", "the")
    assert train.inputs.tolist()[0][:3] == [5, 3, 0] and test.inputs.tolist() == [[3, 1, 0, 0]]


@pytest.mark.parametrize(("train", "message"), [
    ("text\tlabel\na\t1\n", "expected the header 'sentence<TAB>label'"),
    ("sentence\tlabel\na b\t2\n", "line 2: label '2' is not 0"),
    ("sentence\tlabel\na\tb\t1\n", "line 2: 3 tab-separated fields"),
    ("sentence\tlabel\n \t1\n", "line 2: empty sentence"),
    ("sentence\tlabel\n", "no rows after the header"),
    ("", "got 'an empty file'"),
])
def test_broken_files_fail_in_one_line(tmp_path, train, message):
    folder = _write(tmp_path / "sst2", train)
    with pytest.raises(DataError, match=message) as raised:
        load_sst2(root=folder, verify=False)
    assert "\n" not in str(raised.value)


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_sst2(root=tmp_path / "nowhere")
    (tmp_path / "sst2").mkdir()
    with pytest.raises(DataError, match="missing .*train.tsv"):
        load_sst2(root=tmp_path / "sst2")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.tsv").write_bytes(b"sentence\tlabel\n\xff\t1\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_sst2(root=tmp_path / "bad", verify=False)


def test_vocabulary_spec_with_a_root(tmp_path):
    folder = _write(tmp_path / "sst2", "sentence\tlabel\nx y x \t1\n")
    vocabulary = load_vocabulary({"type": "sst2", "root": str(folder), "verify": False})
    assert vocabulary.words[3:] == ("x", "y")
    ids = load_sst2(root=folder, verify=False).inputs
    assert torch.equal(ids[0, :3], torch.tensor([3, 4, 3]))
