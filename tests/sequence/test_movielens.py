"""The MovieLens 100K loader: leave-one-out splits against an independent numpy reference,
checksums, the correlation table from training parts only, and one-line errors on bad files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from augbench.data import load_dataset
from augbench.data.movielens import CORRELATION_WINDOW, movielens_100k_correlations, read_movielens_100k
from augbench.errors import ConfigError, DataError
from augbench.functional.sequence import cooccurrence_table

FOLDER = Path(os.environ["AUGBENCH_DATA"]) / "ml-100k"  # set by tests/conftest.py
needs_data = pytest.mark.skipif(not (FOLDER / "u.data").is_file(), reason=f"MovieLens 100K not found at {FOLDER}")


def _reference_sequences() -> list[np.ndarray]:
    """The README's recipe: per user, by time, ties by item id (raw ids)."""
    ratings = np.loadtxt(FOLDER / "u.data", dtype=np.int64)
    ratings = ratings[np.lexsort((ratings[:, 1], ratings[:, 3], ratings[:, 0]))]
    _, first = np.unique(ratings[:, 0], return_index=True)
    return np.split(ratings[:, 1], first[1:])


@needs_data
def test_splits_match_the_leave_one_out_reference() -> None:
    sequences = _reference_sequences()
    assert len(sequences) == 943
    test = load_dataset("movielens_100k", split="test", max_length=50)
    val = load_dataset("movielens_100k", split="val", max_length=50)
    assert test.inputs.shape == val.inputs.shape == (943, 50) and test.modality == "sequence"
    assert test.vocab_size == test.num_classes == 1684 and test.class_names[:2] == ("<pad>", "<mask>")
    assert test.class_names[2] == "Toy Story (1995)"
    for user in (0, 1, 500, 942):
        items = sequences[user] + 1  # augbench ids
        assert int(test.labels[user]) == items[-1] and int(val.labels[user]) == items[-2]
        history = items[:-1][-50:]
        assert test.inputs[user].tolist() == [0] * (50 - len(history)) + history.tolist()
        assert val.inputs[user, -len(items[:-2][-50:]) :].tolist() == items[:-2][-50:].tolist()


@needs_data
def test_train_split_holds_every_prefix_of_the_training_parts() -> None:
    sequences = _reference_sequences()
    train = load_dataset("movielens_100k", split="train", max_length=8)
    assert len(train) == sum(len(s) - 3 for s in sequences) == 97171
    first = sequences[0] + 1
    assert train.labels[: len(first) - 3].tolist() == first[1:-2].tolist()
    assert train.inputs[0].tolist() == [0] * 7 + [first[0]]
    assert train.inputs[20].tolist() == first[13:21].tolist()
    assert int(train.labels.min()) >= 2
    last = load_dataset("movielens_100k", split="train", max_length=8, train_targets=5)
    assert len(last) == 943 * 5 and last.labels[:5].tolist() == first[-7:-2].tolist()  # never the last two


@needs_data
def test_correlation_table_comes_from_training_parts_only() -> None:
    table = movielens_100k_correlations(neighbours=5)
    assert table.shape == (1684, 5) and not bool(table[:2].any())
    parts = [torch.from_numpy(s[:-2] + 1) for s in _reference_sequences()]
    padded = torch.zeros(len(parts), max(map(len, parts)), dtype=torch.long)
    for row, part in enumerate(parts):
        padded[row, padded.shape[1] - len(part) :] = part
    assert torch.equal(table, cooccurrence_table(padded, 1684, 5, CORRELATION_WINDOW))


@needs_data
def test_insert_built_from_the_dataset_name() -> None:
    from augbench.transforms import ItemInsert

    transform = ItemInsert(rate=0.5, dataset="movielens_100k", neighbours=3)
    test = load_dataset("movielens_100k", split="test")
    out = transform(test.inputs[:64], generator=torch.Generator().manual_seed(0))
    assert out.shape == (64, 50) and not torch.equal(out, test.inputs[:64])
    assert transform.to_dict()["transform"]["dataset"] == "movielens_100k"


def _fake(tmp_path: Path, data: str, item: str = "1|A (1990)|x\n2|B (1991)|x\n3|C|x\n") -> Path:
    (tmp_path / "u.data").write_text(data)
    (tmp_path / "u.item").write_text(item, encoding="latin-1")
    return tmp_path


def test_fake_folder_without_verification(tmp_path: Path) -> None:
    rows = "1\t1\t5\t10\n1\t3\t4\t10\n1\t2\t3\t11\n2\t2\t1\t5\n2\t1\t1\t6\n2\t3\t1\t7\n"
    root = _fake(tmp_path, rows)
    test = load_dataset("movielens_100k", root=root, split="test", verify=False, max_length=4)
    # user 1: items 1, 3 (same time: tie by id), then 2 -> ids 2, 4, 3
    assert test.inputs.tolist() == [[0, 0, 2, 4], [0, 0, 3, 2]] and test.labels.tolist() == [3, 4]
    assert read_movielens_100k(root, verify=False).titles == ("A (1990)", "B (1991)", "C")


def test_checksum_mismatch_is_one_line(tmp_path: Path) -> None:
    root = _fake(tmp_path, "1\t1\t5\t10\n1\t2\t5\t11\n1\t3\t5\t12\n")
    with pytest.raises(DataError, match="SHA-256 .* matches none of the known hashes") as error:
        load_dataset("movielens_100k", root=root)
    assert "\n" not in str(error.value)
    assert hashlib.sha256((root / "u.item").read_bytes()).hexdigest() in str(error.value)  # u.item is read first


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("1\t1\t5\n", r"line 1: expected 4 tab-separated whole numbers"),
        ("1\t1\t5\t10\n1\tx\t5\t11\n", "line 2: expected 4 tab-separated"),
        ("1\t1\t5\t10\n1\t9\t5\t11\n1\t2\t5\t12\n", "item ids 1..9 fall outside u.item's 1..3"),
        ("1\t1\t5\t10\n1\t2\t5\t11\n", "leave-one-out needs >= 3 per user"),
    ],
)
def test_malformed_files_fail_with_one_line(tmp_path: Path, data: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_dataset("movielens_100k", root=_fake(tmp_path, data), verify=False)


def test_bad_options_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="split='valid' is not one of"):
        load_dataset("movielens_100k", split="valid")
    with pytest.raises(ConfigError, match="max_length=0"):
        load_dataset("movielens_100k", max_length=0)
    with pytest.raises(ConfigError, match="train_targets=0"):
        load_dataset("movielens_100k", train_targets=0)
    with pytest.raises(DataError, match="missing .*u.item"):
        load_dataset("movielens_100k", root=tmp_path, verify=False)
