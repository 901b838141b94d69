"""cutout: a clipped square around a per-sample centre, built on erase."""

from __future__ import annotations

import pytest
import torch

import augbench.functional as F
from augbench.errors import InputValueError


def test_square_position_clipping_and_fill(cifar64):
    images = cifar64[:3]
    out = F.cutout(images, torch.tensor([10, 0, 31]), torch.tensor([20, 0, 5]), torch.tensor([8, 6, 5]), fill=128)
    expected = images.clone()
    expected[0, :, 6:14, 16:24] = 128
    expected[1, :, 0:3, 0:3] = 128  # rows/cols -3..2 clipped to 0..2
    expected[2, :, 29:32, 3:8] = 128  # rows 29..33 clipped
    assert torch.equal(out, expected)
    assert torch.equal(F.cutout(images, 5, 5, 0), images)
    floats = F.cutout(images.float() / 255, 16, 16, 4, fill=(0.1, 0.2, 0.3))
    assert floats.dtype == torch.float32
    expected_fill = torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1).expand(3, 3, 4, 4)
    torch.testing.assert_close(floats[:, :, 14:18, 14:18], expected_fill)


@pytest.mark.parametrize(
    "call", [lambda x: F.cutout(x, 3, 3, -2), lambda x: F.cutout(x, 3.5, 3, 2), lambda x: F.cutout(x[0, 0], 3, 3, 2)]
)
def test_bad_params_raise_one_line(cifar64, call):
    with pytest.raises(InputValueError) as info:
        call(cifar64[:2])
    assert "\n" not in str(info.value)


def test_empty_batch_gives_an_empty_batch():
    empty = torch.zeros(0, 3, 8, 9, dtype=torch.uint8)
    assert F.cutout(empty, torch.zeros(0), torch.zeros(0), torch.zeros(0)).shape == (0, 3, 8, 9)
