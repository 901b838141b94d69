"""Losses shared by training methods: soft-target CE, masked CE and KL, knowledge distillation, NT-Xent.

Every method that needs one of these imports it from here, so a formula lives in one place and
is tested once. Each function checks shapes and dtypes from metadata only (no host sync) and
raises a one-line :class:`~augbench.errors.InputValueError` /
:class:`~augbench.errors.InputTypeError` naming the fix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = ["kd_kl_divergence", "masked_cross_entropy", "masked_kl_divergence", "nt_xent", "soft_cross_entropy"]


def _check_logits(logits: object, name: str, who: str) -> Tensor:
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        kind = f"dtype {logits.dtype}" if isinstance(logits, Tensor) else type(logits).__name__
        raise InputTypeError(f"{who}: {name} must be a floating tensor, got {kind}; convert with .float()")
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise InputValueError(f"{who}: {name} must be (B, K) with B >= 1, got shape {tuple(logits.shape)}")
    return logits


def _check_same_shape(first: Tensor, second: Tensor, names: tuple[str, str], who: str) -> None:
    if first.shape != second.shape:
        raise InputValueError(
            f"{who}: {names[0]} {tuple(first.shape)} and {names[1]} {tuple(second.shape)} must have the same shape"
        )


def _check_mask(mask: object, normaliser: float | Tensor, batch: int, who: str) -> None:
    if not isinstance(mask, Tensor) or not (mask.is_floating_point() or mask.dtype == torch.bool):
        kind = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
        raise InputTypeError(f"{who}: mask must be a float (or bool) tensor, got {kind}; use .float()")
    if mask.shape != (batch,):
        raise InputValueError(f"{who}: mask must have shape ({batch},) to match logits, got {tuple(mask.shape)}")
    if not isinstance(normaliser, Tensor) and not normaliser > 0:
        raise InputValueError(f"{who}: normaliser={normaliser!r} must be > 0 (FixMatch: mu * B; UDA's TSA: the kept count)")


def _check_temperature(temperature: float, who: str) -> None:
    if not temperature > 0:
        raise InputValueError(f"{who}: temperature={temperature!r} must be > 0")


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy against soft targets, averaged over the batch.

    ``loss = mean_b ( -sum_k targets[b, k] * log_softmax(logits)[b, k] )``

    With ``targets = lam * onehot(y) + (1 - lam) * onehot(y[index])`` this equals the mixed
    loss ``lam * CE(logits, y) + (1 - lam) * CE(logits, y[index])`` of the mixing papers
    (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018).

    Args:
        logits: unnormalised class scores.
        targets: a probability vector per sample (rows sum to 1; not checked, no host sync).

    Shape:
        ``logits`` and ``targets`` ``(B, K)`` float -> a scalar of ``logits``' dtype.

    >>> soft_cross_entropy(torch.zeros(2, 4), torch.full((2, 4), 0.25)).item() == torch.log(torch.tensor(4.0)).item()
    True
    """
    who = "soft_cross_entropy"
    _check_logits(logits, "logits", who)
    _check_logits(targets, "targets", who)
    _check_same_shape(logits, targets, ("logits", "targets"), who)
    return -(targets * torch.log_softmax(logits, dim=1)).sum(1).mean()


def masked_cross_entropy(logits: Tensor, targets: Tensor, mask: Tensor, normaliser: float | Tensor) -> Tensor:
    """Hard-label cross-entropy of the kept samples, summed and divided by ``normaliser``.

    ``loss = sum_b CE(logits[b], targets[b]) * mask[b] / normaliser``

    The caller picks the normaliser, because the papers differ: FixMatch (Sohn et al., NeurIPS
    2020, arXiv:2001.07685) divides the unlabelled loss by ``mu * B``, the whole unlabelled batch,
    so low-confidence samples still dilute it; UDA's training-signal annealing (Xie et al.,
    NeurIPS 2020, arXiv:1904.12848) divides the supervised loss by the number of labeled
    examples its mask keeps.

    Args:
        logits: unnormalised class scores.
        targets: class indices (pseudo-labels) in ``[0, K)``.
        mask: per-sample weights, usually 0/1 (a bool mask is taken as 0/1).
        normaliser: ``> 0``; a Python number is checked, a tensor (e.g. ``mask.sum().clamp_min(1)``,
            which keeps the step free of host syncs) is used as given.

    Shape:
        ``logits`` ``(B, K)`` float, ``targets`` ``(B,)`` int64, ``mask`` ``(B,)`` float or bool
        -> a scalar of ``logits``' dtype.

    >>> logits = torch.zeros(4, 2)
    >>> masked_cross_entropy(logits, torch.zeros(4, dtype=torch.long), torch.tensor([1.0, 1, 0, 0]), 4.0)
    tensor(0.3466)
    """
    who = "masked_cross_entropy"
    _check_logits(logits, "logits", who)
    batch = logits.shape[0]
    if not isinstance(targets, Tensor) or targets.dtype != torch.int64:
        kind = f"dtype {targets.dtype}" if isinstance(targets, Tensor) else type(targets).__name__
        raise InputTypeError(f"{who}: targets must be an int64 tensor of class indices, got {kind}; use .long()")
    if targets.shape != (batch,):
        raise InputValueError(f"{who}: targets must have shape ({batch},) to match logits, got {tuple(targets.shape)}")
    _check_mask(mask, normaliser, batch, who)
    per_sample = nnf.cross_entropy(logits, targets, reduction="none")
    return (per_sample * mask.to(per_sample.dtype)).sum() / normaliser


