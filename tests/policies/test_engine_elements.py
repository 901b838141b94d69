"""Engine elements of policy strings: rrc, crop, hflip, vflip, erase build the right transforms."""

from __future__ import annotations

import pytest
import torch

from augbench import Compose, HorizontalFlip, RandomCrop, RandomErasing, RandomResizedCrop, VerticalFlip
from augbench.errors import ConfigError
from augbench.policies import policy


@pytest.mark.parametrize(
    "text, kind, attributes",
    [
        ("rrc32", RandomResizedCrop, {"size": (32, 32), "scale": (0.08, 1.0)}),
        ("rrc24s0.25", RandomResizedCrop, {"size": (24, 24), "scale": (0.25, 1.0)}),
        ("crop32p4", RandomCrop, {"size": (32, 32), "padding": (4, 4, 4, 4)}),
        ("crop28", RandomCrop, {"size": (28, 28)}),
        ("hflip", HorizontalFlip, {"p": 0.5}),
        ("hflip0.3", HorizontalFlip, {"p": 0.3}),
        ("vflip", VerticalFlip, {"p": 0.5}),
        ("vflip1", VerticalFlip, {"p": 1.0}),
        ("erase0.25", RandomErasing, {"p": 0.25}),
    ],
)
def test_elements_build_their_transform(text, kind, attributes):
    transform = policy(text)
    assert type(transform) is kind
    for name, value in attributes.items():
        assert getattr(transform, name) == value, name


def test_crop_without_padding_pads_nothing():
    assert policy("crop28").padding == (0, 0, 0, 0)


def test_out_of_range_probability_is_refused():
    with pytest.raises(ValueError, match=r"p=1\.5 must be a number in \[0, 1\]"):
        policy("hflip1.5")


def test_pipeline_runs_in_order_on_real_images(cifar_images):
    pipeline = policy("rrc24-hflip-rand-m9-n2-erase0.25")
    assert type(pipeline) is Compose
    out = pipeline(cifar_images, generator=torch.Generator().manual_seed(0))
    assert out.shape == (32, 3, 24, 24) and out.dtype == torch.uint8
    assert policy("crop32p4-hflip")(cifar_images, generator=torch.Generator().manual_seed(0)).shape == cifar_images.shape


@pytest.mark.parametrize("text", ["rrc32x", "rrcs0.5", "crop32p4p4", "hflipx", "erase-hflip"])
def test_malformed_arguments_are_unknown_elements(text):
    with pytest.raises(ConfigError, match="unknown element"):
        policy(text)
