"""UCR/UEA ``.ts`` readers: the five shared problems, and broken files written into tmp_path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from augbench.data import DATASETS, load_dataset
from augbench.data.ucr_uea import parse_ts
from augbench.errors import ConfigError, DataError

SHARED_DATA = Path(os.environ["AUGBENCH_DATA"])  # set by tests/conftest.py

# name -> (problem folder, train cases, test cases, channels, length, class names), from the data README.
PROBLEMS = {
    "gunpoint": ("GunPoint", 50, 150, 1, 150, ("1", "2")),
    "arrowhead": ("ArrowHead", 36, 175, 1, 251, ("0", "1", "2")),
    "italy_power_demand": ("ItalyPowerDemand", 67, 1029, 1, 24, ("1", "2")),
    "basic_motions": ("BasicMotions", 40, 40, 6, 100, ("Standing", "Running", "Walking", "Badminton")),
    "japanese_vowels": ("JapaneseVowels", 270, 370, 12, None, tuple(str(k) for k in range(1, 10))),
}


def ucr_folder() -> Path:
    folder = SHARED_DATA / "ucr_uea"
    if not folder.is_dir():
        pytest.skip(f"shared data folder {folder} not found")
    return folder


def plain_read(path: Path) -> tuple[list[np.ndarray], list[str]]:
    """An independent read (the data README's snippet): cases as (C, L_i) float64 arrays, labels."""
    rows = [line.strip().split(":") for line in path.read_text().splitlines() if line.strip() and line[0] not in "#@"]
    return [np.array([dim.split(",") for dim in row[:-1]], float) for row in rows], [row[-1] for row in rows]


def one_line_error(excinfo: pytest.ExceptionInfo[BaseException], *fragments: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


HEADER = """# a comment
@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true a b
@data
"""


def test_registered() -> None:
    assert set(PROBLEMS) <= set(DATASETS.names())


@pytest.mark.parametrize("name", sorted(PROBLEMS))
@pytest.mark.parametrize("split", ["train", "test"])
def test_shared_problem_shapes_and_classes(name: str, split: str) -> None:
    folder = ucr_folder()
    problem, train_count, test_count, channels, length, class_names = PROBLEMS[name]
    dataset = load_dataset(name, split=split)
    count = train_count if split == "train" else test_count
    assert dataset.modality == "timeseries" and dataset.name == name
    assert dataset.inputs.dtype == torch.float32 and dataset.labels.dtype == torch.int64
    assert dataset.inputs.shape[:2] == (count, channels)
    if length is not None:
        assert dataset.inputs.shape[2] == length
    assert dataset.class_names == class_names
    cases, labels = plain_read(folder / problem / f"{problem}_{split.upper()}.ts")
    assert dataset.labels.tolist() == [class_names.index(label) for label in labels]
    first = cases[0]
    torch.testing.assert_close(dataset.inputs[0, :, : first.shape[1]], torch.from_numpy(first).float())


def test_japanese_vowels_padded_to_the_longest_of_both_splits() -> None:
    folder = ucr_folder() / "JapaneseVowels"
    reads = {split: plain_read(folder / f"JapaneseVowels_{split.upper()}.ts")[0] for split in ("train", "test")}
    longest = max(case.shape[1] for cases in reads.values() for case in cases)
    assert longest == 29  # README: unequal length 7-29
    for split, cases in reads.items():
        inputs = load_dataset("japanese_vowels", split=split).inputs
        assert inputs.shape == (len(cases), 12, longest)
        for index, case in enumerate(cases):
            steps = case.shape[1]
            torch.testing.assert_close(inputs[index, :, :steps], torch.from_numpy(case).float())
            assert not inputs[index, :, steps:].any(), (split, index)
    assert min(case.shape[1] for case in reads["train"]) < longest


def test_wrong_split_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="split='val'"):
        load_dataset("gunpoint", root=tmp_path, split="val")
    with pytest.raises(DataError) as excinfo:
        load_dataset("gunpoint", root=tmp_path)
    one_line_error(excinfo, "GunPoint_TRAIN.ts")


def test_checksum_mismatch_names_the_file(tmp_path: Path) -> None:
    source = ucr_folder() / "ItalyPowerDemand" / "ItalyPowerDemand_TRAIN.ts"
    folder = tmp_path / "ItalyPowerDemand"
    folder.mkdir()
    text = source.read_text()
    (folder / source.name).write_text(text.replace("@problemName", "# edited\n@problemName", 1))
    with pytest.raises(DataError) as excinfo:
        load_dataset("italy_power_demand", root=tmp_path)
    one_line_error(excinfo, "ItalyPowerDemand_TRAIN.ts", "SHA-256", "verify=False")
    assert len(load_dataset("italy_power_demand", root=tmp_path, verify=False)) == 67
    shutil.copy(source, folder / source.name)
    assert len(load_dataset("italy_power_demand", root=tmp_path)) == 67


def test_parse_header_labels_and_values() -> None:
    parsed = parse_ts("toy", "toy.ts", HEADER + "1,2,3:4,5,6:b\n\n# late comment\n7,8,9:1.5,-2e1,0:a\n")
    assert parsed.problem_name == "Toy" and parsed.class_names == ("a", "b") and parsed.equal_length
    assert parsed.labels.tolist() == [1, 0]
    np.testing.assert_array_equal(parsed.series[1], np.array([[7, 8, 9], [1.5, -20, 0]], np.float32))


def write_problem(root: Path, problem: str, split: str, text: str) -> Path:
    folder = root / problem
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{problem}_{split.upper()}.ts"
    path.write_text(text)
    return path


def test_unequal_lengths_pad_to_the_longest_over_both_files(tmp_path: Path) -> None:
    header = HEADER.replace("@equalLength true\n@seriesLength 3\n", "@equalLength false\n").replace("Toy", "GunPoint")
    write_problem(tmp_path, "GunPoint", "train", header + "1,2:3,4:a\n1,2,3:4,5,6:b\n")
    write_problem(tmp_path, "GunPoint", "test", header + "1,2,3,4,5:6,7,8,9,10:b\n")
    train = load_dataset("gunpoint", root=tmp_path, split="train", verify=False)
    test = load_dataset("gunpoint", root=tmp_path, split="test", verify=False)
    assert train.inputs.shape == (2, 2, 5) and test.inputs.shape == (1, 2, 5)
    torch.testing.assert_close(train.inputs[0], torch.tensor([[1.0, 2, 0, 0, 0], [3, 4, 0, 0, 0]]))


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ("1,2,3:4,5:a\n", ("line 11", "different numbers of values")),
        ("1,2,3:4,5,6:a\n1,2,3,4:4,5,6,7:b\n", ("line 12", "4 values", "@seriesLength is 3")),
        ("1,2,3:a\n", ("line 11", "1 dimensions, expected 2")),
        ("1,2,3:4,5,6:c\n", ("line 11", "class label 'c'", "a b")),
        ("1,?,3:4,5,6:a\n", ("line 11", "missing value '?'", "dimension 0 at position 1", "impute")),
        ("1,2,3:4,NaN,6:a\n", ("line 11", "'NaN'", "dimension 1 at position 1", "impute")),
        ("1,2,x:4,5,6:a\n", ("line 11", "'x'", "not a number")),
        ("", ("no cases after @data",)),
    ],
)
def test_corrupt_data_lines(tmp_path: Path, data: str, fragments: tuple[str, ...]) -> None:
    write_problem(tmp_path, "GunPoint", "train", HEADER.replace("Toy", "GunPoint") + data)
    with pytest.raises(DataError) as excinfo:
        load_dataset("gunpoint", root=tmp_path, verify=False)
    one_line_error(excinfo, "GunPoint_TRAIN.ts", *fragments)


