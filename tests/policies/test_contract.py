"""The transform contract for every policy: replay, seeding, RNG isolation, serialisation round trips."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
import torch
import yaml

import augbench
from augbench import Compose, Transform
from augbench.policies import (
    AugMix, AutoAugment, RandAugment, TimmAugMix, TimmAutoAugment, TimmRandAugment, TrivialAugmentWide, policy,
)  # fmt: skip
from augbench.policies.timm_ops import RAND_CHOICES, RAND_INCREASING_OPS
from augbench.serialization import from_dict, load, save

POLICIES: dict[str, Callable[[], Transform]] = {
    "RandAugment": lambda: RandAugment(),
    "RandAugment-mstd": lambda: RandAugment(num_ops=3, magnitude=5, num_magnitude_bins=11, magnitude_std=0.5, magnitude_max=8),
    "RandAugment-uniform-wide": lambda: RandAugment(magnitude_std=math.inf, space="wide", ops=("Rotate", "Solarize", "ShearX"), fill=0.5),
    "TrivialAugmentWide": lambda: TrivialAugmentWide(),
    "TrivialAugment-standard": lambda: TrivialAugmentWide(num_magnitude_bins=11, space="standard", fill=(0.1, 0.2, 0.3)),
    "AutoAugment-cifar10": lambda: AutoAugment("cifar10"),
    "AutoAugment-imagenet": lambda: AutoAugment("imagenet", fill=1.0),
    "AutoAugment-svhn": lambda: AutoAugment("svhn"),
    "AugMix": lambda: AugMix(),
    "AugMix-all": lambda: AugMix(severity=5, width=2, depth=2, alpha=0.5, all_ops=True),
    "Compose": lambda: Compose([RandAugment(num_ops=1), AugMix(width=2, depth=1), AutoAugment("svhn")]),
    "TimmRandAugment": lambda: TimmRandAugment(),
    "TimmRandAugment-weighted": lambda: TimmRandAugment(
        3, 7, prob=0.8, magnitude_std=0.5, magnitude_max=12, ops=tuple(RAND_CHOICES["3aw"]),
        weights=tuple(RAND_CHOICES["3aw"].values()), fill=0.25, interpolation="bilinear",
    ),
    "TimmRandAugment-inc-uniform": lambda: TimmRandAugment(magnitude=9, magnitude_std=math.inf, ops=RAND_INCREASING_OPS),
    "TimmAutoAugment-v0": lambda: TimmAutoAugment("v0", magnitude_std=0.5),
    "TimmAutoAugment-3a": lambda: TimmAutoAugment("3a", interpolation="nearest"),
    "TimmAugMix": lambda: TimmAugMix(),
    "TimmAugMix-blended": lambda: TimmAugMix(5, width=2, depth=4, alpha=0.5, blended=True, magnitude_std=1.0),
    "policy-string": lambda: policy("rrc24-hflip-rand-m9-n2-mstd0.5-erase0.25"),
    "timm-strings": lambda: policy("rand-m9-mstd0.5-inc1-original-augmix-m3-w2-3a"),
}
IDS = list(POLICIES)


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["uint8", "float"])
@pytest.mark.parametrize("name", IDS)
def test_replay_is_deterministic_and_equals_the_call(name, kind, cifar_images):
    images = cifar_images[:4] if kind == "uint8" else cifar_images[:4].float() / 255
    transform = POLICIES[name]()
    before = images.clone()
    params = transform.sample(images, generator=_seeded(1))
    first = transform.apply(images, params)
    assert torch.equal(transform.apply(images, params), first)
    assert torch.equal(transform(images, generator=_seeded(1)), first)
    assert torch.equal(images, before)  # the input is never written to
    assert first.dtype == images.dtype and first.shape[:2] == images.shape[:2]


@pytest.mark.parametrize("name", IDS)
def test_seeding_and_generator_isolation(name, cifar_images):
    images = cifar_images[:4]
    transform = POLICIES[name]()
    global_state = torch.get_rng_state()
    # An explicit seed decides the output; another seed changes it.
    same = transform(images, generator=_seeded(2))
    assert torch.equal(POLICIES[name]()(images, generator=_seeded(2)), same)
    assert not torch.equal(transform(images, generator=_seeded(3)), same)
    # Without a generator, augbench's default one is used: augbench.seed() replays it, and a call
    # with an explicit generator in between does not advance it.
    augbench.seed(4)
    first, second = transform(images), transform(images)
    augbench.seed(4)
    assert torch.equal(transform(images), first)
    transform(images, generator=_seeded(5))
    assert torch.equal(transform.apply(images, transform.sample(images)), second)
    # torch's global RNG is never touched.
    assert torch.equal(torch.get_rng_state(), global_state)


@pytest.mark.parametrize("name", [n for n in IDS if n != "TrivialAugment-standard"])  # its fill is per RGB channel
def test_grey_non_square_images_work(name, cifar_images):
    grey = cifar_images[:4, :1, :20, :24].contiguous()
    for images in (grey, grey.float() / 255):
        out = POLICIES[name]()(images, generator=_seeded())
        assert out.dtype == images.dtype and out.shape[:2] == (4, 1)
        if name != "policy-string":  # the only one that resizes
            assert out.shape == images.shape


@pytest.mark.parametrize("name", IDS)
def test_batch_of_one_works(name, cifar_images):
    out = POLICIES[name]()(cifar_images[:1], generator=_seeded())
    assert out.shape[:2] == (1, 3) and out.dtype == torch.uint8


@pytest.mark.parametrize("name", [n for n in IDS if n not in ("Compose", "policy-string", "timm-strings")])
def test_keyed_draws_follow_the_sample_not_its_position(name, cifar_images):
    transform = POLICIES[name]()
    images = cifar_images[:6]
    keys = torch.arange(100, 106)
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    out = transform.apply(images, transform.sample(images, keys=keys, seed=9))
    shuffled = transform.apply(images[order], transform.sample(images[order], keys=keys[order], seed=9))
    assert torch.equal(shuffled, out[order])
    head = transform.apply(images[:3], transform.sample(images[:3], keys=keys[:3], seed=9))
    assert torch.equal(head, out[:3])


# -- serialisation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", IDS)
def test_dict_round_trip_gives_the_same_output(name, cifar_images):
    images = cifar_images[:4]
    transform = POLICIES[name]()
    data = transform.to_dict()
    rebuilt = from_dict(data)
    assert type(rebuilt) is type(transform) and repr(rebuilt) == repr(transform)
    assert rebuilt.to_dict() == data
    assert torch.equal(rebuilt(images, generator=_seeded(8)), transform(images, generator=_seeded(8)))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("name", IDS)
def test_file_round_trip_gives_the_same_output(name, suffix, tmp_path, cifar_images):
    transform = POLICIES[name]()
    path = tmp_path / f"pipeline{suffix}"
    save(transform, path)
    text = path.read_text()
    data = yaml.safe_load(text) if suffix != ".json" else json.loads(text)
    assert data["__version__"] == 1 and data["transform"]["__class_fullname__"] == type(transform).__name__
    rebuilt = load(path)
    assert rebuilt.to_dict() == transform.to_dict()
    images = cifar_images[:4]
    assert torch.equal(rebuilt(images, generator=_seeded(9)), transform(images, generator=_seeded(9)))


def test_serialised_timm_policies_keep_every_argument():
    transform = TimmRandAugment(2, 7, prob=0.3, magnitude_std=math.inf, magnitude_max=12, ops=("Rotate", "Invert"),
                                weights=(2.0, 1.0), fill=0.25, interpolation="bicubic", same_on_batch=True)
    assert transform.to_dict()["transform"] == {
        "__class_fullname__": "TimmRandAugment", "num_ops": 2, "magnitude": 7.0, "prob": 0.3, "magnitude_std": math.inf,
        "magnitude_max": 12.0, "ops": ["Rotate", "Invert"], "weights": [2.0, 1.0], "fill": 0.25,
        "interpolation": "bicubic", "same_on_batch": True,
    }  # fmt: skip
    assert TimmAugMix(5, 2, 4, 0.5, True, 1.0, 0.1, "nearest").to_dict()["transform"] == {
        "__class_fullname__": "TimmAugMix", "magnitude": 5.0, "width": 2, "depth": 4, "alpha": 0.5, "blended": True,
        "magnitude_std": 1.0, "fill": 0.1, "interpolation": "nearest", "same_on_batch": False,
    }  # fmt: skip
    assert TimmAutoAugment("originalr", 0.5).to_dict()["transform"] == {
        "__class_fullname__": "TimmAutoAugment", "policy": "originalr", "magnitude_std": 0.5, "fill": 128 / 255,
        "interpolation": "random", "same_on_batch": False,
    }  # fmt: skip
    assert from_dict(policy("rand-m9-mstd0.5-tweights").to_dict()).to_dict() == policy("rand-m9-mstd0.5-tweights").to_dict()


def test_serialised_randaugment_keeps_every_argument():
    transform = RandAugment(num_ops=3, magnitude=5, num_magnitude_bins=11, magnitude_std=math.inf, magnitude_max=8,
                            ops=("Rotate", "Color"), space="wide", fill=0.5, same_on_batch=True)
    config = transform.to_dict()["transform"]
    assert config == {
        "__class_fullname__": "RandAugment", "num_ops": 3, "magnitude": 5.0, "num_magnitude_bins": 11,
        "magnitude_std": math.inf, "magnitude_max": 8.0, "ops": ["Rotate", "Color"], "space": "wide", "fill": 0.5,
        "same_on_batch": True,
    }


@pytest.mark.parametrize("suffix", [".json", ".yml"])
def test_same_on_batch_survives_a_file_round_trip(suffix, tmp_path, cifar_copies):
    path = tmp_path / f"policy{suffix}"
    save(AutoAugment("imagenet", same_on_batch=True), path)
    rebuilt = load(path)
    assert rebuilt.same_on_batch
    out = rebuilt(cifar_copies, generator=_seeded())
    assert len(torch.unique(out.flatten(1), dim=0)) == 1
