"""ResizeMix card: the whole partner is shrunk into the box, label weight = box area (augbench/mix/resizemix.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as nnf

from augbench.errors import InputValueError
from augbench.mix import ResizeMix


def labelled_images(batch: int, size: tuple[int, int]) -> torch.Tensor:
    return torch.arange(batch, dtype=torch.uint8).view(-1, 1, 1, 1).expand(batch, 3, *size).clone()


@pytest.mark.parametrize("size", [(20, 20), (12, 30)])
def test_label_weight_equals_resized_patch_area(size: tuple[int, int]) -> None:
    batch = 200
    images = labelled_images(batch, size)
    labels = torch.zeros(batch, dtype=torch.int64)
    mixer = ResizeMix(2)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
    result = mixer.apply(images, labels, params)
    from_partner = (result.inputs[:, 0] == result.index.view(-1, 1, 1).to(torch.uint8)).float().mean((1, 2))
    torch.testing.assert_close(1 - result.lam, from_partner)
    height, width = size
    area = (params.height * params.width).float() / (height * width)
    torch.testing.assert_close(1 - result.lam, area)
    # the box lies inside the image, so it is never clipped
    assert bool(((params.top >= 0) & (params.top + params.height <= height)).all())
    assert bool(((params.left >= 0) & (params.left + params.width <= width)).all())


def test_mean_label_weight_is_mean_tau_squared() -> None:
    batch = 20_000
    images = torch.zeros(batch, 1, 40, 40, dtype=torch.uint8)
    lam = ResizeMix(2)(images, torch.zeros(batch, dtype=torch.int64), generator=torch.Generator().manual_seed(1)).lam
    expected = (0.8**3 - 0.1**3) / (3 * 0.7)  # E[tau^2] for tau ~ U(0.1, 0.8), about 0.243
    assert (1 - lam.double()).mean().item() == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize("interpolation, mode", [("nearest", "nearest-exact"), ("bilinear", "bilinear")])
def test_patch_is_the_whole_partner_resized(interpolation: str, mode: str) -> None:
    generator = torch.Generator().manual_seed(2)
    images = torch.rand(6, 3, 24, 18, generator=generator, dtype=torch.float64)
    mixer = ResizeMix(2, interpolation=interpolation)
    params = mixer.sample(images, torch.zeros(6, dtype=torch.int64), generator=generator)
    result = mixer.apply(images, torch.zeros(6, dtype=torch.int64), params)
    for i in range(6):
        top, left, height, width = (int(params[k][i]) for k in ("top", "left", "height", "width"))
        partner = images[int(result.index[i])][None]
        kwargs = {"antialias": False, "align_corners": False} if mode == "bilinear" else {}
        expected = nnf.interpolate(partner, size=(height, width), mode=mode, **kwargs)[0]
        torch.testing.assert_close(result.inputs[i, :, top : top + height, left : left + width], expected)


def test_uint8_bilinear_keeps_dtype() -> None:
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mixer = ResizeMix(2, interpolation="bilinear")
    result = mixer(images, torch.zeros(5, dtype=torch.int64), torch.Generator().manual_seed(0))
    assert result.inputs.dtype == torch.uint8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scale": (0.8, 0.1)}, r"low > high; pass \(0.1, 0.8\)"),
        ({"scale": (0.0, 0.5)}, r"within \(0, 1\]"),
        ({"scale": 0.5}, r"must be \(low, high\)"),
        ({"interpolation": "cubic"}, "use 'nearest' or 'bilinear'"),
    ],
)
def test_constructor_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputValueError, match=match):
        ResizeMix(2, **kwargs)
