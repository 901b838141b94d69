"""``augbench show``: labelled, class-balanced grids of every pipeline, policy and mixer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from augbench.bench.show import balanced_indices, render_grid, resolve_drawable
from augbench.cli import main
from augbench.errors import ConfigError
from augbench.mix.base import MIXERS

IMAGES = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
LABELS = torch.tensor([0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize("what", ["rand-m9-n2", "trivialaugment", "augmix-m3-w3", "hflip", "affine",
                                  {"type": "RandomAffine", "degrees": 30.0}, *(m for m in MIXERS if MIXERS.get(m).modality == "image"), "mixup", "cutmix_batchwide"])
def test_every_policy_transform_preset_and_mixer_draws_a_grid(what: object) -> None:
    grid = render_grid(what, IMAGES, LABELS, ("cat", "dog", "emu"), views=3, scale=2)
    pixels = np.asarray(grid)
    assert grid.mode == "RGB" and grid.width > 4 * 16 and grid.height > 6 * 16
    assert (pixels == 255).all(axis=-1).mean() > 0.2  # gutters and margins stay white


def test_a_grid_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    same = [np.asarray(render_grid("cutmix", IMAGES, LABELS, views=2, seed=s)) for s in (1, 1, 2)]
    assert (same[0] == same[1]).all() and not (same[0] == same[2]).all()


def test_mixers_are_drawn_with_a_partner_per_sample() -> None:
    drawable = resolve_drawable("mixup", (3, 8, 8), 3)
    assert drawable.mixer is not None and drawable.transform is None
    assert resolve_drawable("affine", (3, 8, 8), 3).transform is not None


def test_rows_are_class_balanced() -> None:
    labels = torch.tensor([0, 0, 0, 0, 1, 2, 2])
    assert balanced_indices(labels, 5).tolist() == [0, 4, 5, 1, 6]


@pytest.mark.parametrize("what", ["baseline", "fixmatch", "no-such-policy"])
def test_nothing_to_draw_is_one_line(what: str) -> None:
    with pytest.raises(ConfigError) as error:
        render_grid(what, IMAGES, LABELS)
    assert "\n" not in str(error.value)


def test_cli_writes_the_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grid.png"
    assert main(["show", "{type: cutmix, alpha: 0.5}", "--samples", "4", "--views", "2", "--out", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
