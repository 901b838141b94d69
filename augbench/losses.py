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

__all__ = ["cross_view_info_nce", "gaussian_mmd", "info_nce", "kd_kl_divergence", "masked_cross_entropy", "masked_kl_divergence", "nt_xent", "soft_cross_entropy",
           "temporal_info_nce", "contrastive_pair_loss", "mixed_pair_loss",
           "view_pair_logits", "dot_nt_xent"]


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


def info_nce(
    queries: Tensor, keys: Tensor, negatives: Tensor, temperature: float = 0.2, extra_negatives: Tensor | None = None
) -> Tensor:
    """MoCo's InfoNCE: each query against its key, a shared bank of negatives and optional negatives of its own.

    ``logits[b] = [q_b . k_b, q_b . n_1, ..., q_b . n_K, q_b . e_b1, ..., q_b . e_bM] / T`` and
    ``loss = mean_b -log softmax(logits[b])[0]``: the positive is column 0. ``negatives`` (MoCo's
    queue) are shared by every query; ``extra_negatives[b]`` belong to query ``b`` only (MoCHi's
    mixed hard negatives). The embeddings are used as given: pass unit rows for cosine logits
    (no normalisation here, so nothing is normalised twice), and detach the negatives that must
    not learn (a queue is a buffer; MoCHi's synthetic negatives are built without gradient).

    References: He et al., "Momentum Contrast for Unsupervised Visual Representation Learning",
    CVPR 2020 (arXiv:1911.05722), eq. (1); Kalantidis et al., "Hard Negative Mixing for Contrastive
    Learning", NeurIPS 2020 (arXiv:2010.01028), sec. 4.

    Args:
        queries: the queries ``q``.
        keys: their positive keys ``k``, row ``b`` the positive of ``queries[b]``.
        negatives: the shared negatives.
        temperature: ``T > 0`` (MoCo v1 0.07, MoCo v2 0.2).
        extra_negatives: per-query negatives, or ``None`` (``M = 0``).

    Shape:
        ``queries`` and ``keys`` ``(B, D)`` float, ``negatives`` ``(K, D)``, ``extra_negatives``
        ``(B, M, D)`` -> a scalar of the queries' dtype.

    >>> q = torch.tensor([[1.0, 0.0]])
    >>> round(info_nce(q, q, torch.tensor([[0.0, 1.0]]), temperature=1.0).item(), 4)  # -log(e / (e + 1))
    0.3133
    """
    who = "info_nce"
    _check_logits(queries, "queries", who)
    _check_logits(keys, "keys", who)
    _check_same_shape(queries, keys, ("queries", "keys"), who)
    _check_logits(negatives, "negatives", who)
    dim = queries.shape[1]
    if negatives.shape[1] != dim:
        raise InputValueError(f"{who}: negatives {tuple(negatives.shape)} must be (K, {dim}) to match queries")
    _check_temperature(temperature, who)
    columns = [(queries * keys).sum(1, keepdim=True), queries @ negatives.T]
    if extra_negatives is not None:
        if not isinstance(extra_negatives, Tensor) or extra_negatives.ndim != 3 \
                or extra_negatives.shape[::2] != (queries.shape[0], dim):
            shape = tuple(extra_negatives.shape) if isinstance(extra_negatives, Tensor) else type(extra_negatives).__name__
            raise InputValueError(f"{who}: extra_negatives {shape} must be (B, M, D) = ({queries.shape[0]}, M, {dim})")
        columns.append(torch.einsum("bd,bmd->bm", queries, extra_negatives))
    logits = torch.cat(columns, dim=1) / temperature
    return nnf.cross_entropy(logits, torch.zeros(queries.shape[0], dtype=torch.int64, device=queries.device))


