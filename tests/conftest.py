"""Shared fixtures: small real image batches and seeded generators."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# The real datasets live outside the repository (never copied in): $AUGBENCH_DATA, by default
# the shared/data folder beside the checkout. Tests that need a file skip cleanly without it.
os.environ.setdefault("AUGBENCH_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
SHARED_DATA = Path(os.environ["AUGBENCH_DATA"])


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture
def rgb_batch() -> torch.Tensor:
    """16 random-content uint8 RGB images, 3 x 20 x 24 (non-square on purpose)."""
    return torch.randint(0, 256, (16, 3, 20, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


CIFAR10_TEST = SHARED_DATA / "cifar10" / "test_batch_first1000.bin"
CIFAR10_RECORD = 1 + 3 * 32 * 32  # one label byte, then the image as 3 x 32 x 32 (CHW) bytes


@pytest.fixture(scope="session")
def cifar_image() -> torch.Tensor:
    """The first CIFAR-10 test image as a (1, 3, 32, 32) uint8 batch; skips if the file is missing."""
    if not CIFAR10_TEST.is_file():
        pytest.skip(f"CIFAR-10 sample file not found at {CIFAR10_TEST}")
    with CIFAR10_TEST.open("rb") as handle:
        record = handle.read(CIFAR10_RECORD)
    if len(record) != CIFAR10_RECORD:
        pytest.skip(f"CIFAR-10 sample file {CIFAR10_TEST} is truncated")
    image = torch.frombuffer(bytearray(record[1:]), dtype=torch.uint8)
    return image.view(1, 3, 32, 32).clone()
