"""Fixtures of the policy tests: real CIFAR-10 images (skipped when the sample file is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

CIFAR10_TEST = Path(os.environ["AUGBENCH_DATA"]) / "cifar10" / "test_batch_first1000.bin"  # set by tests/conftest.py
CIFAR10_RECORD = 1 + 3 * 32 * 32  # label byte, then the R, G, B planes of 32 x 32
NUM_IMAGES = 32


@pytest.fixture(scope="session")
def cifar_images() -> Tensor:
    """The first 32 CIFAR-10 test images, ``(32, 3, 32, 32)`` uint8; skips if the file is missing."""
    if not CIFAR10_TEST.is_file():
        pytest.skip(f"CIFAR-10 sample file not found at {CIFAR10_TEST}")
    records = np.fromfile(CIFAR10_TEST, dtype=np.uint8, count=NUM_IMAGES * CIFAR10_RECORD)
    if records.size != NUM_IMAGES * CIFAR10_RECORD:
        pytest.skip(f"CIFAR-10 sample file {CIFAR10_TEST} holds fewer than {NUM_IMAGES} records")
    images = records.reshape(NUM_IMAGES, CIFAR10_RECORD)[:, 1:].reshape(NUM_IMAGES, 3, 32, 32)
    return torch.from_numpy(images.copy())


@pytest.fixture(scope="session")
def cifar_copies(cifar_images: Tensor) -> Tensor:
    """16 copies of the first CIFAR-10 test image, ``(16, 3, 32, 32)`` uint8."""
    return cifar_images[:1].repeat(16, 1, 1, 1)

