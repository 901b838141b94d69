"""Shared helpers for method tests: a digits harness context, labeled batches and the library's step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from augbench.data import load_dataset, stratified_split
from augbench.methods import AutoMix, Method
from augbench.models import HarnessCNN
from augbench.train.context import Batch, StepOutput, TrainContext
from augbench.train.loop import train_step as library_train_step
from augbench.train.optim import build_schedule


@dataclass
class Digits:
    """A stratified digits split: uint8 ``(N, 1, 8, 8)`` images, int64 labels."""

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor


@pytest.fixture(scope="session")
def digits() -> Digits:
    dataset = load_dataset("digits")
    train, test = stratified_split(dataset.labels, 200, 0)
    return Digits(dataset.inputs[train], dataset.labels[train], dataset.inputs[test], dataset.labels[test])


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread: 8x8 nets only lose time to threading on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _normalizer(images: Tensor) -> Callable[[Tensor], Tensor]:
    pixels = images.double().div(255)
    mean, std = float(pixels.mean()), float(pixels.std())

    def normalize(batch: Tensor) -> Tensor:
        return (batch.float().div(255) - mean) / std

    return normalize


@pytest.fixture(scope="session")
def make_context(digits: Digits) -> Callable[..., TrainContext]:
    """``make_context(seed=0, lr=0.05, total_steps=240)``: a harness CNN with the card's SGD."""

    def make(seed: int = 0, lr: float = 0.05, total_steps: int = 240) -> TrainContext:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = HarnessCNN(in_channels=1, num_classes=10, image_size=(8, 8))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
        return TrainContext(
            model=model,
            optimizer=optimizer,
            device=torch.device("cpu"),
            num_classes=10,
            generator=torch.Generator().manual_seed(seed + 1),
            normalize=_normalizer(digits.train_images),
            total_steps=total_steps,
        )

    return make


@pytest.fixture(scope="session")
def fit(digits: Digits) -> Callable[[Method, TrainContext, int], None]:
    """``fit(method, ctx, epochs)``: ``setup``, then the library's step over the 200 digits.

    Batches of 50 and the cosine learning-rate schedule over ``ctx.total_steps``, which is
    set to ``4 * epochs`` as the phase loop does.
    """

    def run(method: Method, ctx: TrainContext, epochs: int) -> None:
        ctx.total_steps = 4 * epochs
        method.setup(ctx)
        schedule = build_schedule("cosine", ctx.optimizer, ctx.total_steps)
        order = torch.Generator().manual_seed(7)
        with one_thread():
            for epoch in range(epochs):
                ctx.epoch = epoch
                for index in torch.randperm(len(digits.train_labels), generator=order).split(50):
                    batch = Batch.labeled(digits.train_images[index], digits.train_labels[index], index)
                    library_train_step(method, batch, ctx)
                    schedule.step()

    return run


@pytest.fixture(scope="session")
def train_step() -> Callable[[Method, Batch, TrainContext], StepOutput]:
    """``train_step(method, batch, ctx)``: one step exactly as the phase loop runs it; returns its output."""
    return library_train_step


@pytest.fixture
def torch_one_thread() -> Iterator[None]:
    """The test runs on one intra-op thread (``pytestmark = pytest.mark.usefixtures("torch_one_thread")``)."""
    with one_thread():
        yield


@pytest.fixture(scope="session")
def single_thread() -> Callable[[], AbstractContextManager[None]]:
    """``with single_thread(): ...`` runs torch on one intra-op thread and restores the count."""
    return one_thread


@pytest.fixture(scope="session")
def trained_automix(
    make_context: Callable[..., TrainContext], fit: Callable[[Method, TrainContext, int], None]
) -> tuple[AutoMix, TrainContext]:
    """AutoMix as the "automix" recipe builds it, after 12 epochs (48 steps) on 200 digits; read-only."""
    ctx = make_context()
    method = AutoMix(momentum=(0.9, 0.999999))
    fit(method, ctx, 12)
    return method, ctx
