"""The RKHS view's kappa estimator, its prediction tests and the n-labels probe (linear_probe_n)."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import augbench.evaluation.representation as representation
from augbench.data import load_dataset
from augbench.data.streams import RunData, Split
from augbench.errors import ConfigError
from augbench.evaluation import EVALUATIONS, EvalContext
from augbench.evaluation.representation import LINEAR_PROBE_N_DRAWS, LINEAR_PROBE_NS, per_class_subset
from augbench.policies.build import build_transform
from augbench.theory.rkhs import (
    KNOBS,
    _cell,
    augmentation_kappa,
    augmented_pixels,
    kernel_diagonal,
    saturation_verdict,
    shift_verdict,
    u_shape_verdict,
)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_dataset("digits").inputs[:48]  # (48, 1, 8, 8) uint8


def _crop(scale: float):
    return build_transform({"type": "RandomResizedCrop", "size": None, "scale": [scale, 1.0]})


# ------------------------------------------------------------------------------------------- kappa


def test_closed_forms_identity_of_distinct_inputs_gives_n_and_identical_inputs_give_one() -> None:
    distinct = torch.eye(6).reshape(6, 1, 2, 3)  # no two inputs overlap at a small bandwidth
    assert augmentation_kappa(None, distinct, views=3, bandwidth=0.01).diagonal == pytest.approx(torch.full((6,), 6.0))
    same = torch.full((5, 1, 4, 4), 0.5)  # p(a|x) = p(a) for every x: K(x, x) = 1
    estimate = augmentation_kappa(_crop(0.3), same, views=4, bandwidth=0.1)
    assert estimate.kappa == pytest.approx(1.0) and estimate.mean == pytest.approx(1.0)


def test_identity_has_the_largest_kappa_and_stronger_crops_lower_it(images) -> None:
    estimates = {s: augmentation_kappa(None if s == 1.0 else _crop(s), images, views=8, bandwidth=0.1)
                 for s in (1.0, 0.9, 0.5, 0.1)}
    kappas = [estimates[s].kappa for s in (1.0, 0.9, 0.5, 0.1)]
    means = [estimates[s].mean for s in (1.0, 0.9, 0.5, 0.1)]
    assert kappas == sorted(kappas, reverse=True) and len(set(kappas)) == 4, kappas
    assert means == sorted(means, reverse=True) and len(set(means)) == 4, means
    assert 1.0 <= kappas[-1] and kappas[0] <= len(images) + 1e-9
    assert all(bool((e.diagonal >= 0).all()) for e in estimates.values())


def test_stronger_pixel_noise_lowers_kappa(images) -> None:
    noise = {sigma: build_transform({"type": "GaussianNoise", "sigma": sigma}) for sigma in (0.05, 0.2, 0.8)}
    kappas = [augmentation_kappa(None, images, views=8, bandwidth=0.1).kappa]
    kappas += [augmentation_kappa(noise[sigma], images, views=8, bandwidth=0.1).kappa for sigma in (0.05, 0.2, 0.8)]
    assert kappas == sorted(kappas, reverse=True) and len(set(kappas)) == 4, kappas


def test_a_sweep_cell_names_its_one_strength_knob() -> None:
    crop = {"type": "simclr", "projection_dim": 128,
            "augment": {"type": "Compose", "transforms": [{"type": "RandomResizedCrop", "scale": [0.3, 1.0]}]}}
    noise = {"type": "simclr", "projection_dim": 64, "augment": {"type": "GaussianNoise", "sigma": [0.2, 0.2]}}
    assert (_cell(crop, "a").knob, _cell(crop, "a").strength, _cell(crop, "a").dim) == ("RandomResizedCrop", 0.3, 128)
    assert (_cell(noise, "b").knob, _cell(noise, "b").strength) == ("GaussianNoise", 0.2)
    assert KNOBS["RandomResizedCrop"].stronger_is_smaller and not KNOBS["GaussianNoise"].stronger_is_smaller
    both = {"type": "simclr", "projection_dim": 8,
            "augment": {"type": "Compose", "transforms": [crop["augment"], noise["augment"]]}}
    with pytest.raises(ConfigError, match="exactly one strength knob"):
        _cell(both, "c")
    with pytest.raises(ConfigError, match="exactly one strength knob"):
        _cell({"type": "simclr", "projection_dim": 8, "augment": {"type": "HorizontalFlip"}}, "d")


def test_kappa_depends_on_the_augmentation_and_keys_only(images) -> None:
    assert not {"model", "encoder", "network"} & set(inspect.signature(augmentation_kappa).parameters)
    crop = _crop(0.3)
    torch.manual_seed(0)
    first = augmentation_kappa(crop, images, views=4, seed=3)
    torch.manual_seed(123)  # the global RNG plays no part: draws are keyed by (seed, input, view)
    torch.nn.Linear(64, 10)  # nor does building or training a network
    again = augmentation_kappa(crop, images, views=4, seed=3)
    assert torch.equal(first.diagonal, again.diagonal)
    assert not torch.equal(first.diagonal, augmentation_kappa(crop, images, views=4, seed=4).diagonal)


def test_views_come_from_one_keyed_call_and_do_not_depend_on_the_other_inputs(images) -> None:
    calls = []
    crop = _crop(0.3)

    def counted(batch, **keyed):
        calls.append(batch.shape[0])
        return crop(batch, **keyed)

    pixels = augmented_pixels(counted, images, views=5, seed=1)
    assert calls == [5 * len(images)] and pixels.shape == (5, len(images), 64) and pixels.dtype == torch.float64
    assert 0.0 <= float(pixels.min()) and float(pixels.max()) <= 1.0
    assert torch.equal(augmented_pixels(crop, images[:7], views=5, seed=1), pixels[:, :7])
    assert not torch.equal(pixels[0], pixels[1])  # the views differ


def test_kernel_diagonal_is_chunk_independent_and_bad_input_raises(images) -> None:
    pixels = augmented_pixels(_crop(0.5), images[:12], views=4)
    assert torch.allclose(kernel_diagonal(pixels, 0.1, chunk=5), kernel_diagonal(pixels, 0.1, chunk=1000))
    with pytest.raises(ConfigError, match="views=1 must be an integer >= 2"):
        augmented_pixels(None, images, views=1)
    with pytest.raises(ConfigError, match="bandwidth=0 must be a number > 0"):
        kernel_diagonal(pixels, 0)
    with pytest.raises(ConfigError, match="keep the size"):
        augmented_pixels(build_transform({"type": "RandomResizedCrop", "size": 4}), images, views=2)


# ------------------------------------------------------------------------- verdicts on synthetic numbers

ORDER = (0.9, 0.6, 0.3, 0.1)  # weakest -> strongest
SEEDS = range(5)


def _levels(means, noise: float = 0.002, levels=ORDER):
    """Errors per level and seed: the given means plus a small seed-dependent wobble."""
    return {level: {seed: mean + noise * ((seed * 7 + index) % 5 - 2) for seed in SEEDS}
            for index, (level, mean) in enumerate(zip(levels, means))}


def test_u_shape_verdicts() -> None:
    u = _levels([0.30, 0.20, 0.25, 0.40])
    assert u_shape_verdict(u, ORDER, val=u).verdict == "supported"
    monotone = _levels([0.20, 0.25, 0.30, 0.40])
    verdict = u_shape_verdict(monotone, ORDER, val=monotone)
    assert verdict.verdict == "contradicted" and "weakest end" in verdict.detail
    wobble = torch.randn(len(ORDER), len(SEEDS), generator=torch.Generator().manual_seed(0)) * 0.1
    noisy = {level: {seed: value + float(wobble[index, seed]) for seed, value in errors.items()}
             for index, (level, errors) in enumerate(_levels([0.30, 0.29, 0.30, 0.31]).items())}
    assert u_shape_verdict(noisy, ORDER, val=_levels([0.30, 0.20, 0.30, 0.40])).verdict == "inconclusive"
    # the best level is chosen on val: a val optimum that test contradicts is reported as such
    assert u_shape_verdict(monotone, ORDER, val=u).verdict == "contradicted"
    assert "on test (no val split)" in u_shape_verdict(u, ORDER).detail
    assert "best sigma=" in u_shape_verdict(u, ORDER, val=u, symbol="sigma").detail


def test_shift_verdicts() -> None:
    theory = {1: _levels([0.50, 0.40, 0.30, 0.35]), 64: _levels([0.10, 0.08, 0.12, 0.20])}
    assert shift_verdict(theory, ORDER, val_by_n=theory).verdict == "supported"
    opposite = {1: theory[64], 64: theory[1]}
    assert shift_verdict(opposite, ORDER, val_by_n=opposite).verdict == "contradicted"
    same = {1: _levels([0.50, 0.40, 0.45, 0.50]), 64: _levels([0.20, 0.10, 0.15, 0.20])}
    assert shift_verdict(same, ORDER, val_by_n=same).verdict == "not observed"


def test_saturation_verdicts() -> None:
    dims = (8, 16, 32, 64, 128)
    saturating = _levels([0.40, 0.25, 0.20, 0.19, 0.19], levels=dims)
    assert saturation_verdict(saturating, dims).verdict == "supported"
    flat = {d: {seed: 0.2 + (0.01 if seed % 2 else -0.01) for seed in SEEDS} for d in dims}
    assert saturation_verdict(flat, dims).verdict == "consistent"
    accelerating = _levels([0.40, 0.39, 0.37, 0.30, 0.15], levels=dims)
    assert saturation_verdict(accelerating, dims).verdict == "contradicted"
    with pytest.raises(ConfigError, match="no errors at \\[128\\]"):
        saturation_verdict({d: saturating[d] for d in dims[:-1]}, dims)


# ----------------------------------------------------------------------------------- linear_probe_n


def test_per_class_subset_takes_exactly_n_of_every_class_without_repeats() -> None:
    labels = torch.arange(10).repeat_interleave(torch.arange(5, 15))  # class c has 5 + c samples
    first = per_class_subset(labels, 5, torch.Generator().manual_seed(0))
    assert torch.equal(torch.bincount(labels[first], minlength=10), torch.full((10,), 5))
    assert first.unique().numel() == first.numel()
    assert not torch.equal(first, per_class_subset(labels, 5, torch.Generator().manual_seed(1)))
    with pytest.raises(ConfigError, match="class 0 has 5 labeled samples, fewer than n=6"):
        per_class_subset(labels, 6, torch.Generator().manual_seed(0))


class _Flat(nn.Module):
    def forward_features(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.flatten(1).float()


def _split(count: int, classes: int, offset: float, generator: torch.Generator) -> Split:
    labels = torch.arange(classes).repeat(count // classes)
    inputs = torch.randn(labels.numel(), 1, 2, 2, generator=generator) * 0.3 + labels[:, None, None, None] + offset
    return Split(inputs, labels, torch.arange(labels.numel()), labels.numel())


def _context(per_class: int, val: bool = True) -> EvalContext:
    generator = torch.Generator().manual_seed(0)
    evals = {"test": _split(60, 3, 100.0, generator)}  # test inputs are far from every train input
    if val:
        evals["val"] = _split(30, 3, 200.0, generator)
    data = RunData({"labeled": _split(3 * per_class, 3, 0.0, generator)}, evals, 3, (1, 2, 2), "image")
    return EvalContext(None, _Flat(), {}, data, lambda batch: batch, torch.device("cpu"), seed=4)


def test_linear_probe_n_fits_on_exactly_n_labeled_samples_per_class(monkeypatch) -> None:
    fits = []
    real = representation.linear_probe_accuracy

    def recording(train_features, train_labels, test_features, test_labels, **options):
        fits.append((train_features, train_labels, test_features))
        return real(train_features, train_labels, test_features, test_labels, **options)

    monkeypatch.setattr(representation, "linear_probe_accuracy", recording)
    metrics, artifacts = EVALUATIONS.get("linear_probe_n")(_context(per_class=70))
    assert set(metrics) == {f"{split}_linear_probe_accuracy_n{n}" for n in LINEAR_PROBE_NS for split in ("test", "val")}
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert artifacts["linear_probe_n"] == {"n": list(LINEAR_PROBE_NS), "skipped": [], "min_class_count": 70}
    assert len(fits) == len(LINEAR_PROBE_NS) * LINEAR_PROBE_N_DRAWS * 2
    for index, (train_features, train_labels, test_features) in enumerate(fits):
        n = LINEAR_PROBE_NS[index // (2 * LINEAR_PROBE_N_DRAWS)]
        assert torch.equal(torch.bincount(train_labels, minlength=3), torch.full((3,), n))
        assert float(train_features.max()) < 50  # fitted on labeled-stream features only, never test/val ones
        assert float(test_features.min()) > 50


def test_linear_probe_n_is_seeded_and_skips_an_n_a_class_cannot_fill() -> None:
    first, _ = EVALUATIONS.get("linear_probe_n")(_context(per_class=70, val=False))
    again, _ = EVALUATIONS.get("linear_probe_n")(_context(per_class=70, val=False))
    assert first == again and not any(name.startswith("val_") for name in first)
    metrics, artifacts = EVALUATIONS.get("linear_probe_n")(_context(per_class=10, val=False))
    assert set(metrics) == {"test_linear_probe_accuracy_n1", "test_linear_probe_accuracy_n4"}
    assert artifacts["linear_probe_n"]["skipped"] == [16, 64]
