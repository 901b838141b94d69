"""The padding convention on real data: JapaneseVowels' lengths are recovered from its padded series."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import augbench.functional.timeseries as F
from augbench.data import load_dataset
from augbench.policies.modal import ModalityRandAugment

FOLDER = Path(os.environ["AUGBENCH_DATA"]) / "ucr_uea" / "JapaneseVowels"  # set by tests/conftest.py


def _file_lengths(path: Path) -> list[int]:
    """Steps per case read straight from the .ts file (values of the first dimension)."""
    rows = [line for line in path.read_text().splitlines() if line.strip() and line[0] not in "#@"]
    return [len(row.split(":")[0].split(",")) for row in rows]


@pytest.mark.parametrize("split", ["train", "test"])
def test_japanese_vowels_lengths_are_recovered_from_the_padding(split):
    if not FOLDER.is_dir():
        pytest.skip(f"shared data folder {FOLDER} not found")
    data = load_dataset("japanese_vowels", split=split)
    expected = _file_lengths(FOLDER / f"JapaneseVowels_{split.upper()}.ts")
    assert F.valid_lengths(data.inputs).tolist() == expected
    out = ModalityRandAugment("timeseries", num_ops=2, magnitude=9)(data.inputs, generator=torch.Generator().manual_seed(0))
    padding = torch.arange(data.inputs.shape[-1]) >= torch.tensor(expected)[:, None, None]
    assert bool((out.masked_select(padding) == 0).all())
