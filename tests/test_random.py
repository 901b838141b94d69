"""augbench.random: the Params container, the default generator and the batched draws."""

from __future__ import annotations

import pytest
import torch

import augbench
from augbench import InputValueError, Params, RandomAffine, RandomErasing
from augbench.random import bernoulli, default_generator, log_uniform, randint, resolve_generator, uniform


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message, f"expected a one-line message, got {message!r}"
    return message


# -- Params ------------------------------------------------------------------------------------


def test_params_reads_entries_by_key_and_attribute() -> None:
    angle = torch.tensor([1.0, 2.0, 3.0])
    params = Params(3, angle=angle, top=torch.tensor([0, 1, 2]))
    assert params.batch_size == 3
    assert params.angle is angle and params["angle"] is angle
    assert len(params) == 2 and list(params) == ["angle", "top"] and "top" in params and "left" not in params
    assert dict(params)["top"].tolist() == [0, 1, 2]
    assert "batch_size=3" in repr(params) and "angle=(3,)" in repr(params)


def test_params_missing_attribute_names_the_entries() -> None:
    params = Params(2, angle=torch.zeros(2))
    with pytest.raises(AttributeError) as error:
        params.scale
    assert "angle" in str(error.value) and "scale" in str(error.value)
    with pytest.raises(KeyError):
        params["scale"]
    with pytest.raises(AttributeError):
        params._private


def test_params_is_immutable() -> None:
    params = Params(2, angle=torch.zeros(2))
    with pytest.raises(TypeError):
        params["angle"] = torch.ones(2)  # type: ignore[index]
    with pytest.raises((AttributeError, TypeError)):
        params.angle = torch.ones(2)  # an attribute would shadow the entry: params.angle != params["angle"]
    assert torch.equal(params.angle, torch.zeros(2))


def test_params_checks_the_leading_dim_of_every_entry() -> None:
    Params(4, a=torch.zeros(4), b=torch.zeros(4, 3, 2))  # trailing dims are free
    with pytest.raises(InputValueError) as error:
        Params(4, a=torch.zeros(4), b=torch.zeros(3))
    message = _one_line(error)
    assert "'b'" in message and "3" in message and "4" in message
    with pytest.raises(InputValueError):
        Params(2, nested=Params(3, a=torch.zeros(3)))
    assert Params(2, nested=Params(2, a=torch.zeros(2))).nested.a.shape == (2,)


def test_params_rejects_an_entry_without_a_batch_dim() -> None:
    with pytest.raises(InputValueError) as error:
        Params(2, angle=torch.tensor(1.0))  # 0-d: no leading batch dimension
    _one_line(error)


def test_params_expand_repeats_one_draw_without_copying() -> None:
    single = Params(1, angle=torch.tensor([7.0]), noise=torch.rand(1, 3, 4, 4), child=Params(1, top=torch.tensor([2])))
    expanded = single.expand(5)
    assert expanded.batch_size == 5 and expanded.child.batch_size == 5
    assert expanded.angle.tolist() == [7.0] * 5 and expanded.child.top.tolist() == [2] * 5
    assert expanded.noise.shape == (5, 3, 4, 4) and torch.equal(expanded.noise[4], single.noise[0])
    assert expanded.noise.data_ptr() == single.noise.data_ptr() and expanded.noise.stride(0) == 0
    with pytest.raises(InputValueError) as error:
        Params(2, angle=torch.zeros(2)).expand(4)
    _one_line(error)


def test_params_to_moves_every_entry_and_keeps_dtypes() -> None:
    params = Params(2, angle=torch.zeros(2), top=torch.zeros(2, dtype=torch.int64), child=Params(2, flag=torch.ones(2, dtype=torch.bool)))
    moved = params.to("cpu")
    assert isinstance(moved, Params) and moved.batch_size == 2 and isinstance(moved.child, Params)
    assert moved.angle.dtype == torch.float32 and moved.top.dtype == torch.int64 and moved.child.flag.dtype == torch.bool
    assert moved.angle.device.type == "cpu" and moved.child.flag.device.type == "cpu"
    meta = params.to("meta")
    assert meta.angle.device.type == "meta" and meta.child.flag.device.type == "meta"


# -- seeding and generators ----------------------------------------------------------------------


