"""The fixed scattering transform and the ScatNet encoder (card: shared/methods/contrastive.md, ScatSimCLR).

Checks: channel count ``C (1 + LJ + L^2 J (J-1) / 2)`` at ``1 / 2**J`` resolution, coefficient
order, translation covariance (exact for a shift of ``2**J``) and near-invariance (growing with
``J``), no trainable parameter and no checkpointed state in the front-end, the input size fixed at
construction, and the adapter/raw-feature variants of the registered ``scatnet`` model.
(kymatio 0.3's ``Scattering2D`` was used once, outside the test suite, to cross-check shapes and
values: relative difference <= 4e-4 for (J, L, size) = (2, 8, 28), (2, 16, 28), (1, 8, 8), (3, 4, 32).)
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.models import MODELS, ScatNet, Scattering2D, build_model
from augbench.models.scattering import morlet_filter_bank, scattering_channels

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def torch_one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def shapes_image(side: int = 32) -> Tensor:
    """Three binary shapes (square, bar, ring) in the middle of a zero background, ``(3, 1, side, side)``."""
    images = torch.zeros(3, 1, side, side)
    middle = side // 2
    images[0, :, middle - 5:middle + 5, middle - 5:middle + 5] = 1
    images[1, :, middle - 8:middle + 8, middle - 2:middle + 1] = 1
    images[2, :, middle - 6:middle + 6, middle - 6:middle + 6] = 1
    images[2, :, middle - 3:middle + 3, middle - 3:middle + 3] = 0
    return images


def relative_change(before: Tensor, after: Tensor) -> Tensor:
    return (before - after).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1)


@pytest.mark.parametrize(("channels", "J", "L", "side"), [(1, 2, 8, 28), (3, 2, 4, 16), (1, 1, 8, 8), (2, 3, 2, 32)])
def test_channels_and_resolution(channels: int, J: int, L: int, side: int) -> None:
    scattering = Scattering2D((side, side), J=J, L=L)
    out = scattering(torch.rand(2, channels, side, side, generator=torch.Generator().manual_seed(0)))
    expected = channels * (1 + L * J + L * L * J * (J - 1) // 2)
    assert out.shape == (2, expected, side // 2**J, side // 2**J) and out.dtype == torch.float32
    assert scattering_channels(channels, J, L) == expected
    assert torch.isfinite(out).all()


def test_card_sizes_and_non_square_images() -> None:
    assert scattering_channels(1, 2, 16) == 289 and scattering_channels(3, 2, 16) == 867  # the card's J=2, L=16
    out = Scattering2D((16, 24), J=2, L=4)(torch.rand(1, 1, 16, 24))
    assert out.shape == (1, 1 + 8 + 16, 4, 6)


def test_constant_image_keeps_order_zero_and_has_no_wavelet_energy() -> None:
    """phi has unit gain and every Morlet wavelet has zero mean, so a constant image scatters to (c, 0, 0, ...)."""
    out = Scattering2D((16, 16), J=2, L=4)(torch.full((1, 2, 16, 16), 0.7))
    per_channel = out.reshape(1, 2, -1, 4, 4)
    torch.testing.assert_close(per_channel[:, :, 0], torch.full((1, 2, 4, 4), 0.7))
    assert per_channel[:, :, 1:].abs().max() < 1e-5
    psi, phi = morlet_filter_bank(20, 20, 2, 4)
    assert psi.shape == (2, 4, 20, 20) and psi[:, :, 0, 0].abs().max() < 1e-10 and abs(float(phi[0, 0]) - 1) < 1e-10


def test_coefficient_order_is_zeroth_first_second_per_channel() -> None:
    """Channel c*K + k is coefficient k of input channel c; order 1 is the modulus of one wavelet
    (so a second channel that is a scaled copy scales order 1 linearly and order 2 too)."""
    scattering = Scattering2D((16, 16), J=2, L=2)
    images = shapes_image(16)[:1]
    out = scattering(torch.cat([images, 3 * images], 1))
    assert out.shape[1] == 2 * 9  # K = 1 + LJ + L^2 J (J - 1) / 2 = 1 + 4 + 4 per input channel
    first, second = out[:, :9], out[:, 9:]
    torch.testing.assert_close(second, 3 * first, rtol=1e-4, atol=1e-5)  # scattering is positively homogeneous
    alone = scattering(images)
    torch.testing.assert_close(first, alone)  # channels are scattered separately


def test_translation_by_the_window_is_exact_covariance() -> None:
    """Shifting by 2**J pixels shifts the output by one sample (objects away from the border)."""
    scattering = Scattering2D((32, 32), J=2, L=8)
    images = shapes_image()
    out = scattering(images)
    shifted = scattering(torch.roll(images, 4, dims=-1))
    assert (torch.roll(out, 1, dims=-1) - shifted).abs().max() < 0.01 * out.abs().max()


def test_small_translations_change_the_coefficients_less_than_the_pixels_and_less_for_larger_J() -> None:
    images = shapes_image()
    shifted = torch.roll(images, 1, dims=-1)
    pixels = relative_change(images, shifted)  # 0.45 - 0.82
    changes = [relative_change(Scattering2D((32, 32), J=J, L=8)(images), Scattering2D((32, 32), J=J, L=8)(shifted))
               for J in (1, 2, 3)]
    assert (changes[1] < 0.6 * pixels).all()
    assert (changes[2] < 0.35 * pixels).all()  # the averaging window 2**J grows: more invariance
    assert (changes[2] < changes[0]).all()


def test_front_end_has_no_parameters_and_no_checkpointed_state() -> None:
    scattering = Scattering2D((28, 28), J=2, L=8)
    assert list(scattering.parameters()) == [] and scattering.state_dict() == {}
    assert len(list(scattering.buffers())) > 0  # the filters, recomputed from (size, J, L)
    model = ScatNet(in_channels=1, num_classes=10, image_size=(28, 28), L=8)
    assert not any(name.startswith("stages.scattering") for name, _ in model.named_parameters())
    assert not any(key.startswith("stages.scattering") for key in model.state_dict())


def test_input_size_is_fixed_at_construction() -> None:
    scattering = Scattering2D((28, 28), J=2, L=4)
    with pytest.raises(InputValueError, match=r"built for \(B, C, 28, 28\)") as info:
        scattering(torch.zeros(1, 1, 32, 32))
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(InputValueError, match="built for"):
        scattering(torch.zeros(1, 28, 28))
    with pytest.raises(InputTypeError, match="float"):
        scattering(torch.zeros(1, 1, 28, 28, dtype=torch.uint8))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"image_size": (28, 28), "J": 3}, r"multiples of 2\*\*J=8"),
    ({"image_size": (8, 8), "J": 3}, "use J=2"),
    ({"image_size": (28, 28), "J": 0}, "J=0"),
    ({"image_size": (28, 28), "L": 2.5}, "L=2.5"),
])
def test_bad_construction_is_a_one_line_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        Scattering2D(**kwargs)
    assert len(str(info.value).splitlines()) == 1


def test_scatnet_is_registered_with_the_card_defaults_and_an_adapter() -> None:
    model = build_model("scatnet", num_classes=10, input_shape=(1, 28, 28))
    assert isinstance(model, ScatNet) and "scatnet" in MODELS.names()
    scattering = model.stages["scattering"]
    assert (scattering.J, scattering.L) == (2, 16)
    assert model.stage_names == ("scattering", "norm", "adapter", "pool")
    assert model.stages["norm"].num_features == 289
    images = torch.rand(4, 1, 28, 28)
    assert model.forward_features(images).shape == (4, 32 * 4 * 4) and model(images).shape == (4, 10)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 50_000 < trainable < 200_000  # the narrow adapter; the front-end adds nothing


def test_raw_scattering_features_have_no_trainable_encoder() -> None:
    model = ScatNet(in_channels=1, num_classes=10, image_size=(8, 8), J=1, L=8, features="scattering")
    assert model.stage_names == ("scattering", "flatten")
    assert [name for name, _ in model.named_parameters()] == ["head.weight", "head.bias"]
    images = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(model.forward_features(images), Scattering2D((8, 8), J=1, L=8)(images).flatten(1))
    assert model.forward_features(images).shape == (3, 9 * 4 * 4)


def test_gradients_reach_the_adapter_and_the_input_but_not_the_filters() -> None:
    model = ScatNet(in_channels=3, num_classes=5, image_size=(16, 16), J=2, L=4, width=8, blocks=1)
    images = torch.rand(4, 3, 16, 16, requires_grad=True)
    model(images).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0  # differentiable (adversarial evaluations)
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(("options", "match"), [
    ({"width": 0}, "width=0"), ({"blocks": -1}, "blocks=-1"), ({"pool": 0}, "pool=0"),
    ({"features": "raw"}, "'adapter' or 'scattering'"),
])
def test_scatnet_bad_options(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ScatNet(in_channels=1, num_classes=10, image_size=(28, 28), L=4, **options)


def test_stage_api_resumes_from_every_mixing_point() -> None:
    torch.manual_seed(0)
    model = ScatNet(in_channels=1, num_classes=10, image_size=(16, 16), J=2, L=4, width=8, blocks=1).eval()
    images = torch.rand(2, 1, 16, 16)
    expected = model(images)
    for point in range(model.num_stages + 1):
        torch.testing.assert_close(model.forward_from(model.forward_features(images, stop_at=point), point), expected)
