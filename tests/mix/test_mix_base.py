"""The Mixer contract, checked for every registered mixer (augbench/mix/base.py)."""

from __future__ import annotations

import json

import pytest
import torch

import augbench
from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.mix import MIXERS, CutMix, Mixer, MixResult, Mixup
from augbench.random import Params

NUM_CLASSES = 5
ALL = [name for name in MIXERS.names() if MIXERS.get(name).modality == "image"]  # other modalities test their own


def make_batch(batch: int = 7, dtype: torch.dtype = torch.uint8, size: tuple[int, int] = (12, 10)) -> tuple:
    generator = torch.Generator().manual_seed(batch)
    images = torch.randint(0, 256, (batch, 3, *size), dtype=torch.uint8, generator=generator)
    if dtype != torch.uint8:
        images = images.to(dtype) / 255
    labels = torch.randint(0, NUM_CLASSES, (batch,), generator=generator)
    return images, labels


def build(name: str, **kwargs) -> Mixer:
    return MIXERS.build(name, num_classes=NUM_CLASSES, **kwargs)


def one_hot(labels: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    rows = torch.nn.functional.one_hot(labels, NUM_CLASSES).float()
    return rows * (1 - eps) + eps / NUM_CLASSES


def test_registry_has_the_batched_mixers() -> None:
    assert {"cutmix", "fmix", "mixup", "puzzlemix", "resizemix", "saliencymix", "transmix"} <= set(ALL)
    with pytest.raises(ConfigError, match="did you mean 'cutmix'"):
        MIXERS.get("cutmx")
    with pytest.raises(TypeError, match="unknown option"):
        MIXERS.build("mixup", num_classes=3, beta=1.0)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_result_shapes_dtypes_and_targets(name: str, dtype: torch.dtype) -> None:
    images, labels = make_batch(dtype=dtype)
    result = build(name)(images, labels, generator=torch.Generator().manual_seed(0))
    assert isinstance(result, MixResult)
    assert result.inputs.shape == images.shape and result.inputs.dtype == dtype
    assert result.targets.shape == (7, NUM_CLASSES) and result.targets.dtype == torch.float32
    assert result.lam.shape == (7,) and result.lam.dtype == torch.float32
    assert result.index.shape == (7,) and result.index.dtype == torch.int64
    assert bool(((result.lam >= 0) & (result.lam <= 1)).all())
    torch.testing.assert_close(result.targets.sum(1), torch.ones(7))
    expected = result.lam[:, None] * one_hot(labels) + (1 - result.lam[:, None]) * one_hot(labels[result.index])
    torch.testing.assert_close(result.targets, expected)
    if dtype.is_floating_point:
        assert bool(((result.inputs >= 0) & (result.inputs <= 1)).all())


@pytest.mark.parametrize("name", ALL)
def test_label_smoothing(name: str) -> None:
    images, labels = make_batch()
    eps = 0.2
    result = build(name, label_smoothing=eps)(images, labels, generator=torch.Generator().manual_seed(0))
    lam = result.lam[:, None]
    expected = lam * one_hot(labels, eps) + (1 - lam) * one_hot(labels[result.index], eps)
    torch.testing.assert_close(result.targets, expected)
    torch.testing.assert_close(result.targets.sum(1), torch.ones(7))
    assert float(result.targets.min()) >= eps / NUM_CLASSES - 1e-6


@pytest.mark.parametrize("name", ALL)
def test_replay_and_seeded_determinism(name: str) -> None:
    images, labels = make_batch(dtype=torch.float32)
    mixer = build(name)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(4))
    first, second = mixer.apply(images, labels, params), mixer.apply(images, labels, params)
    for field in ("inputs", "targets", "lam", "index"):
        assert torch.equal(getattr(first, field), getattr(second, field))
    again = mixer(images, labels, generator=torch.Generator().manual_seed(4))
    assert torch.equal(again.inputs, first.inputs) and torch.equal(again.lam, first.lam)
    other = mixer(images, labels, generator=torch.Generator().manual_seed(5))
    assert not torch.equal(other.lam, first.lam) or not torch.equal(other.index, first.index)


@pytest.mark.parametrize("name", ALL)
def test_default_generator_is_seeded_by_augbench_seed(name: str) -> None:
    images, labels = make_batch()
    mixer = build(name)
    state = torch.get_rng_state()
    augbench.seed(11)
    first = mixer(images, labels)
    augbench.seed(11)
    second = mixer(images, labels)
    assert torch.equal(first.inputs, second.inputs) and torch.equal(first.lam, second.lam)
    assert torch.equal(state, torch.get_rng_state())  # torch's global RNG is never used


@pytest.mark.parametrize("name", ALL)
def test_per_sample_draws_differ_per_row(name: str) -> None:
    images, labels = make_batch(batch=16, size=(16, 16))
    result = build(name)(images, labels, generator=torch.Generator().manual_seed(0))
    assert result.lam.unique().numel() > 4
    assert not bool((result.index == torch.arange(16)).any())  # a partner is another sample


@pytest.mark.parametrize("name", ALL)
def test_batch_mode_uses_one_draw_and_a_permutation(name: str) -> None:
    images, labels = make_batch(batch=16, size=(16, 16))
    result = build(name, per_sample=False)(images, labels, generator=torch.Generator().manual_seed(0))
    assert result.lam.unique().numel() == 1
    assert torch.equal(result.index.sort().values, torch.arange(16))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("per_sample", [True, False])
