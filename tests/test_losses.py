"""Shared losses: soft/masked CE, knowledge distillation and NT-Xent against their reference formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as nnf

from augbench.errors import InputTypeError, InputValueError
from augbench.losses import kd_kl_divergence, masked_cross_entropy, masked_kl_divergence, nt_xent, soft_cross_entropy


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- soft cross-entropy ---------------------------------------------------------------------


def test_soft_cross_entropy_equals_the_mixed_hard_label_loss() -> None:
    logits = randn(6, 5)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    index = torch.tensor([3, 2, 5, 0, 1, 4])
    lam = 0.3
    onehot = nnf.one_hot(labels, 5).to(torch.float64)
    targets = lam * onehot + (1 - lam) * onehot[index]
    expected = lam * nnf.cross_entropy(logits, labels) + (1 - lam) * nnf.cross_entropy(logits, labels[index])
    torch.testing.assert_close(soft_cross_entropy(logits, targets), expected)


def test_soft_cross_entropy_of_one_hot_targets_is_cross_entropy() -> None:
    logits, labels = randn(4, 3), torch.tensor([2, 0, 1, 1])
    onehot = nnf.one_hot(labels, 3).to(torch.float64)
    torch.testing.assert_close(soft_cross_entropy(logits, onehot), nnf.cross_entropy(logits, labels))


def test_soft_cross_entropy_rejects_mismatched_shapes() -> None:
    with pytest.raises(InputValueError, match="same shape"):
        soft_cross_entropy(randn(4, 3), randn(4, 5))


# --- masked cross-entropy -------------------------------------------------------------------


def test_masked_cross_entropy_divides_by_the_given_normaliser() -> None:
    logits, targets = randn(8, 4), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    mask = torch.tensor([1.0, 0, 1, 0, 0, 0, 1, 0], dtype=torch.float64)
    per_sample = nnf.cross_entropy(logits, targets, reduction="none")
    kept = per_sample[mask.bool()]
    # FixMatch: the whole unlabelled batch (mu * B) is the denominator.
    torch.testing.assert_close(masked_cross_entropy(logits, targets, mask, 8.0), kept.sum() / 8)
    # UDA: the number of kept samples, here passed as a tensor (no host sync).
    torch.testing.assert_close(masked_cross_entropy(logits, targets, mask, mask.sum()), kept.mean())


def test_masked_cross_entropy_of_a_full_mask_is_cross_entropy_and_empty_mask_is_zero() -> None:
    logits, targets = randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    ones = torch.ones(5, dtype=torch.float64)
    torch.testing.assert_close(masked_cross_entropy(logits, targets, ones, 5), nnf.cross_entropy(logits, targets))
    assert masked_cross_entropy(logits, targets, torch.zeros(5, dtype=torch.bool), 5).item() == 0.0


def test_masked_cross_entropy_weights_are_soft() -> None:
    logits, targets = randn(3, 2), torch.tensor([0, 1, 1])
    weights = torch.tensor([0.5, 1.0, 0.25], dtype=torch.float64)
    per_sample = nnf.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(masked_cross_entropy(logits, targets, weights, 2.0), (per_sample * weights).sum() / 2)


@pytest.mark.parametrize(
    ("targets", "mask", "normaliser", "error", "match"),
    [
        (torch.tensor([0, 1, 0], dtype=torch.int32), torch.ones(3), 3.0, InputTypeError, "int64"),
        (torch.tensor([0, 1]), torch.ones(3), 3.0, InputValueError, r"targets must have shape \(3,\)"),
        (torch.tensor([0, 1, 0]), torch.ones(3, dtype=torch.long), 3.0, InputTypeError, "mask must be a float"),
        (torch.tensor([0, 1, 0]), torch.ones(3, 1), 3.0, InputValueError, r"mask must have shape \(3,\)"),
        (torch.tensor([0, 1, 0]), torch.ones(3), 0.0, InputValueError, "normaliser=0.0 must be > 0"),
    ],
)
def test_masked_cross_entropy_rejects_bad_input(targets, mask, normaliser, error, match) -> None:
    with pytest.raises(error, match=match):
        masked_cross_entropy(torch.zeros(3, 2), targets, mask, normaliser)


# --- masked KL divergence -------------------------------------------------------------------


def test_masked_kl_divergence_is_the_kept_samples_kl_over_the_normaliser() -> None:
    logits, targets = randn(6, 4), randn(6, 4).softmax(1)
    mask = torch.tensor([1.0, 0, 1, 1, 0, 0], dtype=torch.float64)
    per_sample = nnf.kl_div(logits.log_softmax(1), targets, reduction="none").sum(1)  # torch's KL(targets || p)
    torch.testing.assert_close(masked_kl_divergence(logits, targets, mask, 6.0), (per_sample * mask).sum() / 6)
    torch.testing.assert_close(masked_kl_divergence(logits, targets, mask.bool(), mask.sum()), per_sample[mask.bool()].mean())


def test_masked_kl_divergence_of_one_hot_targets_is_cross_entropy_and_of_equal_ones_zero() -> None:
    logits, labels = randn(5, 3), torch.tensor([0, 2, 1, 1, 0])
    ones = torch.ones(5, dtype=torch.float64)
    one_hot = nnf.one_hot(labels, 3).double()  # 0 log 0 counts as 0, not NaN
    torch.testing.assert_close(masked_kl_divergence(logits, one_hot, ones, 5), nnf.cross_entropy(logits, labels))
    assert masked_kl_divergence(logits, logits.softmax(1), ones, 5).abs().item() < 1e-12


@pytest.mark.parametrize(
    ("targets", "mask", "normaliser", "error", "match"),
    [
        (torch.ones(3, 3) / 3, torch.ones(3), 3.0, InputValueError, "same shape"),
        (torch.ones(3, 2, dtype=torch.long), torch.ones(3), 3.0, InputTypeError, "targets must be a floating"),
        (torch.ones(3, 2) / 2, torch.ones(2), 3.0, InputValueError, r"mask must have shape \(3,\)"),
        (torch.ones(3, 2) / 2, torch.ones(3), -1.0, InputValueError, "normaliser=-1.0 must be > 0"),
    ],
)
def test_masked_kl_divergence_rejects_bad_input(targets, mask, normaliser, error, match) -> None:
    with pytest.raises(error, match=match):
        masked_kl_divergence(torch.zeros(3, 2), targets, mask, normaliser)


# --- knowledge distillation -----------------------------------------------------------------


def test_kd_is_zero_for_equal_logits_at_any_temperature() -> None:
    logits = randn(4, 6)
    for temperature in (1.0, 4.0, 20.0):
        assert kd_kl_divergence(logits, logits.clone(), temperature).abs().item() < 1e-12


def test_kd_matches_the_hinton_formula() -> None:
    student, teacher, temperature = randn(5, 7, seed=1), randn(5, 7, seed=2), 3.0
    p_teacher = torch.softmax(teacher / temperature, dim=1)
    p_student = torch.softmax(student / temperature, dim=1)
    expected = (p_teacher * (p_teacher.log() - p_student.log())).sum(1).mean() * temperature**2
    torch.testing.assert_close(kd_kl_divergence(student, teacher, temperature), expected)


def _student_grad_norm(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> float:
    student = student.clone().requires_grad_(True)
    kd_kl_divergence(student, teacher, temperature).backward()
    return float(student.grad.norm())


def test_kd_gradient_scale_is_about_independent_of_temperature() -> None:
    student, teacher = randn(64, 10, seed=3), randn(64, 10, seed=4)
    at_1, at_4 = _student_grad_norm(student, teacher, 1.0), _student_grad_norm(student, teacher, 4.0)
    assert 0.5 < at_4 / at_1 < 2.0
    # Without the T**2 factor the gradient would shrink by about T**2 = 16.
    without_factor = at_4 / 4.0**2
    assert 1 / 32 < without_factor / at_1 < 1 / 8


def test_kd_rejects_bad_temperature_and_shapes() -> None:
    with pytest.raises(InputValueError, match="temperature=0.0 must be > 0"):
        kd_kl_divergence(randn(2, 3), randn(2, 3), 0.0)
    with pytest.raises(InputValueError, match="same shape"):
        kd_kl_divergence(randn(2, 3), randn(2, 4), 1.0)


# --- NT-Xent --------------------------------------------------------------------------------


def naive_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. (1) of SimCLR, one anchor and one pair at a time."""
    views = [row / row.norm() for row in torch.cat([z1, z2])]
    n, batch = len(views), len(z1)
    total = torch.zeros((), dtype=z1.dtype)
    for i in range(n):
        similarity = [torch.dot(views[i], views[j]) / temperature for j in range(n)]
        denominator = sum(torch.exp(similarity[j]) for j in range(n) if j != i)
        total = total - torch.log(torch.exp(similarity[(i + batch) % n]) / denominator)
    return total / n


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_nt_xent_matches_the_double_loop_reference(temperature: float) -> None:
    z1, z2 = randn(3, 4, seed=5), randn(3, 4, seed=6)
    torch.testing.assert_close(nt_xent(z1, z2, temperature), naive_nt_xent(z1, z2, temperature))


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_nt_xent_of_same_direction_embeddings_is_log_of_the_candidates(batch: int) -> None:
    # All cosine similarities are 1, so each anchor's 2B - 1 candidates are equally likely.
    z = torch.ones(batch, 3, dtype=torch.float64) * torch.arange(1, batch + 1, dtype=torch.float64)[:, None]
    expected = torch.tensor(math.log(2 * batch - 1), dtype=torch.float64)
    for temperature in (0.1, 0.5, 1.0):
        torch.testing.assert_close(nt_xent(z, 2 * z, temperature), expected)


