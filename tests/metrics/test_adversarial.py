"""FGSM and PGD on an MLP trained on the digits: clean at eps 0, monotone in eps, inside the ball."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from augbench.errors import InputTypeError, InputValueError
from augbench.metrics import adversarial_accuracy, fgsm, pgd

EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3)

Split = tuple[Tensor, Tensor, Tensor, Tensor]


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def test_set(digits_split: Split) -> tuple[Tensor, Tensor]:
    """300 held-out digits as uint8 images and labels."""
    _, _, images, labels = digits_split
    return images[:300], labels[:300]


def clean_accuracy(model: nn.Module, normalize: Callable, images: Tensor, labels: Tensor) -> float:
    with torch.no_grad():
        return int((model(normalize(images.float() / 255)).argmax(1) == labels).sum()) / len(labels)


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_epsilon_zero_is_clean_accuracy(
    attack: str, test_set: tuple[Tensor, Tensor], digits_mlp: nn.Module, digits_normalize: Callable
) -> None:
    images, labels = test_set
    clean = clean_accuracy(digits_mlp, digits_normalize, images, labels)
    assert clean > 0.95
    result = adversarial_accuracy(digits_mlp, images, labels, 0.0, digits_normalize, attack, generator=seeded())
    assert result == clean


def test_accuracy_falls_with_epsilon_and_pgd_beats_fgsm(
    test_set: tuple[Tensor, Tensor], digits_mlp: nn.Module, digits_normalize: Callable
) -> None:
    images, labels = test_set
    fgsm_curve = [adversarial_accuracy(digits_mlp, images, labels, e, digits_normalize, "fgsm") for e in EPSILONS]
    pgd_curve = [
        adversarial_accuracy(digits_mlp, images, labels, e, digits_normalize, "pgd", generator=seeded())
        for e in EPSILONS
    ]
    for curve in (fgsm_curve, pgd_curve):
        assert all(later <= earlier for earlier, later in zip(curve, curve[1:])), curve
    assert all(p <= f for p, f in zip(pgd_curve, fgsm_curve)), (pgd_curve, fgsm_curve)
    assert pgd_curve[EPSILONS.index(0.2)] < 0.1  # a standard model collapses under PGD
    assert pgd_curve[EPSILONS.index(0.1)] < fgsm_curve[EPSILONS.index(0.1)]


@pytest.mark.parametrize("epsilon", [0.03, 0.3])
def test_perturbation_stays_in_the_ball_and_the_pixel_range(
    epsilon: float, test_set: tuple[Tensor, Tensor], digits_mlp: nn.Module, digits_normalize: Callable
) -> None:
    images = test_set[0][:64].float() / 255
    labels = test_set[1][:64]
    for adversarial in (
        fgsm(digits_mlp, images, labels, epsilon, digits_normalize),
        pgd(digits_mlp, images, labels, epsilon, digits_normalize, generator=seeded()),
        pgd(digits_mlp, images, labels, epsilon, digits_normalize, steps=3, alpha=1.0, generator=seeded()),
    ):
        assert adversarial.shape == images.shape and not adversarial.requires_grad
        assert (adversarial - images).abs().max().item() <= epsilon + 1e-6
        assert adversarial.min().item() >= 0.0 and adversarial.max().item() <= 1.0
    # FGSM moves every pixel that is not clipped by exactly epsilon
    moved = (fgsm(digits_mlp, images, labels, epsilon, digits_normalize) - images).abs()
    inside = (images > epsilon) & (images < 1 - epsilon)
    assert torch.allclose(moved[inside], torch.full_like(moved[inside], epsilon), atol=1e-6)


def test_random_start_follows_the_generator(
    test_set: tuple[Tensor, Tensor], digits_mlp: nn.Module, digits_normalize: Callable
) -> None:
    images, labels = test_set[0][:32].float() / 255, test_set[1][:32]
    first = pgd(digits_mlp, images, labels, 0.1, digits_normalize, steps=1, generator=seeded(1))
    assert torch.equal(first, pgd(digits_mlp, images, labels, 0.1, digits_normalize, steps=1, generator=seeded(1)))
    assert not torch.equal(first, pgd(digits_mlp, images, labels, 0.1, digits_normalize, steps=1, generator=seeded(2)))
    fixed = pgd(digits_mlp, images, labels, 0.1, digits_normalize, steps=1, random_start=False)
    assert torch.equal(fixed, pgd(digits_mlp, images, labels, 0.1, digits_normalize, steps=1, random_start=False))


class ModeRecorder(nn.Module):
    """A linear model with dropout that records ``self.training`` at every forward call."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.linear = nn.Linear(4, 3)
        self.modes: list[bool] = []

    def forward(self, inputs: Tensor) -> Tensor:
        self.modes.append(self.training)
        return self.linear(self.dropout(inputs.flatten(1)))


def test_attacks_run_in_eval_mode_and_leave_the_model_alone() -> None:
    model = ModeRecorder().train()
    model.linear.eval()  # a submodule in its own mode must get it back
    images = torch.rand(6, 1, 2, 2, generator=seeded())
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    adversarial_accuracy(model, images, labels, 0.1, lambda x: x, "pgd", steps=2, batch_size=4, generator=seeded())
    fgsm(model, images, labels, 0.1, lambda x: x)
    assert model.modes and not any(model.modes)
    assert model.training and model.dropout.training and not model.linear.training
    assert all(parameter.grad is None for parameter in model.parameters())


def test_uint8_and_float_inputs_agree(
    test_set: tuple[Tensor, Tensor], digits_mlp: nn.Module, digits_normalize: Callable
) -> None:
    images, labels = test_set
    as_uint8 = adversarial_accuracy(digits_mlp, images, labels, 0.1, digits_normalize, "fgsm", batch_size=128)
    as_float = adversarial_accuracy(digits_mlp, images.float() / 255, labels, 0.1, digits_normalize, "fgsm")
    assert as_uint8 == as_float


def test_bad_arguments_raise(digits_mlp: nn.Module, digits_normalize: Callable) -> None:
    images, labels = torch.rand(2, 1, 8, 8), torch.tensor([0, 1])
    with pytest.raises(InputValueError, match="epsilon"):
        fgsm(digits_mlp, images, labels, 8.0, digits_normalize)
    with pytest.raises(InputTypeError, match="floating"):
        pgd(digits_mlp, (images * 255).to(torch.uint8), labels, 0.1, digits_normalize)
    with pytest.raises(InputValueError, match="steps"):
        pgd(digits_mlp, images, labels, 0.1, digits_normalize, steps=0)
    with pytest.raises(InputValueError, match="labels"):
        fgsm(digits_mlp, images, labels[:1], 0.1, digits_normalize)
    with pytest.raises(InputValueError, match="unknown attack"):
        adversarial_accuracy(digits_mlp, images, labels, 0.1, digits_normalize, "cw")
    with pytest.raises(InputValueError, match="labels"):
        adversarial_accuracy(digits_mlp, images, labels[:1], 0.1, digits_normalize)