def cross_view_info_nce(anchors: Tensor, candidates: Tensor, temperature: float = 1.0) -> Tensor:
    """In-batch InfoNCE from one view to the other: each anchor picks its own row among the candidates.

    ``s[i, j] = cos(a_i, c_j) / T`` and ``loss = mean_i -log( exp(s[i, i]) / sum_j exp(s[i, j]) )``:
    the positive of anchor ``i`` is candidate ``i`` (the other view of the same sample), the
    negatives are the other ``B - 1`` candidates; anchors are never compared with each other
    (unlike :func:`nt_xent`). When every row points the same way the loss is ``log B``.

    Reference: van den Oord et al., "Representation Learning with Contrastive Predictive Coding",
    2018 (arXiv:1807.03748); the form (cosine, one direction, T = 1) of AutoTCL's official code
    (``models/losses.py``, ``InfoNCE``; Zheng et al., ICLR 2024).

    Args:
        anchors: embeddings of the first view.
        candidates: embeddings of the second view, row ``b`` the same sample as ``anchors[b]``.
        temperature: ``T > 0`` (AutoTCL uses 1).

    Shape:
        ``(B, D)`` float each, ``B >= 1`` -> a scalar of the embeddings' dtype.

    >>> z = torch.ones(4, 3)
    >>> round(cross_view_info_nce(z, z).item(), 4) == round(torch.log(torch.tensor(4.0)).item(), 4)
    True
    """
    who = "cross_view_info_nce"
    _check_logits(anchors, "anchors", who)
    _check_logits(candidates, "candidates", who)
    _check_same_shape(anchors, candidates, ("anchors", "candidates"), who)
    _check_temperature(temperature, who)
    similarity = nnf.normalize(anchors, dim=1) @ nnf.normalize(candidates, dim=1).T / temperature
    return nnf.cross_entropy(similarity, torch.arange(anchors.shape[0], device=anchors.device))


