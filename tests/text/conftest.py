"""Fixtures of the text tests: ragged id batches, demo-vocabulary batches, the WordNet skip."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import torch

from augbench.text.wordnet import wordnet_folder


def _ragged(rows: list[list[int]], length: int | None = None) -> torch.Tensor:
    """``(B, L)`` int64 ids from token lists, right-padded with 0."""
    length = length or max(len(row) for row in rows)
    ids = torch.zeros(len(rows), length, dtype=torch.int64)
    for b, row in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return ids


def _demo_batch(batch: int = 32, length: int = 16, seed: int = 0) -> torch.Tensor:
    """Demo-vocabulary ids (3..49) with lengths 1..length (rows 0 and 1: 1 and length), right-padded."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 50, (batch, length), generator=g)
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    lengths[0], lengths[1] = 1, length
    return ids.masked_fill(torch.arange(length) >= lengths[:, None], 0)


@pytest.fixture
def ragged() -> Callable[..., torch.Tensor]:
    return _ragged


@pytest.fixture
def demo_batch() -> Callable[..., torch.Tensor]:
    return _demo_batch


@pytest.fixture
def wordnet() -> None:
    """Skips the test when the WordNet files are missing (``apt-get install wordnet-base``),
    except under ``AUGBENCH_REQUIRE_WORDNET=1`` (CI), where it fails."""
    if not (wordnet_folder() / "data.noun").is_file():
        if os.environ.get("AUGBENCH_REQUIRE_WORDNET") == "1":
            pytest.fail("WordNet files missing although AUGBENCH_REQUIRE_WORDNET=1: apt-get install wordnet-base")
        pytest.skip("WordNet files missing: apt-get install wordnet-base")
