"""Shared fixtures: small real image batches and seeded generators."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture
def rgb_batch() -> torch.Tensor:
    """16 random-content uint8 RGB images, 3 x 20 x 24 (non-square on purpose)."""
    return torch.randint(0, 256, (16, 3, 20, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
