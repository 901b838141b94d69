"""CutMix's box paste through augbench/native/mixing.c against the torch paste: the same elements."""

from __future__ import annotations

import pytest
import torch

from augbench.mix import CutMix


@pytest.fixture(autouse=True)
def compiled(compiled_library):
    return compiled_library("mixing")


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("per_sample", [True, False])
@pytest.mark.parametrize("alpha", [0.05, 1.0, 20.0])  # nearly empty or whole-image boxes, and in between
def test_the_compiled_paste_gives_the_torch_result(torch_only, dtype, per_sample, alpha) -> None:
    generator = torch.Generator().manual_seed(int(alpha * 100))
    images = torch.rand(37, 3, 9, 14, generator=generator)
    images = (images * 255).to(dtype) if dtype == torch.uint8 else images.to(dtype)
    labels = torch.randint(0, 10, (37,), generator=generator)
    mixer = CutMix(10, alpha, per_sample=per_sample)
    expected = torch_only(lambda: mixer(images, labels, generator=torch.Generator().manual_seed(1)))
    result = mixer(images, labels, generator=torch.Generator().manual_seed(1))
    assert torch.equal(result.inputs, expected.inputs) and result.inputs.dtype == dtype
    assert torch.equal(result.lam, expected.lam) and torch.equal(result.targets, expected.targets)


def test_channels_last_batches_keep_their_layout_and_values(torch_only) -> None:
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8).to(memory_format=torch.channels_last)
    labels = torch.arange(6)
    result = CutMix(10)(images, labels, generator=torch.Generator().manual_seed(2))
    expected = torch_only(lambda: CutMix(10)(images.contiguous(), labels, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(result.inputs, expected.inputs)
    assert result.inputs.is_contiguous(memory_format=torch.channels_last)