def masked_kl_divergence(logits: Tensor, targets: Tensor, mask: Tensor, normaliser: float | Tensor) -> Tensor:
    """Consistency KL from soft targets to the model's prediction, kept samples summed, divided by ``normaliser``.

    ``loss = sum_b mask[b] * KL(targets[b] || softmax(logits[b])) / normaliser`` with
    ``KL(p || q) = sum_k p_k (log p_k - log q_k)`` and ``0 log 0 = 0`` (a one-hot target is fine).

    UDA (Xie et al., NeurIPS 2020, arXiv:1904.12848) uses it with sharpened, stop-gradient
    targets from the unaugmented unlabeled sample, its confidence mask and ``normaliser = mu * B``
    (the batch mean of the masked KL, as the reference's ``reduce_mean``). The targets are used
    as given: pass them detached when they must not learn.

    Args:
        logits: unnormalised class scores of the prediction (the augmented view).
        targets: a probability vector per sample (rows sum to 1; not checked, no host sync).
        mask: per-sample weights, usually 0/1 (a bool mask is taken as 0/1).
        normaliser: ``> 0``; a Python number is checked, a tensor is used as given.

    Shape:
        ``logits`` and ``targets`` ``(B, K)`` float, ``mask`` ``(B,)`` float or bool -> a scalar of
        ``logits``' dtype.

    >>> uniform = torch.full((2, 2), 0.5)
    >>> masked_kl_divergence(torch.zeros(2, 2), uniform, torch.ones(2), 2.0).item()
    0.0
    >>> round(masked_kl_divergence(torch.zeros(2, 2), torch.eye(2), torch.tensor([1.0, 0.0]), 2.0).item(), 4)
    0.3466
    """
    who = "masked_kl_divergence"
    _check_logits(logits, "logits", who)
    _check_logits(targets, "targets", who)
    _check_same_shape(logits, targets, ("logits", "targets"), who)
    _check_mask(mask, normaliser, logits.shape[0], who)
    per_sample = (torch.xlogy(targets, targets) - targets * torch.log_softmax(logits, dim=1)).sum(1)
    return (per_sample * mask.to(per_sample.dtype)).sum() / normaliser


def kd_kl_divergence(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Knowledge-distillation loss: KL from the softened teacher to the softened student, times T².

    ``loss = T**2 * mean_b sum_k p_t[b, k] * (log p_t[b, k] - log p_s[b, k])`` with
    ``p_t = softmax(teacher_logits / T)`` and ``p_s = softmax(student_logits / T)``.

    The gradient of the KL term with respect to the student logits scales like ``1 / T**2``
    for large ``T``; the ``T**2`` factor keeps its magnitude roughly independent of ``T``
    (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015, arXiv:1503.02531).

    The teacher logits are not detached: pass them from ``torch.no_grad()`` (or ``.detach()``)
    when the teacher must not learn, as in the paper; mutual-learning methods keep the graph.

    Args:
        student_logits: the student's unnormalised class scores.
        teacher_logits: the teacher's unnormalised class scores.
        temperature: softening temperature ``T > 0`` (1 recovers the plain softmax).

    Shape:
        ``(B, K)`` float each -> a scalar of the logits' dtype.

    >>> logits = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    >>> kd_kl_divergence(logits, logits, temperature=4.0).item()
    0.0
    """
    who = "kd_kl_divergence"
    _check_logits(student_logits, "student_logits", who)
    _check_logits(teacher_logits, "teacher_logits", who)
    _check_same_shape(student_logits, teacher_logits, ("student_logits", "teacher_logits"), who)
    _check_temperature(temperature, who)
    log_student = torch.log_softmax(student_logits / temperature, dim=1)
    log_teacher = torch.log_softmax(teacher_logits / temperature, dim=1)
    kl = nnf.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """SimCLR's normalised-temperature cross-entropy over the two views of a batch.

    The ``2B`` embeddings ``z = [z1; z2]`` are L2-normalised and compared by cosine similarity,
    ``s[i, j] = <z_i, z_j> / T``. Each anchor ``i`` has one positive, the other view of the same
    sample (``i + B mod 2B``), and ``2B - 2`` negatives; the self-similarity is excluded:

    ``loss = mean_i -log( exp(s[i, pos(i)]) / sum_{j != i} exp(s[i, j]) )`` over all ``2B`` anchors.

    When every embedding points the same way all similarities are equal and the loss is
    ``log(2B - 1)`` whatever ``T``.

    Reference: Chen et al., "A Simple Framework for Contrastive Learning of Visual
    Representations", ICML 2020 (arXiv:2002.05709), eq. (1).

    Args:
        z1: projections of the first view.
        z2: projections of the second view, row ``b`` the same sample as ``z1[b]``.
        temperature: ``T > 0``; SimCLR uses 0.5 at batch size 256 and 0.1 at large batches.

    Shape:
        ``(B, D)`` float each, ``B >= 1`` -> a scalar of the embeddings' dtype.

    >>> z = torch.ones(4, 3)
    >>> round(nt_xent(z, z).item(), 4) == round(torch.log(torch.tensor(7.0)).item(), 4)
    True
    """
    who = "nt_xent"
    _check_logits(z1, "z1", who)
    _check_logits(z2, "z2", who)
    _check_same_shape(z1, z2, ("z1", "z2"), who)
    _check_temperature(temperature, who)
    batch = z1.shape[0]
    z = nnf.normalize(torch.cat([z1, z2]), dim=1)
    similarity = (z @ z.T) / temperature
    self_mask = torch.eye(2 * batch, dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    positives = torch.arange(2 * batch, device=z.device).roll(batch)
    return nnf.cross_entropy(similarity, positives)