def test_batch_of_one_and_odd_batches(name: str, batch: int, per_sample: bool) -> None:
    images, labels = make_batch(batch=batch)
    result = build(name, per_sample=per_sample)(images, labels, generator=torch.Generator().manual_seed(0))
    assert result.inputs.shape == images.shape
    torch.testing.assert_close(result.targets.sum(1), torch.ones(batch))
    if batch == 1:  # the only partner is the sample itself: the target stays one-hot
        assert torch.equal(result.index, torch.zeros(1, dtype=torch.int64))
        torch.testing.assert_close(result.targets, one_hot(labels))
        if name != "resizemix":  # ResizeMix pastes a shrunken copy of the image into itself
            assert torch.equal(result.inputs, images)


@pytest.mark.parametrize("name", ALL)
def test_serialisation_round_trip(name: str) -> None:
    mixer = build(name, per_sample=False, label_smoothing=0.1)
    data = json.loads(json.dumps(mixer.to_dict()))
    assert data["__version__"] == 1 and data["mixer"] == name
    rebuilt = Mixer.from_dict(data)
    assert type(rebuilt) is type(mixer) and rebuilt.to_dict() == mixer.to_dict()
    images, labels = make_batch()
    first = mixer(images, labels, generator=torch.Generator().manual_seed(0))
    second = rebuilt(images, labels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first.inputs, second.inputs) and torch.equal(first.targets, second.targets)
    assert repr(mixer).startswith(type(mixer).__name__ + "(num_classes=5")


def test_from_dict_errors() -> None:
    data = Mixup(3).to_dict()
    with pytest.raises(ConfigError, match="format version"):
        Mixer.from_dict({**data, "__version__": 99})
    with pytest.raises(ConfigError, match="use Mixer.from_dict"):
        CutMix.from_dict(data)
    with pytest.raises(ConfigError, match="keys"):
        Mixer.from_dict({"mixer": "mixup"})
    with pytest.raises(ConfigError, match="unknown mixer"):
        Mixer.from_dict({**data, "mixer": "nomix"})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_classes": 0}, "num_classes=0 must be an int >= 1"),
        ({"num_classes": 2.5}, "num_classes=2.5"),
        ({"num_classes": 3, "alpha": 0.0}, "alpha=0.0 must be a finite number > 0"),
        ({"num_classes": 3, "alpha": float("inf")}, "alpha=inf"),
        ({"num_classes": 3, "label_smoothing": 1.0}, r"label_smoothing=1.0 must be a number in \[0, 1\)"),
        ({"num_classes": 3, "per_sample": 1}, "per_sample=1 must be True or False"),
    ],
)
def test_constructor_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputValueError, match=match) as info:
        Mixup(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "images, labels, error, match",
    [
        (torch.zeros(4, 3, 8, 8), torch.zeros(4, dtype=torch.int32), InputTypeError, r"int64 .*labels.long\(\)"),
        (torch.zeros(4, 3, 8, 8), torch.zeros(4, 5, dtype=torch.int64), InputValueError, r"labels.argmax\(1\)"),
        (torch.zeros(4, 3, 8, 8), torch.zeros(3, dtype=torch.int64), InputValueError, "3 labels for 4 images"),
        (torch.zeros(4, 3, 8, 8), torch.tensor([0, 1, 5, 2]), InputValueError, r"\[0, 5\), got values in \[0, 5\]"),
        (torch.zeros(4, 3, 8, 8), torch.tensor([0, -1, 2, 2]), InputValueError, "check num_classes"),
        (torch.zeros(4, 3, 8, 8), [0, 1, 2, 3], InputTypeError, r"torch.as_tensor"),
        (torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.int64), InputValueError, r"unsqueeze\(0\)"),
        (torch.full((4, 3, 8, 8), 2.0), torch.zeros(4, dtype=torch.int64), InputValueError, r"\[0, 1\]"),
    ],
)
@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_bad_inputs_raise_one_line_errors(name: str, images, labels, error: type, match: str) -> None:
    mixer = build(name)
    with pytest.raises(error, match=match) as info:
        mixer(images, labels, generator=torch.Generator().manual_seed(0))
    assert "\n" not in str(info.value)


def test_bad_params_raise() -> None:
    mixer = CutMix(NUM_CLASSES)
    images, labels = make_batch(batch=6)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
    with pytest.raises(InputValueError, match="drawn for a batch of 6, got 5 images"):
        mixer.apply(images[:5], labels[:5], params)
    with pytest.raises(InputValueError, match=r"Params returned by CutMix.sample\(\)"):
        mixer.apply(images, labels, {"index": params.index})
    with pytest.raises(InputValueError, match="Params returned"):
        mixer.apply(images, labels, Params(6, lam=torch.zeros(6)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ALL)
def test_cuda_matches_cpu(name: str) -> None:
    images, labels = make_batch(dtype=torch.float32)
    mixer = build(name)
    params = mixer.sample(images, labels, generator=torch.Generator().manual_seed(0))
    on_cpu = mixer.apply(images, labels, params)
    on_gpu = mixer.apply(images.cuda(), labels.cuda(), params.to("cuda"))
    assert on_gpu.inputs.device.type == "cuda"
    torch.testing.assert_close(on_gpu.lam.cpu(), on_cpu.lam)
    torch.testing.assert_close(on_gpu.targets.cpu(), on_cpu.targets)
    gpu_draw = mixer(images.cuda(), labels.cuda(), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu_draw.lam.cpu(), on_cpu.lam)
