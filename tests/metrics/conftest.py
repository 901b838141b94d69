"""Fixtures for the metric tests: real CIFAR-10 and digits images, and small trained classifiers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from augbench.data.digits import load_digits

CIFAR10_TEST = Path(os.environ["AUGBENCH_DATA"]) / "cifar10" / "test_batch_first1000.bin"  # set by tests/conftest.py
CIFAR10_RECORD = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32 x 32
CIFAR_COUNT = 64
DIGITS_TRAIN = 1200


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the thread count.

    These tests use tiny tensors, where intra-op threads only add synchronisation; on a busy
    2-core machine two threads made them 20x slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="session")
def cifar() -> tuple[Tensor, Tensor]:
    """The first 64 CIFAR-10 test images ``(64, 3, 32, 32)`` uint8 and labels ``(64,)`` int64."""
    if not CIFAR10_TEST.is_file():
        pytest.skip(f"CIFAR-10 sample file not found at {CIFAR10_TEST}")
    records = np.fromfile(CIFAR10_TEST, dtype=np.uint8, count=CIFAR_COUNT * CIFAR10_RECORD)
    records = records.reshape(CIFAR_COUNT, CIFAR10_RECORD)
    images = torch.from_numpy(records[:, 1:].reshape(CIFAR_COUNT, 3, 32, 32).copy())
    return images, torch.from_numpy(records[:, 0].astype(np.int64))


@pytest.fixture(scope="session")
def digits_split() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """sklearn digits shuffled once: train images/labels (1200), test images/labels (597); uint8 8x8."""
    dataset = load_digits()
    order = torch.randperm(len(dataset.labels), generator=torch.Generator().manual_seed(0))
    train, test = order[:DIGITS_TRAIN], order[DIGITS_TRAIN:]
    return dataset.inputs[train], dataset.labels[train], dataset.inputs[test], dataset.labels[test]


def _digits_normalize(images: Tensor) -> Tensor:
    """[0, 1] digits -> model input (x - 0.3) / 0.4, roughly zero mean and unit variance."""
    return (images - 0.3) / 0.4


@pytest.fixture(scope="session")
def digits_normalize() -> Callable[[Tensor], Tensor]:
    """The MLP's normalisation: [0, 1] images -> model inputs."""
    return _digits_normalize


@pytest.fixture(scope="session")
def single_thread() -> Callable[[], AbstractContextManager[None]]:
    """:func:`one_thread`, for fixtures wider than a test (the autouse fixture covers tests)."""
    return one_thread


@pytest.fixture(scope="session")
def digits_mlp(digits_split: tuple[Tensor, Tensor, Tensor, Tensor]) -> nn.Module:
    """A 64-64-10 MLP trained full-batch on the digits (seeded, about a second on a CPU)."""
    train_images, train_labels, _, _ = digits_split
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    inputs = _digits_normalize(train_images.float() / 255)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    with one_thread():
        for _ in range(150):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), train_labels).backward()
            optimizer.step()
    return model.eval()