def test_nt_xent_temperature_sharpens_orthogonal_pairs() -> None:
    # Orthogonal samples, identical views: s_pos = 1/T, negatives 0, so
    # loss = log(1 + (2B - 2) * exp(-1/T)), falling towards 0 as T shrinks.
    batch = 4
    z = torch.eye(batch, dtype=torch.float64)
    losses = []
    for temperature in (2.0, 0.5, 0.1):
        expected = math.log(1 + (2 * batch - 2) * math.exp(-1 / temperature))
        loss = nt_xent(z, z.clone(), temperature)
        torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
        losses.append(loss.item())
    assert losses[0] > losses[1] > losses[2]


def test_nt_xent_is_invariant_to_embedding_scale_and_differentiable() -> None:
    z1, z2 = randn(4, 8, seed=7).requires_grad_(True), randn(4, 8, seed=8)
    loss = nt_xent(z1, z2)
    torch.testing.assert_close(nt_xent(10 * z1, 0.1 * z2), loss)
    loss.backward()
    assert z1.grad is not None and torch.isfinite(z1.grad).all()


def test_nt_xent_rejects_bad_input() -> None:
    with pytest.raises(InputValueError, match="same shape"):
        nt_xent(randn(4, 8), randn(3, 8))
    with pytest.raises(InputValueError, match="temperature=-1.0 must be > 0"):
        nt_xent(randn(4, 8), randn(4, 8), temperature=-1.0)
    with pytest.raises(InputTypeError, match="floating"):
        nt_xent(torch.ones(4, 8, dtype=torch.long), torch.ones(4, 8, dtype=torch.long))
