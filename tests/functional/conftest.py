"""Fixtures for the kernel tests: a batch of real CIFAR-10 images and a Pillow reference runner."""

from __future__ import annotations

from collections.abc import Callable
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

Image = pytest.importorskip("PIL.Image")

CIFAR10_TEST = Path(os.environ["AUGBENCH_DATA"]) / "cifar10" / "test_batch_first1000.bin"  # set by tests/conftest.py
CIFAR10_RECORD = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32 x 32


@pytest.fixture(scope="session")
def cifar64() -> Tensor:
    """The first 64 CIFAR-10 test images, ``(64, 3, 32, 32)`` uint8; skips if the file is missing."""
    if not CIFAR10_TEST.is_file():
        pytest.skip(f"CIFAR-10 sample file not found at {CIFAR10_TEST}")
    records = np.fromfile(CIFAR10_TEST, dtype=np.uint8, count=64 * CIFAR10_RECORD).reshape(64, CIFAR10_RECORD)
    return torch.from_numpy(records[:, 1:].reshape(64, 3, 32, 32).copy())


class PilReference:
    """Runs a Pillow function image by image and compares kernel outputs with the result."""

    min_agreement = 0.999  # fraction of values within +-1 grey level

    @staticmethod
    def apply(images: Tensor, function: Callable[..., object]) -> Tensor:
        """``function(PIL image)`` for each ``(C, H, W)`` uint8 image (C = 1 -> mode L, 3 -> RGB)."""
        results = []
        for image in images:
            array = image.permute(1, 2, 0).numpy()
            pil = Image.fromarray(array[..., 0] if image.shape[0] == 1 else array)
            out = np.asarray(function(pil))
            results.append(torch.from_numpy(out.copy()).reshape(out.shape[0], out.shape[1], -1).permute(2, 0, 1))
        return torch.stack(results)

    def check(self, ours: Tensor, reference: Tensor) -> float:
        """Assert the +-1 / 99.9 % criterion; return the fraction of values that agree exactly."""
        assert ours.shape == reference.shape and ours.dtype == torch.uint8
        difference = (ours.int() - reference.int()).abs()
        within_one = (difference <= 1).double().mean().item()
        assert within_one >= self.min_agreement, f"only {within_one:.4%} within +-1 (max diff {difference.max().item()})"
        return (difference == 0).double().mean().item()


@pytest.fixture(scope="session")
def pil_reference() -> PilReference:
    return PilReference()
