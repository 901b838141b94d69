"""The transform contract of every non-image modality, over every registered transform.

Each registered :class:`~augbench.transforms.base.Transform` whose ``modality`` is not
``"image"`` is built from :data:`CONTRACT_ARGS` (default: no arguments) and run on the example
batch of its modality (:data:`EXAMPLES`). The contract: shape (unless ``output_shape`` says
otherwise), dtype and device kept; ``t(x, g) == t.apply(x, t.sample(x, g))`` and a replay gives
the same output; keyed draws of a sample do not depend on its batch; ``same_on_batch`` draws one
parameter set; ``p=0`` is the identity; a ``to_dict`` round trip gives the same output; an empty
batch comes back empty; the wrong layout and NaN fail with one line. Each modality's own tests
check the ops' invariants (rotation keeps distances, SNR of added noise, ...).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
import torch

from augbench.errors import AugbenchError
from augbench.random import Params
from augbench.serialization import from_dict
from augbench.transforms.base import TRANSFORMS, Transform

import augbench.policies  # noqa: F401  (registers ModalityRandAugment)
import augbench.transforms  # noqa: F401  (registers the modality transforms)
from augbench.policies.modal import MODALITY_OPS


def _text(batch: int = 8, length: int = 24) -> torch.Tensor:
    """Token ids in [4, 50) with right padding (id 0): row b keeps 6 + 2b tokens (at least 2)."""
    ids = torch.randint(4, 50, (batch, length), generator=torch.Generator().manual_seed(0))
    lengths = (6 + 2 * torch.arange(batch)).clamp(max=length)
    return ids.masked_fill(torch.arange(length) >= lengths[:, None], 0)


def _sequence(batch: int = 8, length: int = 20) -> torch.Tensor:
    """Item ids in [1, 100] with left padding (id 0): the most recent item is last."""
    ids = torch.randint(1, 101, (batch, length), generator=torch.Generator().manual_seed(0))
    lengths = (5 + 2 * torch.arange(batch)).clamp(max=length)
    return ids.masked_fill(torch.arange(length).flip(0) >= lengths[:, None], 0)


EXAMPLES: dict[str, Callable[[], torch.Tensor]] = {
    "timeseries": lambda: torch.randn(8, 2, 64, generator=torch.Generator().manual_seed(0)),
    "audio": lambda: 0.1 * torch.randn(8, 1, 4000, generator=torch.Generator().manual_seed(0)),
    "spectrogram": lambda: torch.rand(8, 1, 40, 50, generator=torch.Generator().manual_seed(0)),
    "text": _text,
    "points": lambda: torch.randn(8, 256, 3, generator=torch.Generator().manual_seed(0)),
    "sequence": _sequence,
    "skeleton": lambda: torch.randn(8, 32, 20, 3, generator=torch.Generator().manual_seed(0)),
}
"""One example batch per modality (8 samples)."""

CONTRACT_ARGS: dict[str, dict[str, object]] = {
    "ModalityRandAugment": {"modality": "timeseries"},
    "ItemInsert": {"table": [[1 + (7 * i + j) % 100 for j in range(3)] for i in range(101)]},
    "ItemSubstitute": {"table": [[1 + (7 * i + j) % 100 for j in range(3)] for i in range(101)]},
    **{name: {"vocabulary": "demo"} for name in ("TextSynonymReplace", "TextSynonymInsert", "TextRandomReplace", "TextRewrite")},
}
"""Constructor arguments of transforms that need some (the others are built with none)."""

NOT_RANDOM: set[str] = set()
"""Deterministic transforms (no per-sample draw): the diversity check skips them."""


def _modal_transforms() -> list[str]:
    names = []
    for name in TRANSFORMS.names():
        cls = TRANSFORMS.get(name)
        if cls.modality != "image" and (cls.modality or name in CONTRACT_ARGS):
            if name == "ModalityRandAugment" and "timeseries" not in MODALITY_OPS:
                continue  # no ops registered yet
            names.append(name)
    return names


NAMES = _modal_transforms()


def _build(name: str, **options: object) -> Transform:
    return TRANSFORMS.get(name)(**{**CONTRACT_ARGS.get(name, {}), **options})


def _example(transform: Transform) -> torch.Tensor:
    return EXAMPLES[transform.modality]()


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, atol=1e-6)))


def test_every_modality_has_an_example() -> None:
    from augbench.modalities import MODALITIES

    assert set(MODALITIES.names()) - {"image"} == set(EXAMPLES)


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_and_replay(name: str) -> None:
    transform = _build(name)
    x = _example(transform)
    out = transform(x, generator=_gen())
    expected_shape = (x.shape[0], *transform.output_shape(tuple(x.shape[1:])))
    assert tuple(out.shape) == expected_shape and out.dtype == x.dtype and out.device == x.device
    params = transform.sample(x, generator=_gen())
    assert isinstance(params, Params) and params.batch_size == x.shape[0]
    assert _equal(transform.apply(x, params), out)
    assert _equal(transform.apply(x, params), transform.apply(x, params))
    assert _equal(x, _example(transform)), "apply must not write to its input"


@pytest.mark.parametrize("name", NAMES)
def test_keyed_draws_do_not_depend_on_the_batch(name: str) -> None:
    transform = _build(name)
    x = _example(transform)
    keys = torch.arange(40, 48)
    whole = transform(x, keys=keys, seed=5)
    order = torch.tensor([5, 2, 7, 0])
    part = transform(x[order], keys=keys[order], seed=5)
    assert _equal(whole[order], part)


@pytest.mark.parametrize("name", NAMES)
def test_draws_differ_per_sample_and_same_on_batch_draws_one(name: str) -> None:
    if "same_on_batch" not in inspect.signature(TRANSFORMS.get(name).__init__).parameters:
        pytest.skip("no same_on_batch option")
    transform = _build(name, same_on_batch=True)
    x = _example(transform)
    x = x[:1].expand(4, *x.shape[1:]).clone()  # four copies of one sample
    out = transform(x, generator=_gen())
    assert all(_equal(out[0], out[i]) for i in range(1, 4))
    if name not in NOT_RANDOM:
        varied = _build(name)(x, generator=_gen())
        assert not all(_equal(varied[0], varied[i]) for i in range(1, 4)), "per-sample draws should differ"


@pytest.mark.parametrize("name", NAMES)
def test_p_zero_is_the_identity(name: str) -> None:
    if "p" not in inspect.signature(TRANSFORMS.get(name).__init__).parameters:
        pytest.skip("no p option")
    transform = _build(name, p=0.0)
    x = _example(transform)
    if transform.output_shape(tuple(x.shape[1:])) != tuple(x.shape[1:]):
        pytest.skip("changes the shape")
    assert _equal(transform(x, generator=_gen()), x)


@pytest.mark.parametrize("name", NAMES)
def test_serialisation_round_trip(name: str) -> None:
    transform = _build(name)
    again = from_dict(transform.to_dict())
    x = _example(transform)
    assert type(again) is type(transform)
    assert _equal(again(x, generator=_gen(3)), transform(x, generator=_gen(3)))


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch_and_bad_input(name: str) -> None:
    transform = _build(name)
    x = _example(transform)
    empty = x[:0]
    assert transform(empty, generator=_gen()).shape[0] == 0
    with pytest.raises(AugbenchError, match=transform.modality):
        transform(x[0], generator=_gen())  # the batch axis missing
    if x.is_floating_point():
        bad = x.clone()
        bad.view(-1)[0] = float("nan")
        with pytest.raises(AugbenchError, match="NaN"):
            transform(bad, generator=_gen())
