"""AugMix: Dirichlet/Beta draws, the convex mix against a per-sample reference, and the JSD loss."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import Tensor

import augbench.functional as F
from augbench.errors import ConfigError
from augbench.policies import AugMix, jsd_loss
from augbench.policies.augmix import AUGMIX_ALL_OPS, AUGMIX_OPS
from augbench.random import Params

DRAWS = 10_000
P_MIN = 1e-3


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _distinct(images: Tensor) -> int:
    return len(torch.unique(images.flatten(1), dim=0))


def _replace(params: Params, **entries: Tensor) -> Params:
    return Params(params.batch_size, **{**dict(params.items()), **entries})


# -- draws -----------------------------------------------------------------------------------------


def test_chain_weights_are_dirichlet():
    weights = AugMix(width=3).sample_for(DRAWS, (3, 32, 32), _seeded(1)).weights
    assert weights.shape == (DRAWS, 3) and (weights >= 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(DRAWS))
    torch.testing.assert_close(weights.mean(0), torch.full((3,), 1 / 3), atol=0.01, rtol=0)
    # Dirichlet(1, 1, 1): each weight is Beta(1, 2), variance (k - 1) / (k^2 (k + 1)) = 1/18.
    for chain in range(3):
        assert stats.kstest(weights[:, chain].numpy(), stats.beta(1, 2).cdf).pvalue > P_MIN
    assert weights[:, 0].var().item() == pytest.approx(1 / 18, rel=0.08)
    assert torch.equal(AugMix(width=1).sample_for(16, (3, 32, 32), _seeded(1)).weights, torch.ones(16, 1))


def test_mix_weight_is_beta():
    mix = AugMix(alpha=1.0).sample_for(DRAWS, (3, 32, 32), _seeded(2)).mix
    assert mix.min() >= 0 and mix.max() <= 1
    assert mix.mean().item() == pytest.approx(0.5, abs=0.01)
    assert stats.kstest(mix.numpy(), stats.uniform(0, 1).cdf).pvalue > P_MIN  # Beta(1, 1)
    concentrated = AugMix(alpha=0.5).sample_for(DRAWS, (3, 32, 32), _seeded(3))
    assert stats.kstest(concentrated.mix.numpy(), stats.beta(0.5, 0.5).cdf).pvalue > P_MIN
    assert stats.kstest(concentrated.weights[:, 0].numpy(), stats.beta(0.5, 1.0).cdf).pvalue > P_MIN


def test_depth_ops_and_levels_are_uniform():
    params = AugMix(severity=3).sample_for(DRAWS, (3, 32, 32), _seeded(4))
    depth = params.depth.flatten()
    assert set(depth.unique().tolist()) == {1, 2, 3}
    assert stats.chisquare(torch.bincount(depth - 1, minlength=3).numpy()).pvalue > P_MIN
    assert stats.chisquare(torch.bincount(params.op.flatten(), minlength=len(AUGMIX_OPS)).numpy()).pvalue > P_MIN
    severity_level = params.level.flatten() * 10  # U(0.1, severity) on the reference's 0-10 scale
    assert stats.kstest(severity_level.numpy(), stats.uniform(0.1, 2.9).cdf).pvalue > P_MIN
    fixed = AugMix(depth=2).sample_for(64, (3, 32, 32), _seeded(5))
    assert (fixed.depth == 2).all()


# -- application -----------------------------------------------------------------------------------


def _reference_step(image: Tensor, name: str, level: float, sign: float) -> Tensor:
    """One op of the AugMix reference (augmentations.py) on a ``(1, C, H, W)`` image.

    ``level`` is the reference's ``level / 10`` (in [0.01, severity / 10]); ops follow
    ``float_parameter(level, max)`` with max: rotate 30 deg, shear 0.3, translate a third of
    the side, enhance factor 0.1 + 1.8 level (never signed), posterize ``4 - int(4 level)``
    bits and solarize threshold ``256 - int(256 level)`` (see below).
    """
    white = 255.0 if image.dtype == torch.uint8 else 1.0
    if name == "Rotate":
        return F.rotate(image, sign * 30.0 * level)
    if name in ("ShearX", "ShearY"):
        return getattr(F, name.replace("Shear", "shear_").lower())(image, sign * 0.3 * level)
    if name in ("TranslateX", "TranslateY"):
        side = image.shape[-1] if name == "TranslateX" else image.shape[-2]
        pixels = sign * round(level * side / 3)  # augbench rounds to whole pixels (the reference truncates)
        return getattr(F, name.replace("Translate", "translate_").lower())(image, pixels)
    if name == "Posterize":
        return F.posterize(image, 4 - math.floor(4 * level))
    if name == "Solarize":
        # ``x >= 256 (1 - level)`` is ``x >= 256 - int(256 level)`` for whole grey levels; float
        # images keep the continuous threshold (an earlier op may leave them off the 1/255 grid).
        return F.solarize(image, 256 * (1 - level) / 255 * white)
    enhance = {"Brightness": F.adjust_brightness, "Color": F.adjust_saturation, "Contrast": F.adjust_contrast, "Sharpness": F.adjust_sharpness}
    if name in enhance:
        return enhance[name](image, 0.1 + 1.8 * level)
    return {"AutoContrast": F.autocontrast, "Equalize": F.equalize}[name](image)


def _reference(images: Tensor, params: Params, ops: tuple[str, ...]) -> Tensor:
    """``(1 - m) x + m sum_i w_i chain_i(x)`` sample by sample, mixed in float64."""
    result = []
    for b in range(images.shape[0]):
        image = images[b : b + 1]
        mixed = torch.zeros(image.shape, dtype=torch.float64)
        for chain in range(params.weights.shape[1]):
            augmented = image
            for step in range(int(params.depth[b, chain])):
                name = ops[params.op[b, chain, step]]
                augmented = _reference_step(augmented, name, float(params.level[b, chain, step]), float(params.sign[b, chain, step]))
            mixed += float(params.weights[b, chain]) * augmented.double()
        mix = float(params.mix[b])
        result.append((1 - mix) * image.double() + mix * mixed)
    return torch.cat(result)


@pytest.mark.parametrize("all_ops", [False, True])
@pytest.mark.parametrize("kind", ["uint8", "float"])
def test_output_is_the_convex_mix_of_reference_chains(cifar_images, kind, all_ops):
    images = cifar_images[:16] if kind == "uint8" else cifar_images[:16].float() / 255
    augment = AugMix(severity=10 if all_ops else 3, all_ops=all_ops)
    params = augment.sample(images, generator=_seeded(6))
    out = augment.apply(images, params)
    expected = _reference(images, params, AUGMIX_ALL_OPS if all_ops else AUGMIX_OPS)
    if kind == "uint8":
        assert out.dtype == torch.uint8
        assert (out.double() - expected).abs().max() <= 0.5 + 1e-3  # rounded, float32 vs float64 mixing
    else:
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=0)


def test_mix_zero_returns_the_input_and_one_hot_weights_return_one_chain(cifar_images):
    images = cifar_images[:8].float() / 255
    augment = AugMix(width=3)
    params = augment.sample(images, generator=_seeded(7))
    unmixed = _replace(params, mix=torch.zeros(8))
    assert torch.equal(augment.apply(images, unmixed), images)
    one_chain = _replace(params, mix=torch.ones(8), weights=torch.eye(3)[torch.arange(8) % 3])
    # A single chain at full mix equals that chain alone (width 1, same ops).
    alone = AugMix(width=1)
    for chain in range(3):
        selected = torch.arange(8) % 3 == chain
        single = Params(
            int(selected.sum()),
            weights=torch.ones(int(selected.sum()), 1),
            mix=torch.ones(int(selected.sum())),
            **{k: params[k][selected][:, chain : chain + 1] for k in ("depth", "op", "level", "sign")},
        )
        torch.testing.assert_close(augment.apply(images, one_chain)[selected], alone.apply(images[selected], single))


def test_output_stays_within_the_range_of_its_chains(cifar_images):
    """A convex mix lies, per pixel, between the smallest and largest of its parts."""
    images = cifar_images.float() / 255
    augment = AugMix(width=2, depth=1)
    params = augment.sample(images, generator=_seeded(8))
    out = augment.apply(images, params)
    parts = [images]
    for chain in range(2):
        single = Params(32, weights=torch.ones(32, 1), mix=torch.ones(32), **{k: params[k][:, chain : chain + 1] for k in ("depth", "op", "level", "sign")})
        parts.append(AugMix(width=1, depth=1).apply(images, single))
    stacked = torch.stack(parts)
    assert (out >= stacked.min(0).values - 1e-6).all() and (out <= stacked.max(0).values + 1e-6).all()


@pytest.mark.parametrize("kind", ["uint8", "float"])
def test_copies_of_one_real_image_get_different_mixes(cifar_copies, kind):
    images = cifar_copies if kind == "uint8" else cifar_copies.float() / 255
    out = AugMix()(images, generator=_seeded(9))
    assert out.dtype == images.dtype and _distinct(out) == 16
    assert _distinct(AugMix(same_on_batch=True)(images, generator=_seeded(9))) == 1


def test_masks_are_refused(cifar_images):
    augment = AugMix()
    params = augment.sample(cifar_images, generator=_seeded())
    with pytest.raises(ConfigError, match="mask"):
        augment.apply(cifar_images[:, :1].long(), params, target="mask")


@pytest.mark.parametrize(
    "kwargs, message",
    [({"severity": 0}, "severity"), ({"severity": 11}, "severity"), ({"width": 0}, "width"), ({"depth": 4}, "depth"),
     ({"depth": 0}, "depth"), ({"depth": 2.5}, "depth"), ({"width": 2.0}, "width"), ({"alpha": 0.0}, "alpha"),
     ({"alpha": math.nan}, "alpha"), ({"alpha": math.inf}, "alpha"), ({"fill": -0.5}, "fill")],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AugMix(**kwargs)


# -- JSD loss --------------------------------------------------------------------------------------


def _logits(seed: int, batch: int = 4, classes: int = 5) -> Tensor:
    return torch.randn(batch, classes, generator=_seeded(seed), dtype=torch.float64)


def test_jsd_is_zero_for_identical_predictions():
    logits = _logits(1)
    assert jsd_loss(logits, logits, logits).item() == pytest.approx(0.0, abs=1e-12)
    # Logits that differ by a constant per row give the same probabilities.
    assert jsd_loss(logits, logits + 3.0, logits - 1.5).item() == pytest.approx(0.0, abs=1e-12)


def test_jsd_is_positive_and_symmetric():
    clean, first, second = _logits(1), _logits(2), _logits(3)
    loss = jsd_loss(clean, first, second)
    assert loss.ndim == 0 and loss.item() > 0
    assert jsd_loss(clean, second, first).item() == pytest.approx(loss.item(), rel=1e-12)
    assert jsd_loss(clean, first, first).item() > 0  # one view differing is enough
    assert jsd_loss(first, clean, second).item() == pytest.approx(loss.item(), rel=1e-12)


def test_jsd_matches_a_hand_computed_value():
    clean = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    first = torch.tensor([[math.log(3.0), 0.0], [1.0, 0.0]], dtype=torch.float64)
    second = torch.tensor([[0.0, math.log(3.0)], [1.0, 0.0]], dtype=torch.float64)
    # Row 1: p_c = (1/2, 1/2), p_1 = (3/4, 1/4), p_2 = (1/4, 3/4), M = (1/2, 1/2):
    # KL(p_c||M) = 0 and KL(p_1||M) = KL(p_2||M) = 3/4 log(3/2) + 1/4 log(1/2). Row 2: all equal, 0.
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    expected = (0 + kl + kl) / 3 / 2  # mean over the three views, then over the batch of 2
    assert jsd_loss(clean, first, second).item() == pytest.approx(expected, rel=1e-12)


def test_jsd_clamps_the_mixture():
    """Confident disagreeing predictions stay finite (M is clamped to 1e-7)."""
    clean = torch.tensor([[200.0, 0.0]], dtype=torch.float64)
    first = torch.tensor([[0.0, 200.0]], dtype=torch.float64)
    loss = jsd_loss(clean, first, first)
    assert math.isfinite(loss.item()) and loss.item() > 0
    expected = (math.log(3.0) + 2 * math.log(1.5)) / 3  # M = (1/3, 2/3)
    assert loss.item() == pytest.approx(expected, rel=1e-9)


def test_jsd_gradient_reaches_every_view():
    views = [_logits(seed).requires_grad_() for seed in (1, 2, 3)]
    jsd_loss(*views).backward()
    assert all(view.grad is not None and view.grad.abs().sum() > 0 for view in views)