def test_truncated_header(tmp_path: Path) -> None:
    write_problem(tmp_path, "GunPoint", "train", "".join(HEADER.replace("Toy", "GunPoint").splitlines(True)[:4]))
    with pytest.raises(DataError) as excinfo:
        load_dataset("gunpoint", root=tmp_path, verify=False)
    one_line_error(excinfo, "GunPoint_TRAIN.ts", "line 4", "without an @data line", "truncated")


@pytest.mark.parametrize(
    ("header", "fragments"),
    [
        (HEADER.replace("@classLabel true a b\n", ""), ("line 9", "no '@classLabel true")),
        (HEADER.replace("@classLabel true a b", "@classLabel false"), ("line 9", "needs '@classLabel true")),
        (HEADER.replace("@timeStamps false", "@timeStamps true"), ("line 3", "'@timeStamps true'")),
        (HEADER.replace("@missing false", "@mising false"), ("line 4", "unknown header key @mising")),
        (HEADER.replace("@seriesLength 3", "@seriesLength three"), ("line 8", "@seriesLength needs a positive")),
        (HEADER.replace("Toy", "ArrowHead"), ("line 2", "'ArrowHead'", "expected 'GunPoint'")),
    ],
)
def test_corrupt_headers(tmp_path: Path, header: str, fragments: tuple[str, ...]) -> None:
    write_problem(tmp_path, "GunPoint", "train", header.replace("Toy", "GunPoint") + "1,2,3:4,5,6:a\n")
    with pytest.raises(DataError) as excinfo:
        load_dataset("gunpoint", root=tmp_path, verify=False)
    one_line_error(excinfo, "GunPoint_TRAIN.ts", *fragments)