def test_augbench_seed_makes_default_generator_draws_reproducible(rgb_batch: torch.Tensor) -> None:
    transform = RandomAffine(30, translate=(0.1, 0.1))
    assert augbench.seed(5) is default_generator()
    first = transform(rgb_batch)
    first_params = transform.sample(rgb_batch)
    augbench.seed(5)
    assert torch.equal(transform(rgb_batch), first)
    assert torch.equal(transform.sample(rgb_batch).angle, first_params.angle)
    augbench.seed(6)
    assert not torch.equal(transform(rgb_batch), first)


def test_default_generator_equals_an_explicit_generator_with_the_same_seed(rgb_batch: torch.Tensor) -> None:
    transform = RandomErasing(p=0.8, value="random")
    augbench.seed(17)
    assert torch.equal(transform(rgb_batch), transform(rgb_batch, generator=torch.Generator().manual_seed(17)))


def test_seed_does_not_touch_torch_global_rng(rgb_batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    augbench.seed(3)
    RandomAffine(10)(rgb_batch)
    assert torch.equal(torch.random.get_rng_state(), state)
    # and torch's global seed does not drive the default generator
    augbench.seed(3)
    torch.manual_seed(1)
    first = RandomAffine(10).sample(rgb_batch).angle
    augbench.seed(3)
    torch.manual_seed(2)
    assert torch.equal(RandomAffine(10).sample(rgb_batch).angle, first)


def test_resolve_generator() -> None:
    generator = torch.Generator()
    assert resolve_generator(generator) is generator
    assert resolve_generator(None) is default_generator()
    with pytest.raises(TypeError) as error:
        resolve_generator(0)  # type: ignore[arg-type]
    assert "torch.Generator" in _one_line(error)


# -- draws -------------------------------------------------------------------------------------


def test_uniform_and_log_uniform_ranges_and_shapes() -> None:
    generator = torch.Generator().manual_seed(0)
    values = uniform(-2.0, 3.0, 5000, generator)
    assert values.shape == (5000,) and values.dtype == torch.float32
    assert float(values.min()) >= -2.0 and float(values.max()) < 3.0
    assert float(values.mean()) == pytest.approx(0.5, abs=0.1)
    logs = log_uniform(0.25, 4.0, 5000, generator)
    assert float(logs.min()) >= 0.25 - 1e-6 and float(logs.max()) <= 4.0 + 1e-6
    assert float(torch.log(logs).mean()) == pytest.approx(0.0, abs=0.05)  # symmetric in log space
    assert float((logs < 1).float().mean()) == pytest.approx(0.5, abs=0.03)


def test_bernoulli_rate_and_edges() -> None:
    generator = torch.Generator().manual_seed(1)
    draws = bernoulli(0.3, 8000, generator)
    assert draws.dtype == torch.bool and draws.shape == (8000,)
    assert float(draws.float().mean()) == pytest.approx(0.3, abs=0.025)
    assert not bool(bernoulli(0.0, 1000, generator).any()) and bool(bernoulli(1.0, 1000, generator).all())


def test_randint_draws_per_sample_bounds() -> None:
    generator = torch.Generator().manual_seed(2)
    high = torch.tensor([1, 2, 5, 100]).repeat(2000)
    values = randint(high, generator)
    assert values.dtype == torch.int64 and values.shape == high.shape
    assert bool(((values >= 0) & (values < high)).all())
    for bound in (2, 5, 100):
        assert len(values[high == bound].unique()) == bound  # every value in [0, bound) occurs
    assert bool((values[high == 1] == 0).all())


def test_same_generator_seed_gives_identical_draws() -> None:
    first = uniform(0, 1, 10, torch.Generator().manual_seed(9))
    assert torch.equal(first, uniform(0, 1, 10, torch.Generator().manual_seed(9)))
    assert not torch.equal(first, uniform(0, 1, 10, torch.Generator().manual_seed(10)))


def test_keyed_cpu_path_gives_the_bits_of_the_exact_tensor_path() -> None:
    """The CPU draws (wrapping uint32 numpy) equal the exact int64 tensor arithmetic used on GPUs."""
    import numpy as np

    from augbench.keyed import _mix, _mix_int, _mix_np

    values = torch.randint(0, 2**32, (4096,), dtype=torch.int64, generator=torch.Generator().manual_seed(0))
    values[:4] = torch.tensor([0, 1, 2**32 - 1, 2**31])
    exact = _mix(values)
    assert torch.equal(torch.from_numpy(_mix_np(values.numpy().astype(np.uint32)).astype(np.int64)), exact)
    assert [_mix_int(int(v)) for v in values[:64]] == exact[:64].tolist()
