"""Your own loop: IndexedDataset + DataLoader + BatchAugment, and create_pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from augbench.errors import InputTypeError, InputValueError
from augbench.loader import BatchAugment, IndexedDataset, create_pipeline, to_uint8_chw
from augbench.mix import CutMix
from augbench.transforms import CenterCrop, Normalize, Resize

ROOT = Path(__file__).resolve().parents[1]
IMAGES = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
LABELS = torch.arange(40) % 4


def _augment(**options: object) -> BatchAugment:
    return BatchAugment(create_pipeline(16, policy="hflip", scale=(0.5, 1.0), mean=[0.5] * 3, std=[0.25] * 3),
                        num_samples=40, seed=3, **options)


def test_a_sample_gets_the_same_augmentation_whatever_the_batching_and_workers() -> None:
    dataset = IndexedDataset(TensorDataset(IMAGES, LABELS))
    outputs = []
    for batch_size, workers in ((8, 0), (13, 2)):
        augment = _augment()
        augment.set_epoch(1)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                            generator=torch.Generator().manual_seed(batch_size))
        by_index = torch.empty(40, 3, 16, 16)
        for images, labels, indices in loader:
            inputs, targets = augment(images, labels, indices)
            assert inputs.dtype == torch.float32 and torch.equal(targets, labels)
            by_index[indices] = inputs
        outputs.append(by_index)
    assert torch.equal(outputs[0], outputs[1])
    again = _augment()
    again.set_epoch(2)  # a new epoch draws new augmentations
    assert not torch.equal(again(IMAGES, LABELS, torch.arange(40))[0], outputs[0])


def test_mixing_happens_before_normalisation_and_gives_soft_targets() -> None:
    augment = BatchAugment(create_pipeline(16, mean=[0.5] * 3, std=[0.25] * 3, hflip=0.0, scale=(1.0, 1.0)),
                           num_samples=40, mixer=CutMix(num_classes=4, alpha=1.0))
    inputs, targets = augment(IMAGES, LABELS, torch.arange(40))
    assert targets.shape == (40, 4) and torch.allclose(targets.sum(1), torch.ones(40))
    pixels = inputs * 0.25 + 0.5  # undo the normalisation: every pixel is one of the two images' pixels
    assert torch.allclose(pixels * 255, (pixels * 255).round(), atol=1e-3)


def test_create_pipeline_train_and_eval_steps() -> None:
    train = create_pipeline(32, policy="hflip", erasing=0.25)
    assert [type(t).__name__ for t in train.transforms] == [
        "RandomResizedCrop", "HorizontalFlip", "HorizontalFlip", "RandomErasing", "Normalize"]
    evaluate = create_pipeline(224, train=False)
    assert [type(t) for t in evaluate.transforms] == [Resize, CenterCrop, Normalize]
    assert evaluate.transforms[0].size == [256] and evaluate.output_shape((3, 300, 400)) == (3, 224, 224)
    assert not any(isinstance(t, Normalize) for t in create_pipeline(32, mean=None).transforms)


def test_bad_input_is_one_line() -> None:
    with pytest.raises(InputValueError, match="num_samples=len"):
        _augment()(IMAGES, LABELS, torch.arange(40) + 10)
    with pytest.raises(InputValueError, match="wrap the dataset in IndexedDataset"):
        _augment()(IMAGES, LABELS, torch.arange(39))
    with pytest.raises(InputTypeError, match="uint8"):
        to_uint8_chw(np.zeros((4, 4, 3), dtype=np.float32))
    assert to_uint8_chw(np.zeros((5, 4), dtype=np.uint8)).shape == (1, 5, 4)


def _cifar_root() -> Path:
    root = Path(os.environ.get("AUGBENCH_DATA", ROOT.parent / "shared" / "data")) / "cifar10"
    if not (root / "data_batch_1.bin").is_file():
        pytest.skip(f"no CIFAR-10 binary files in {root}")
    return root


def test_the_cifar10_example_runs_a_short_epoch() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "cifar10_loop.py"), "--data-root",
                           str(_cifar_root()), "--epochs", "1", "--limit", "256", "--batch-size", "64"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "epoch 0: train loss" in done.stdout and "test accuracy" in done.stdout
