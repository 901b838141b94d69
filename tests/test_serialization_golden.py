"""Golden file: a pipeline written in format version 1 keeps loading, to the same transforms."""

from __future__ import annotations

import json
from pathlib import Path

import torch

import augbench as ab

GOLDEN = Path(__file__).parent / "data" / "pipeline_v1.json"


def test_version_1_file_loads_and_round_trips() -> None:
    data = json.loads(GOLDEN.read_text())
    pipeline = ab.from_dict(data)
    assert [type(t).__name__ for t in pipeline.transforms] == [
        "RandomResizedCrop", "HorizontalFlip", "RandomAffine", "RandomErasing", "RandAugment",
        "AutoAugment", "AugMix", "TrivialAugmentWide", "RandomCrop",
    ]
    assert pipeline.to_dict() == data  # nothing lost or renamed since version 1
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert pipeline(images, generator=torch.Generator().manual_seed(1)).shape == (4, 3, 24, 24)
