"""The compiled waveform kernels (augbench/native/audio.c) against their torch code: same bits."""

from __future__ import annotations


import pytest
import torch

import augbench.functional.audio as FA
import augbench.transforms as T
from augbench import native

@pytest.fixture
def compiled(compiled_library):
    return compiled_library("audio")


@pytest.fixture
def without_library(monkeypatch):
    """Run the torch code of the waveform kernels (the compiled library made unavailable)."""

    def disable() -> None:
        monkeypatch.setattr(FA, "library", lambda name: None)

    return disable


def _bits(values: torch.Tensor) -> torch.Tensor:
    """The values' bit patterns (NaN payloads and the sign of zero compared too)."""
    integer = {2: torch.int16, 4: torch.int32, 8: torch.int64}[values.element_size()]
    return values.contiguous().view(integer)


def _same_bits(got: torch.Tensor, expected: torch.Tensor) -> bool:
    return got.dtype == expected.dtype and got.shape == expected.shape and torch.equal(_bits(got), _bits(expected))


def _waveforms(shape: tuple[int, int, int], generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    waveforms = (0.3 * torch.randn(shape, generator=generator)).to(dtype)
    flat = waveforms.view(-1)
    specials = torch.tensor([-0.0, 0.0, float("inf"), -float("inf"), 1e-40, -1e-40], dtype=dtype)[: flat.numel()]
    flat[: len(specials)] = specials  # signed zeros, infinities and subnormals keep their bits
    return waveforms


def _shift_reference(waveforms: torch.Tensor, shift, mode: str, max_shift: int | None) -> torch.Tensor:
    steps, reach = FA._shift_steps(waveforms, shift, mode, max_shift, "time_shift")
    return FA._shift_torch(waveforms, steps, reach, mode)


LENGTHS = [1, 2, 7, 64, 1001, 16000]


@pytest.mark.parametrize("mode", ["zero", "roll"])
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("channels", [1, 2])
def test_the_compiled_shift_gives_the_torch_windows_bits(compiled, mode, length, channels) -> None:
    generator = torch.Generator().manual_seed(length * 10 + channels)
    waveforms = _waveforms((9, channels, length), generator)
    # every kind of step: none, both signs, half the length, the whole length and beyond it
    shift = torch.tensor([0, 1, -1, length // 2, -(length // 2), length, -length, 3 * length + 1, -2 * length - 1])
    for max_shift in (None, length // 3, 2 * length):
        expected = _shift_reference(waveforms, shift, mode, max_shift)
        assert _same_bits(FA.time_shift(waveforms, shift, mode, max_shift), expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_the_compiled_shift_copies_every_floating_dtype(compiled, dtype) -> None:
    generator = torch.Generator().manual_seed(1)
    waveforms = _waveforms((6, 2, 37), generator, dtype)
    shift = torch.randint(-40, 41, (6,), generator=generator)
    for mode in ("zero", "roll"):
        assert _same_bits(FA.time_shift(waveforms, shift, mode), _shift_reference(waveforms, shift, mode, None))


def test_strided_waveforms_give_the_contiguous_result(compiled) -> None:
    generator = torch.Generator().manual_seed(2)
    wide = _waveforms((5, 2, 60), generator)
    window = wide[:, :, 10:50]  # rows 40 samples long, 60 apart
    shift = torch.tensor([3, -7, 0, 40, -12])
    for mode in ("zero", "roll"):
        expected = _shift_reference(window.contiguous(), shift, mode, None)
        assert _same_bits(FA.time_shift(window, shift, mode), expected)
    noise = torch.randn(5, 2, 60, generator=generator)[:, :, 5:45]
    # the powers are torch's reductions over the strided rows, as add_noise takes them
    expected = _shift_reference(FA.add_noise(window, noise, 10.0), shift, "zero", None)
    assert _same_bits(FA.add_noise_and_shift(window, noise, 10.0, shift), expected)


@pytest.mark.parametrize("mode", ["zero", "roll"])
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("channels", [1, 3])
def test_noise_then_shift_gives_the_bits_of_add_noise_then_time_shift(compiled, mode, length, channels) -> None:
    generator = torch.Generator().manual_seed(length + channels)
    batch = 8
    waveforms = _waveforms((batch, channels, length), generator)
    waveforms[1] = 0.0  # silent: no noise at any SNR
    waveforms[2] = -0.0
    noise = torch.randn((batch, channels, length), generator=generator)
    noise[3] = 0.0  # no noise power: clamped, as add_noise clamps it
    snr_db = torch.rand(batch, generator=generator) * 60.0 - 10.0
    shift = torch.randint(-length - 2, length + 3, (batch,), generator=generator)
    shift[0] = 0
    expected = _shift_reference(FA.add_noise(waveforms, noise, snr_db), shift, mode, None)
    assert _same_bits(FA.add_noise_and_shift(waveforms, noise, snr_db, shift, mode), expected)
    reach = max(1, length // 4)
    expected = _shift_reference(FA.add_noise(waveforms, noise, snr_db), shift, mode, reach)
    assert _same_bits(FA.add_noise_and_shift(waveforms, noise, snr_db, shift, mode, max_shift=reach), expected)


def test_the_rounding_of_the_noise_sum_is_the_one_torch_uses(compiled) -> None:
    # The kernel rounds x + n * s once or twice as the probe says torch does; check the probe
    # against torch on random numbers, where the two roundings differ for many elements.
    fused = FA._addcmul_rounds_once()
    assert fused is not None, "torch.addcmul rounds neither always once nor always twice on this CPU"
    generator = torch.Generator().manual_seed(3)
    x, noise = torch.randn(2, 4, 999, generator=generator), torch.randn(2, 4, 999, generator=generator)
    scale = torch.rand(2, 1, 1, generator=generator)
    got = torch.addcmul(x, noise, scale)
    once = (x.double() + noise.double() * scale.double()).float()  # the exact product, one rounding of the sum
    twice = x + noise * scale
    assert torch.equal(got, once if fused else twice)
    assert not torch.equal(once, twice)


@pytest.mark.parametrize("color", ["white", "pink"])
@pytest.mark.parametrize("keyed", [False, True])
def test_the_pipeline_of_the_benchmark_gives_the_torch_bits(compiled, without_library, color, keyed) -> None:
    waveforms = _waveforms((16, 1, 4000), torch.Generator().manual_seed(4))
    pipeline = T.Compose([T.AudioGain(6.0), T.AudioNoise((10.0, 30.0), color=color), T.AudioTimeShift(0.2, mode="zero")])
    if keyed:
        params = pipeline.sample(waveforms, keys=torch.arange(16), seed=7)
    else:
        params = pipeline.sample(waveforms, torch.Generator().manual_seed(5))
    got = pipeline.apply(waveforms, params)
    without_library()
    assert _same_bits(got, pipeline.apply(waveforms, params))


@pytest.mark.parametrize("noise_p, shift_p", [(1.0, 0.5), (0.5, 1.0), (0.5, 0.5)])
def test_skipped_samples_fuse_to_the_same_values(compiled, without_library, noise_p, shift_p) -> None:
    waveforms = _waveforms((12, 2, 300), torch.Generator().manual_seed(6))
    pipeline = T.Compose([T.AudioNoise((0.0, 20.0), p=noise_p), T.AudioTimeShift(0.5, mode="roll", p=shift_p)])
    params = pipeline.sample(waveforms, torch.Generator().manual_seed(7))
    got = pipeline.apply(waveforms, params)
    separate = pipeline.transforms[1].apply(pipeline.transforms[0].apply(waveforms, params["0"]), params["1"])
    assert _same_bits(got, separate)
    without_library()
    assert _same_bits(got, pipeline.apply(waveforms, params))


def test_waveforms_that_need_gradients_take_the_torch_shift(compiled) -> None:
    waveforms = torch.randn(4, 1, 50, generator=torch.Generator().manual_seed(8), requires_grad=True)
    FA.time_shift(waveforms, torch.tensor([1, -2, 0, 5])).sum().backward()
    assert torch.equal(waveforms.grad[:, :, 2:45], torch.ones(4, 1, 43))  # kept by every shift, once


def test_empty_batches_and_other_dtypes_of_noise_then_shift(compiled) -> None:
    empty = torch.zeros(0, 1, 10)
    assert FA.add_noise_and_shift(empty, empty, 10.0, torch.zeros(0, dtype=torch.long)).shape == (0, 1, 10)
    assert FA.time_shift(empty, torch.zeros(0, dtype=torch.long)).shape == (0, 1, 10)
    generator = torch.Generator().manual_seed(9)
    waveforms = torch.randn(3, 1, 20, generator=generator, dtype=torch.float64)
    noise = torch.randn(3, 1, 20, generator=generator, dtype=torch.float64)
    shift = torch.tensor([2, -3, 0])
    got = FA.add_noise_and_shift(waveforms, noise, 5.0, shift, "roll")
    assert got.dtype == torch.float64
    assert _same_bits(got, _shift_reference(FA.add_noise(waveforms, noise, 5.0), shift, "roll", None))


def test_bad_input_is_one_line_in_both_paths(compiled, without_library) -> None:
    waveforms, shift = torch.zeros(2, 1, 8), torch.tensor([1, 2])
    for run in ("compiled", "torch"):
        if run == "torch":
            without_library()
        with pytest.raises(ValueError, match=r"add_noise_and_shift: noise has shape \(2, 1, 7\)"):
            FA.add_noise_and_shift(waveforms, torch.zeros(2, 1, 7), 10.0, shift)
        with pytest.raises(ValueError, match="add_noise_and_shift: mode='wrap' must be 'zero' or 'roll'"):
            FA.add_noise_and_shift(waveforms, waveforms, 10.0, shift, "wrap")
        with pytest.raises(TypeError, match="add_noise_and_shift: waveforms must be a floating"):
            FA.add_noise_and_shift(waveforms.long(), waveforms, 10.0, shift)


def test_without_the_library_the_torch_code_runs(torch_only) -> None:
    generator = torch.Generator().manual_seed(10)
    waveforms, noise = torch.randn(4, 1, 30, generator=generator), torch.randn(4, 1, 30, generator=generator)
    shift = torch.tensor([4, -4, 0, 29])
    library, noisy, shifted = torch_only(lambda: (
        native.library("audio"), FA.add_noise_and_shift(waveforms, noise, 12.0, shift), FA.time_shift(waveforms, shift),
    ))
    assert library is None
    expected = _shift_reference(FA.add_noise(waveforms, noise, 12.0), shift, "zero", None)
    assert _same_bits(noisy, expected)
    assert _same_bits(shifted, _shift_reference(waveforms, shift, "zero", None))
