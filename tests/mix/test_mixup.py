"""Mixup card: lam ~ Beta(alpha, alpha), the same lam for inputs and labels (augbench/mix/mixup.py)."""

from __future__ import annotations

import pytest
import torch

from augbench.mix import Mixup


def constant_images(batch: int, size: tuple[int, int] = (4, 6)) -> torch.Tensor:
    """Sample i is filled with the value i / (batch - 1)."""
    values = torch.linspace(0, 1, batch, dtype=torch.float64)
    return values.view(-1, 1, 1, 1).expand(batch, 3, *size).clone()


@pytest.mark.parametrize("alpha", [1.0, 0.2, 2.0])
def test_mean_lambda_is_one_half_for_symmetric_alpha(alpha: float) -> None:
    images = torch.zeros(20_000, 1, 2, 2, dtype=torch.uint8)
    labels = torch.zeros(20_000, dtype=torch.int64)
    lam = Mixup(2, alpha)(images, labels, generator=torch.Generator().manual_seed(0)).lam.double()
    assert lam.mean().item() == pytest.approx(0.5, abs=0.01)
    assert lam.var().item() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.05)  # Beta(a, a) variance


def test_small_alpha_puts_lambda_near_zero_or_one() -> None:
    images = torch.zeros(4000, 1, 2, 2, dtype=torch.uint8)
    labels = torch.zeros(4000, dtype=torch.int64)
    lam = Mixup(2, alpha=0.05)(images, labels, generator=torch.Generator().manual_seed(0)).lam
    assert ((lam < 0.05) | (lam > 0.95)).float().mean() > 0.8


def test_inputs_and_labels_share_lambda_and_pairing() -> None:
    images = constant_images(9)
    labels = torch.arange(9)
    result = Mixup(9)(images, labels, generator=torch.Generator().manual_seed(0))
    own, partner = images[:, 0, 0, 0], images[result.index, 0, 0, 0]
    lam = result.lam.double()
    torch.testing.assert_close(result.inputs[:, 0, 0, 0], lam * own + (1 - lam) * partner)
    # lam weights the unshuffled sample in the inputs *and* in the target (no swapped pairing)
    torch.testing.assert_close(result.targets[torch.arange(9), labels], result.lam)
    torch.testing.assert_close(result.targets[torch.arange(9), labels[result.index]], 1 - result.lam)


def test_uint8_is_mixed_in_float_and_rounded() -> None:
    generator = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (8, 3, 5, 7), dtype=torch.uint8, generator=generator)
    labels = torch.zeros(8, dtype=torch.int64)
    result = Mixup(1)(images, labels, generator=generator)
    lam = result.lam.view(-1, 1, 1, 1)
    exact = lam * images.float() + (1 - lam) * images[result.index].float()
    assert result.inputs.dtype == torch.uint8
    assert (result.inputs.float() - exact).abs().max() <= 0.5 + 1e-3


def test_float16_keeps_dtype() -> None:
    images = constant_images(5).to(torch.float16)
    result = Mixup(1)(images, torch.zeros(5, dtype=torch.int64), generator=torch.Generator().manual_seed(0))
    assert result.inputs.dtype == torch.float16
