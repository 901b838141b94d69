"""The Series* transforms: level-0 identity, per-op invariants, unequal lengths, bad options.

The generic contract (shape/dtype, replay, keyed draws, same_on_batch, p=0, serialisation,
empty batch, NaN and layout errors) runs over every transform in tests/modalities/test_contract.py.
"""

from __future__ import annotations

import pytest
import torch

import augbench.functional.timeseries as F
import augbench.transforms.timeseries as T
from augbench.errors import AugbenchError, InputValueError
from augbench.serialization import from_dict
from augbench.transforms.base import TRANSFORMS

NAMES = list(T.__all__)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _series(batch: int = 16, channels: int = 3, length: int = 60, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, channels, length, generator=_gen(seed))


def _padded(lengths: tuple[int, ...] = (60, 41, 23, 7), channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded series of the given lengths, as augbench's UCR/UEA loader stores them."""
    x = _series(len(lengths), channels, max(lengths), seed=5) + 3.0  # no exact zeros in the signal
    for b, n in enumerate(lengths):
        x[b, :, n:] = 0.0
    return x, torch.tensor(lengths)


def test_every_op_has_a_transform_in_the_registry():
    assert {name for name in TRANSFORMS.names() if name.startswith("Series")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_padding_stays_and_the_valid_part_is_the_op_on_the_unpadded_series(name):
    """A padded sample gets exactly what the same draw gives the series cut to its length."""
    transform = TRANSFORMS.get(name)(p=1.0) if name == "SeriesSignFlip" else TRANSFORMS.get(name)()
    x, lengths = _padded()
    params = transform.sample(x, generator=_gen())
    out = transform.apply(x, params)
    for b, n in enumerate(lengths.tolist()):
        assert bool((out[b, :, n:] == 0).all()), f"{name} wrote into the padding of sample {b}"
        if name in ("SeriesJitter", "SeriesFrequencyMask"):  # noise per step of L; FFT over the padded L
            continue
        alone = transform.apply(x[b : b + 1, :, :n], params.select(torch.tensor([b])))
        torch.testing.assert_close(out[b : b + 1, :, :n], alone, atol=1e-5, rtol=1e-5)


def test_frequency_mask_never_reads_the_padding():
    """The FFT runs over the whole window with the padding zeroed, whatever the padding constant."""
    x, lengths = _padded()
    other = torch.where(x == 0, torch.tensor(-7.0), x)
    mask = T.SeriesFrequencyMask(size=0.3)
    params = mask.sample(x, generator=_gen())
    out = mask.apply(x, params)
    out_other = T.SeriesFrequencyMask(size=0.3, pad_value=-7.0).apply(other, params)
    valid = torch.arange(60) < lengths[:, None, None]
    torch.testing.assert_close(out[valid.expand_as(out)], out_other[valid.expand_as(out)])
    assert bool((out_other[~valid.expand_as(out)] == -7.0).all())


@pytest.mark.parametrize("name", ["SeriesTimeWarp", "SeriesWindowSlice", "SeriesPermutation", "SeriesJitter"])
def test_pad_value_none_treats_every_step_as_signal(name):
    x, _ = _padded((60, 20))
    params = TRANSFORMS.get(name)().sample(x, generator=_gen())
    respected = TRANSFORMS.get(name)().apply(x, params)
    ignored = TRANSFORMS.get(name)(pad_value=None).apply(x, params)
    assert not torch.allclose(respected[1, :, :20], ignored[1, :, :20])


def test_all_padding_row_is_refused_in_one_line():
    x, _ = _padded((30, 12))
    x[1] = 0.0
    with pytest.raises(InputValueError, match=r"sample 1 is all padding .*pad_value=None"):
        T.SeriesTimeWarp()(x, generator=_gen())


def test_an_empty_sequence_is_refused_in_one_line():
    with pytest.raises(AugbenchError, match="timeseries samples are empty"):
        T.SeriesJitter()(torch.zeros(4, 2, 0), generator=_gen())


def test_jitter_noise_is_relative_to_each_channel():
    x = _series(8, 2, 2000)
    x[:, 1] *= 50.0
    added = T.SeriesJitter(sigma=0.05)(x, generator=_gen()) - x
    torch.testing.assert_close(added.std(-1) / x.std(-1), torch.full((8, 2), 0.05), atol=0.005, rtol=0)


def test_scaling_factors_are_positive_per_channel_and_constant_over_time():
    x = _series() + 10.0
    ratio = T.SeriesScaling(sigma=0.5)(x, generator=_gen()) / x
    torch.testing.assert_close(ratio, ratio[..., :1].expand_as(ratio))
    assert bool((ratio > 0).all()) and ratio[..., 0].std() > 0.1


def test_magnitude_warp_ratio_is_the_smooth_curve_through_the_drawn_knots():
    x = _series() + 10.0
    warp = T.SeriesMagnitudeWarp(sigma=0.3)
    params = warp.sample(x, generator=_gen())
    ratio = warp.apply(x, params) / x
    assert bool((ratio > 0).all()) and float(ratio.std()) > 0.05
    torch.testing.assert_close(ratio, F.smooth_curve(params.knots, None, 60))


def test_time_warp_keeps_a_ramp_increasing_and_its_ends_fixed():
    ramp = torch.arange(80.0).expand(16, 1, 80).clone() + 1.0
    out = T.SeriesTimeWarp(sigma=0.5)(ramp, generator=_gen())
    assert bool((out[..., 1:] >= out[..., :-1]).all())
    torch.testing.assert_close(out[..., [0, -1]], ramp[..., [0, -1]])
    assert float((out - ramp).abs().max()) > 1.0


def test_window_slice_output_of_a_ramp_is_a_straight_line_with_the_kept_slope():
    ramp = torch.arange(50.0).expand(16, 1, 50).clone() + 1.0
    out = T.SeriesWindowSlice(size=(0.5, 0.9))(ramp, generator=_gen())
    slope = out[..., 1:] - out[..., :-1]
    torch.testing.assert_close(slope, slope[..., :1].expand_as(slope), atol=1e-4, rtol=0)
    assert bool((slope[..., 0] >= 0.5 - 1e-5).all() and (slope[..., 0] <= 0.9 + 1e-5).all())
    assert bool((out[..., 0] >= 1.0).all() and (out[..., -1] <= 50.0).all())


def test_window_warp_keeps_a_ramp_increasing_with_its_ends_fixed():
    ramp = torch.arange(100.0).expand(16, 1, 100).clone() + 1.0
    out = T.SeriesWindowWarp(size=0.2, scale=(0.5, 2.0))(ramp, generator=_gen())
    assert bool((out[..., 1:] > out[..., :-1]).all())
    torch.testing.assert_close(out[..., [0, -1]], ramp[..., [0, -1]])


def test_permutation_keeps_each_channels_values():
    x = _series()
    out = T.SeriesPermutation(segments=(2, 6))(x, generator=_gen())
    assert torch.equal(out.sort(-1).values, x.sort(-1).values)
    assert not torch.equal(out, x)


def test_sign_flip_negates_whole_samples():
    x = _series()
    out = T.SeriesSignFlip(p=0.5)(x, generator=_gen())
    flipped = (out == -x).all(-1).all(-1)
    assert bool((flipped | (out == x).all(-1).all(-1)).all()) and 0 < int(flipped.sum()) < 16


def test_time_mask_sets_one_span_to_the_channel_mean():
    x = _series(16, 2, 50)
    out = T.SeriesTimeMask(size=0.2)(x, generator=_gen())
    changed = (out != x).any(1)
    assert changed.sum(-1).tolist() == [10] * 16
    starts = changed.to(torch.uint8).argmax(-1)
    for b, start in enumerate(starts.tolist()):
        assert bool(changed[b, start : start + 10].all())
        torch.testing.assert_close(out[b, :, start], x[b].mean(-1))


def test_frequency_mask_keeps_the_mean_and_lowers_the_energy():
    x = _series(16, 2, 128) + 2.0
    out = T.SeriesFrequencyMask(size=0.3)(x, generator=_gen())
    torch.testing.assert_close(out.mean(-1), x.mean(-1), atol=1e-5, rtol=0)
    assert bool((out.var(-1) < x.var(-1)).all())


def test_drift_starts_at_zero_and_stays_within_max_drift():
    x = _series(16, 2, 100)
    added = T.SeriesDrift(max_drift=0.4)(x, generator=_gen()) - x
    torch.testing.assert_close(added[..., 0], torch.zeros(16, 2), atol=1e-5, rtol=0)
    peak = added.abs().amax(-1) / x.std(-1, correction=0)
    assert bool((peak <= 0.4 + 1e-4).all()) and float(peak.max()) > 0.2


@pytest.mark.parametrize("name", NAMES)
def test_samples_get_their_own_draws(name):
    x = _series(1).expand(8, 3, 60).clone()
    transform = TRANSFORMS.get(name)()
    out = transform(x, generator=_gen(1))
    assert len({tuple(row.flatten().tolist()) for row in out}) > 1


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_keeps_every_argument(name):
    transform = TRANSFORMS.get(name)(pad_value=None)
    again = from_dict(transform.to_dict())
    assert again.config() == transform.config() and repr(again) == repr(transform)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: T.SeriesJitter(sigma=-0.1), "sigma=-0.1 must be"),
        (lambda: T.SeriesScaling(sigma=float("nan")), "sigma=nan"),
        (lambda: T.SeriesMagnitudeWarp(knots=-1), "knots=-1 must be a whole number"),
        (lambda: T.SeriesTimeWarp(knots=2.5), "knots=2.5"),
        (lambda: T.SeriesWindowSlice(size=0.0), r"size=0.0 must be a finite number in \(0, 1\]"),
        (lambda: T.SeriesWindowSlice(size=(0.9, 0.5)), r"min > max; pass \(0.5, 0.9\)"),
        (lambda: T.SeriesWindowWarp(scale=2.0), r"scale=2.0 must be \(min, max\)"),
        (lambda: T.SeriesWindowWarp(scale=(0.0, 2.0)), "scale"),
        (lambda: T.SeriesPermutation(segments=0), "segments=0 must be a whole number >= 1"),
        (lambda: T.SeriesPermutation(segments=(5, 2)), r"pass \(2, 5\)"),
        (lambda: T.SeriesTimeMask(fill="noise"), "'mean' or 'zero'"),
        (lambda: T.SeriesFrequencyMask(size=1.5), "size=1.5"),
        (lambda: T.SeriesDrift(max_drift="big"), "max_drift='big'"),
        (lambda: T.SeriesDrift(pad_value=float("nan")), "pad_value=nan"),
        (lambda: T.SeriesSignFlip(p=2.0), "p=2.0"),
    ],
)
def test_bad_options_fail_in_one_line(build, message):
    with pytest.raises(InputValueError, match=message):
        build()


def test_images_and_unbatched_series_are_refused_with_the_layout():
    with pytest.raises(AugbenchError, match=r"\(B, C, L\)"):
        T.SeriesTimeWarp()(torch.zeros(2, 3, 8, 8), generator=_gen())
    with pytest.raises(AugbenchError, match="floating point"):
        T.SeriesTimeWarp()(torch.zeros(2, 3, 8, dtype=torch.int64), generator=_gen())


def test_float64_stays_float64():
    x = _series().double()
    for name in NAMES:
        assert TRANSFORMS.get(name)()(x, generator=_gen()).dtype == torch.float64
