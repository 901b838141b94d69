"""The modality registry: layout checks, collation and fitted normalisers per kind of data."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import AugbenchError, ConfigError
from augbench.modalities import MODALITIES, get_modality


def test_every_modality_of_the_design_is_registered() -> None:
    assert MODALITIES.names() == ["audio", "image", "points", "sequence", "skeleton", "spectrogram", "text", "timeseries"]


@pytest.mark.parametrize(("name", "good", "bad", "message"), [
    ("image", torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, 4, 4, dtype=torch.uint8), r"\(B, C, H, W\)"),
    ("image", torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4, dtype=torch.int32), "uint8 .* or float"),
    ("timeseries", torch.zeros(2, 1, 9), torch.zeros(2, 9), r"\(B, C, L\)"),
    ("timeseries", torch.zeros(2, 1, 9), torch.zeros(2, 1, 9, dtype=torch.long), "floating point"),
    ("text", torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5), "integer ids"),
    ("points", torch.zeros(2, 7, 3), torch.zeros(2, 7, 2), "need >= 3"),
    ("skeleton", torch.zeros(2, 4, 5, 3), torch.zeros(2, 4, 5, 2), "need 3"),
    ("sequence", torch.zeros(2, 5, dtype=torch.long), torch.zeros(0, 5, dtype=torch.long), "empty"),
    ("audio", torch.zeros(2, 1, 9), torch.full((2, 1, 9), float("nan")), "NaN"),
])
def test_layout_checks_are_one_line(name: str, good: torch.Tensor, bad: torch.Tensor, message: str) -> None:
    modality = get_modality(name)
    assert modality.check_batch(good) is good
    with pytest.raises(AugbenchError, match=message) as info:
        modality.check_batch(bad)
    assert len(str(info.value).splitlines()) == 1


def test_image_normaliser_scales_uint8_and_standardises_per_channel() -> None:
    images = torch.randint(0, 256, (20, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    normalised = get_modality("image").fit_normalizer(images)(images)
    assert normalised.dtype == torch.float32
    assert torch.allclose(normalised.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(normalised.std((0, 2, 3)), torch.ones(3), atol=1e-3)


def test_series_normaliser_is_per_channel_over_time_and_tokens_pass_through() -> None:
    series = torch.randn(10, 2, 30) * torch.tensor([1.0, 5.0]).view(1, 2, 1) + 3
    normalised = get_modality("timeseries").fit_normalizer(series)(series)
    assert torch.allclose(normalised.mean((0, 2)), torch.zeros(2), atol=1e-5)
    tokens = torch.randint(0, 100, (4, 6))
    assert torch.equal(get_modality("text").fit_normalizer(tokens)(tokens), tokens)


def test_collation_picks_samples_and_model_shape_names_what_factories_take() -> None:
    pool = torch.arange(24.0).view(4, 1, 6)
    assert torch.equal(get_modality("timeseries").collate(pool, torch.tensor([2, 0])), pool[[2, 0]])
    assert get_modality("image").model_shape((3, 32, 32)) == {"input_shape": (3, 32, 32), "in_channels": 3, "image_size": (32, 32)}
    assert get_modality("timeseries").model_shape((12, 29))["length"] == 29


def test_unknown_modality_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown modality 'video'; choose from: audio, image"):
        get_modality("video")