def temporal_info_nce(steps1: Tensor, steps2: Tensor, temperature: float = 1.0) -> Tensor:
    """TS2Vec's temporal contrast between two time-aligned views: a step's positive is the same step of the other view.

    Per series ``b``, the ``2L`` step embeddings ``z = [steps1[b]; steps2[b]]`` are compared by
    cosine similarity over ``T``; anchor step ``t`` of one view has the positive ``t`` of the
    other view and the ``2L - 2`` other steps of the same series (both views) as negatives, the
    self-similarity excluded: NT-Xent (:func:`nt_xent`) over the steps of one series, averaged
    over all ``2 B L`` anchors. Series with one step give 0 (no negatives).

    Reference: Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022
    (arXiv:2106.10466), eq. (1) (``temporal_contrastive_loss``; TS2Vec compares raw dot products,
    here cosine over ``T`` as in AutoTCL's instance loss).

    Args:
        steps1: per-step embeddings of the first view.
        steps2: per-step embeddings of the second view, aligned in time with ``steps1``.
        temperature: ``T > 0``.

    Shape:
        ``(B, L, D)`` float each, ``B, L >= 1`` -> a scalar of the embeddings' dtype.

    >>> z = torch.ones(2, 5, 3)
    >>> round(temporal_info_nce(z, z).item(), 4) == round(torch.log(torch.tensor(9.0)).item(), 4)
    True
    """
    who = "temporal_info_nce"
    for name, steps in (("steps1", steps1), ("steps2", steps2)):
        if not isinstance(steps, Tensor) or not steps.is_floating_point():
            kind = f"dtype {steps.dtype}" if isinstance(steps, Tensor) else type(steps).__name__
            raise InputTypeError(f"{who}: {name} must be a floating tensor, got {kind}; convert with .float()")
        if steps.ndim != 3 or steps.shape[0] == 0 or steps.shape[1] == 0:
            raise InputValueError(f"{who}: {name} must be (B, L, D) with B, L >= 1, got shape {tuple(steps.shape)}")
    _check_same_shape(steps1, steps2, ("steps1", "steps2"), who)
    _check_temperature(temperature, who)
    length = steps1.shape[1]
    if length == 1:
        return steps1.sum() * 0.0
    z = nnf.normalize(torch.cat([steps1, steps2], dim=1), dim=2)  # (B, 2L, D)
    similarity = (z @ z.transpose(1, 2)) / temperature  # (B, 2L, 2L)
    self_mask = torch.eye(2 * length, dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    positives = torch.arange(2 * length, device=z.device).roll(length).expand(steps1.shape[0], -1)
    return nnf.cross_entropy(similarity.flatten(0, 1), positives.flatten())


def gaussian_mmd(source: Tensor, target: Tensor, kernels: int = 5, multiplier: float = 2.0) -> Tensor:
    """Squared maximum mean discrepancy between two batches under a sum of Gaussian kernels.

    With the ``n = 2B`` points ``u = [source; target]`` and squared distances ``d_ij``, the base
    width is the mean off-diagonal distance ``w = sum d / (n^2 - n)`` (no gradient) divided by
    ``multiplier ** (kernels // 2)``; ``k(u_i, u_j) = sum_m exp(-d_ij / (w * multiplier^m))`` for
    ``m = 0..kernels-1``, and the biased (V-statistic) estimate is
    ``mean(K_ss) + mean(K_tt) - 2 mean(K_st)``. It is exactly 0 when ``source`` equals ``target``
    and positive when the two batches differ as sets.

    Reference: Gretton et al., "A Kernel Two-Sample Test", JMLR 2012; the multi-width kernel of
    Long et al., "Learning Transferable Features with Deep Adaptation Networks", ICML 2015, as
    AutoTCL's official code uses it (``models/losses.py``, ``mmdx``; Zheng et al., ICLR 2024).

    Args:
        source: the first batch of embeddings.
        target: the second batch (the same ``D``; ``B`` may differ).
        kernels: number of Gaussian widths, >= 1 (5).
        multiplier: ratio between consecutive widths, > 1 (2).

    Shape:
        ``(B1, D)`` and ``(B2, D)`` float -> a scalar of the embeddings' dtype, >= 0 up to rounding.

    >>> x = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> gaussian_mmd(x, x).item(), gaussian_mmd(x, x + 1.0).item() > 0
    (0.0, True)
    """
    who = "gaussian_mmd"
    _check_logits(source, "source", who)
    _check_logits(target, "target", who)
    if source.shape[1] != target.shape[1]:
        raise InputValueError(f"{who}: source {tuple(source.shape)} and target {tuple(target.shape)} need the same D")
    if isinstance(kernels, bool) or not isinstance(kernels, int) or kernels < 1:
        raise InputValueError(f"{who}: kernels={kernels!r} must be a whole number >= 1, e.g. 5")
    if not multiplier > 1:
        raise InputValueError(f"{who}: multiplier={multiplier!r} must be > 1, e.g. 2.0")
    points = torch.cat([source, target])
    count = points.shape[0]
    distances = (points[:, None, :] - points[None, :, :]).pow(2).sum(-1)  # (n, n)
    width = distances.detach().sum() / max(count * count - count, 1) / multiplier ** (kernels // 2)
    width = width.clamp(min=torch.finfo(points.dtype).tiny)
    kernel = sum(torch.exp(-distances / (width * multiplier**m)) for m in range(kernels))
    size = source.shape[0]
    return kernel[:size, :size].mean() + kernel[size:, size:].mean() - 2.0 * kernel[:size, size:].mean()


def _unit_distances(first: Tensor, second: Tensor) -> Tensor:
    """``(N, M)`` Euclidean distances between the L2-normalised rows of ``(N, D)`` ``first`` and
    ``(M, D)`` ``second``: ``sqrt(2 - 2 cos)``."""
    return _root((2.0 - 2.0 * nnf.normalize(first, dim=-1) @ nnf.normalize(second, dim=-1).T).clamp_min(0.0))


def _root(squared: Tensor) -> Tensor:
    """``sqrt`` that is exactly 0 with a zero (not infinite) gradient where ``squared`` is 0."""
    positive = squared > 0
    return torch.where(positive, torch.where(positive, squared, 1.0).sqrt(), 0.0)


def _mean_nonzero(terms: Tensor) -> Tensor:
    """Mean over the strictly positive entries (pytorch-metric-learning's ``AvgNonZeroReducer``); 0 when none."""
    active = (terms > 0).sum()
    return terms.sum() / active.clamp_min(1).to(terms.dtype)


def _check_margin(margin: float, who: str) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 < margin <= 2:
        raise InputValueError(
            f"{who}: margin={margin!r} must be in (0, 2] (unit embeddings are at most 2 apart), e.g. 0.5"
        )


def contrastive_pair_loss(embeddings: Tensor, labels: Tensor, margin: float = 0.5) -> Tensor:
    """The contrastive loss of deep metric learning over every pair of a batch (Metrix's clean loss).

    With ``d_ij = || e_i / |e_i| - e_j / |e_j| ||`` (Euclidean distance of the L2-normalised
    embeddings), every ordered pair ``i != j`` of the same label is a positive with term ``d_ij``,
    every pair of different labels a negative with term ``[margin - d_ij]_+``, and

    ``loss = mean_{nonzero}(positive terms) + mean_{nonzero}(negative terms)``,

    each part averaged over its non-zero terms only (0 when it has none): the defaults of
    pytorch-metric-learning's ``ContrastiveLoss(pos_margin=0, neg_margin=0.5)`` with
    ``AvgNonZeroReducer``, as Metrix's official code uses them.

    References: Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an Invariant
    Mapping", CVPR 2006; Venkataramanan et al., "It Takes Two to Tango: Mixup for Deep Metric
    Learning", ICLR 2022 (arXiv:2106.04990), eq. (2).

    Args:
        embeddings: one embedding per sample, any scale (rows are normalised here).
        labels: class of each sample (only equality matters).
        margin: the negative margin in (0, 2], 0.5.

    Shape:
        ``embeddings`` ``(B, D)`` float, ``labels`` ``(B,)`` integer -> a scalar of the embeddings' dtype.

    >>> e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> contrastive_pair_loss(e, torch.tensor([0, 0, 1])).item()  # positives at 0, negatives sqrt(2) > 0.5 apart
    0.0
    """
    who = "contrastive_pair_loss"
    _check_logits(embeddings, "embeddings", who)
    if not isinstance(labels, Tensor) or labels.shape != (embeddings.shape[0],) or labels.is_floating_point():
        shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise InputValueError(f"{who}: labels must be ({embeddings.shape[0]},) integer class indices, got {shape}")
    _check_margin(margin, who)
    distances = _unit_distances(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    others = ~torch.eye(labels.shape[0], dtype=torch.bool, device=embeddings.device)
    positive = torch.where(same & others, distances, 0.0)
    negative = torch.where(~same, (margin - distances).clamp_min(0.0), 0.0)
    return _mean_nonzero(positive) + _mean_nonzero(negative)


def mixed_pair_loss(anchors: Tensor, mixed: Tensor, lam: Tensor | float, margin: float = 0.5) -> Tensor:
    """Metrix's loss of mixed embeddings against their clean anchors: an interpolated pair target.

    Row ``t`` pairs a clean anchor ``a_t`` with a mixed embedding ``m_t`` made from a positive
    (weight ``lam``) and a negative (weight ``1 - lam``) of that anchor. With
    ``d_t = || a_t / |a_t| - m_t / |m_t| ||`` the two parts are

    ``lam * d_t`` (positive) and ``(1 - lam) * [margin - d_t]_+`` (negative),

    each averaged over its non-zero terms and summed, as :func:`contrastive_pair_loss` reduces
    the clean pairs. The *target* is interpolated, not the distance; at ``lam = 1`` the negative
    part vanishes and the loss is the clean positive term of the pairs ``(a_t, m_t)``.

    Reference: Venkataramanan et al., ICLR 2022 (arXiv:2106.04990), eq. (6) for the contrastive
    loss; official code ``mixup/losses.py`` (``loss_posneg_mixup``).

    Args:
        anchors: the clean anchor embeddings (gradients flow into them too).
        mixed: the mixed embeddings, row ``t`` paired with ``anchors[t]``.
        lam: the positive's interpolation weight in [0, 1]: a float, a 0-d tensor or one per row.
        margin: the negative margin in (0, 2], 0.5.

    Shape:
        ``anchors`` and ``mixed`` ``(T, D)`` float, ``lam`` scalar or ``(T,)`` -> a scalar.

    >>> a = torch.tensor([[1.0, 0.0]])
    >>> round(mixed_pair_loss(a, torch.tensor([[0.0, 1.0]]), 1.0).item(), 4)  # lam = 1: the distance sqrt(2)
    1.4142
    """
    who = "mixed_pair_loss"
    _check_logits(anchors, "anchors", who)
    _check_logits(mixed, "mixed", who)
    _check_same_shape(anchors, mixed, ("anchors", "mixed"), who)
    _check_margin(margin, who)
    if isinstance(lam, (int, float)) and not isinstance(lam, bool) and not 0 <= lam <= 1:
        raise InputValueError(f"{who}: lam={lam!r} must lie in [0, 1]")
    weight = torch.as_tensor(lam, dtype=anchors.dtype, device=anchors.device)
    if weight.ndim not in (0, 1) or (weight.ndim == 1 and weight.shape[0] != anchors.shape[0]):
        raise InputValueError(f"{who}: lam must be a scalar or ({anchors.shape[0]},), got shape {tuple(weight.shape)}")
    cosine = (nnf.normalize(anchors, dim=1) * nnf.normalize(mixed, dim=1)).sum(1)
    distances = _root((2.0 - 2.0 * cosine).clamp_min(0.0))
    positive = weight * distances
    negative = (1.0 - weight) * (margin - distances).clamp_min(0.0)
    return _mean_nonzero(positive) + _mean_nonzero(negative)


def view_pair_logits(z1: Tensor, z2: Tensor, temperature: float = 1.0, cosine: bool = False) -> Tensor:
    """The ``(2B, 2B)`` similarity logits of two views' embeddings, self-similarity ``-inf``.

    ``z = [z1; z2]`` and ``logits[i, j] = s(z_i, z_j) / T`` with ``s`` the dot product (or the
    cosine when ``cosine``); the diagonal is ``-inf``. The positive of row ``i`` is column
    ``(i + B) mod 2B`` (the other view of the same sample); the other ``2B - 2`` columns are its
    negatives. The form of the in-batch InfoNCE of CL4SRec / DuoRec / MCLRec's code
    (``info_nce``, ``sim='dot'`` or ``'cos'``), shared by :func:`dot_nt_xent` and losses that
    read positives and negatives separately (MCLRec's margin regulariser).

    Shape:
        ``(B, D)`` float each, ``B >= 1`` -> ``(2B, 2B)`` of their dtype.

    >>> view_pair_logits(torch.eye(2), torch.eye(2))
    tensor([[-inf, 0., 1., 0.],
            [0., -inf, 0., 1.],
            [1., 0., -inf, 0.],
            [0., 1., 0., -inf]])
    """
    who = "view_pair_logits"
    _check_logits(z1, "z1", who)
    _check_logits(z2, "z2", who)
    _check_same_shape(z1, z2, ("z1", "z2"), who)
    _check_temperature(temperature, who)
    z = torch.cat([z1, z2])
    if cosine:
        z = nnf.normalize(z, dim=1)
    logits = (z @ z.T) / temperature
    return logits.masked_fill(torch.eye(z.shape[0], dtype=torch.bool, device=z.device), float("-inf"))


def dot_nt_xent(z1: Tensor, z2: Tensor, temperature: float = 1.0, cosine: bool = False) -> Tensor:
    """In-batch InfoNCE over two views with **dot-product** logits (NT-Xent without the normalisation).

    ``loss = mean_i -log softmax(view_pair_logits(z1, z2, T))[i, (i + B) mod 2B]`` over all ``2B``
    anchors: each embedding's positive is the other view of its sample, the ``2B - 2`` other
    embeddings are negatives. With ``cosine=True`` it equals :func:`nt_xent`. CL4SRec (Xie et
    al., ICDE 2022, arXiv:2010.14395) and MCLRec (Qin et al., SIGIR 2023) use dot products with
    ``T = 1`` on the sequence representations.

    Shape:
        ``(B, D)`` float each, ``B >= 1`` -> a scalar of their dtype.

    >>> z = torch.zeros(3, 4)
    >>> round(dot_nt_xent(z, z).item(), 4) == round(torch.log(torch.tensor(5.0)).item(), 4)
    True
    """
    logits = view_pair_logits(z1, z2, temperature, cosine)
    batch = z1.shape[0]
    return nnf.cross_entropy(logits, torch.arange(2 * batch, device=logits.device).roll(batch))
