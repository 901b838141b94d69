"""``augbench show`` for every non-image modality: a PNG per modality, tables decode tokens."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from augbench.bench.show_modalities import TABLE_MODALITIES, _decode, draw_modality
from augbench.errors import ConfigError

SAMPLES = {
    "timeseries": torch.randn(2, 40),
    "audio": torch.randn(1, 2000),
    "spectrogram": torch.rand(1, 20, 30),
    "points": torch.randn(200, 3),
    "skeleton": torch.randn(16, 5, 3),
    "text": torch.tensor([5, 6, 7, 0, 0]),
    "sequence": torch.tensor([0, 0, 3, 4, 5]),
}


@pytest.mark.parametrize("modality", sorted(SAMPLES))
def test_draws_a_png_per_modality(modality, tmp_path):
    sample = SAMPLES[modality]
    rows = [[(sample, ""), (sample * 1, "lam 0.70 + b")], [(sample, ""), (sample, "")]]
    tokens = tuple(f"w{i}" for i in range(10)) if modality in TABLE_MODALITIES else None
    bones = ((0, 1), (1, 2)) if modality == "skeleton" else None
    path = draw_modality(modality, rows, ["a", "b"], "title", tmp_path / f"{modality}.png", tokens=tokens, bones=bones)
    with Image.open(path) as image:
        assert image.size[0] > 100 and image.size[1] > 50


def test_tables_decode_tokens_and_drop_padding():
    assert _decode(("<pad>", "<unk>", "the", "film"), torch.tensor([2, 3, 0, 0])) == "the film"
    assert _decode(None, torch.tensor([0, 7, 8])) == "7 8"
    assert _decode(None, torch.arange(1, 21), tail=3) == "... 18 19 20"


def test_unknown_modality_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="no drawing for image"):
        draw_modality("image", [[(torch.zeros(3, 4, 4), "")]], ["a"], "t", tmp_path / "x.png")
