"""Representation quality of frozen features: the weighted kNN monitor and the linear probe.

Both take features the caller has already extracted (``(N, D)`` train, ``(M, D)`` test) and
integer labels; no model code lives here. Each public function validates its inputs at the
boundary (shape, dtype, device, NaN/inf, empty) and raises a one-line
:class:`~augbench.errors.InputValueError` / :class:`~augbench.errors.InputTypeError` that names
the fix.

- :func:`knn_accuracy`: the weighted kNN classifier of Wu et al., "Unsupervised Feature
  Learning via Non-Parametric Instance Discrimination" (InstDisc, CVPR 2018), the monitor of
  MoCo and solo-learn: cosine similarity, the ``k`` nearest train features vote for their class
  with weight ``exp(similarity / temperature)``.
- :func:`linear_probe_accuracy`: a linear classifier trained on standardised frozen features
  under one fixed protocol, returning a :class:`ProbeResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import InputTypeError, InputValueError

__all__ = ["ProbeResult", "knn_accuracy", "linear_probe_accuracy"]


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of :func:`linear_probe_accuracy`.

    Attributes:
        accuracy: top-1 accuracy on the test features, in [0, 1] (higher is better).
        train_accuracy: top-1 accuracy on the train features the probe was fitted on, in [0, 1];
            far above ``accuracy`` means the probe overfits.
    """

    accuracy: float
    train_accuracy: float


def _check_features(features: Tensor, name: str, who: str) -> None:
    """``features`` must be a finite floating ``(rows, D)`` tensor with rows >= 1 and D >= 1."""
    if not isinstance(features, Tensor):
        raise InputTypeError(f"{who}: {name} must be a tensor, got {type(features).__name__}; use torch.as_tensor")
    if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise InputValueError(
            f"{who}: {name} must be (rows, D) with at least one row and one feature, got shape "
            f"{tuple(features.shape)}; flatten each sample to a row"
        )
    if not features.is_floating_point():
        raise InputTypeError(f"{who}: {name} must be floating, got {features.dtype}; use {name}.float()")
    if not bool(torch.isfinite(features).all()):
        raise InputValueError(f"{who}: {name} contains NaN or inf; drop or fix those rows before evaluating")


def _check_labels(labels: Tensor, count: int, name: str, who: str) -> None:
    """``labels`` must be an integer ``(count,)`` tensor."""
    if not isinstance(labels, Tensor):
        raise InputTypeError(f"{who}: {name} must be a tensor, got {type(labels).__name__}; use torch.as_tensor")
    if labels.shape != (count,):
        raise InputValueError(
            f"{who}: {name} must have shape ({count},) to match the features, got {tuple(labels.shape)}; "
            "pass one class index per row, not one-hot rows"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputTypeError(f"{who}: {name} must be integer class indices, got {labels.dtype}; use {name}.long()")


def _check_split(features: Tensor, labels: Tensor, features_name: str, labels_name: str, who: str) -> None:
    """Check one (features, labels) pair: shapes, dtypes, one device."""
    _check_features(features, features_name, who)
    _check_labels(labels, features.shape[0], labels_name, who)
    if labels.device != features.device:
        raise InputValueError(
            f"{who}: {labels_name} is on {labels.device} but {features_name} on {features.device}; "
            f"move both to one device"
        )


def _check_pair(first: Tensor, second: Tensor, first_name: str, second_name: str, who: str) -> None:
    """Two feature tensors must share the feature width and the device."""
    if first.shape[1] != second.shape[1]:
        raise InputValueError(
            f"{who}: {first_name} has {first.shape[1]} features per row but {second_name} has "
            f"{second.shape[1]}; extract both with the same encoder"
        )
    if first.device != second.device:
        raise InputValueError(
            f"{who}: {first_name} is on {first.device} but {second_name} on {second.device}; move both to one device"
        )


def _check_positive_int(value: object, name: str, who: str, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputValueError(f"{who}: {name}={value!r} must be a positive int, e.g. {example}")
    return value


def _check_positive_float(value: object, name: str, who: str, example: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputValueError(f"{who}: {name}={value!r} must be a positive finite number, e.g. {example}")
    return float(value)


def _resolve_classes(num_classes: int | None, labels: tuple[Tensor, ...], who: str) -> int:
    """``num_classes`` if given (checked against the labels), else the largest label + 1."""
    low = min(int(part.min()) for part in labels)
    high = max(int(part.max()) for part in labels)
    if low < 0:
        raise InputValueError(f"{who}: labels must be class indices >= 0, got {low}; map classes to 0..K-1")
    if num_classes is None:
        return high + 1
    _check_positive_int(num_classes, "num_classes", who, high + 1)
    if high >= num_classes:
        raise InputValueError(
            f"{who}: label {high} is out of range for num_classes={num_classes}; pass num_classes >= {high + 1}"
        )
    return num_classes


def _working_dtype(*features: Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (half inputs are computed in float32)."""
    return torch.float64 if any(part.dtype == torch.float64 for part in features) else torch.float32


def _unit_rows(features: Tensor, dtype: torch.dtype) -> Tensor:
    """L2-normalised rows in ``dtype``; an all-zero row stays zero (cosine 0 to everything)."""
    return nnf.normalize(features.to(dtype), dim=1)


def knn_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    chunk: int = 1024,
) -> float:
    """Top-1 accuracy of the temperature-weighted kNN classifier on frozen features.

    The InstDisc monitor (Wu et al., CVPR 2018), as in MoCo and solo-learn's
    ``WeightedKNNClassifier``: with unit rows ``f = x / ||x||``, test sample ``q`` takes its
    ``k`` most similar train rows ``N_k(q)`` under ``s_i = f_q . f_i`` and predicts

    ``y_hat(q) = argmax_c sum_{i in N_k(q), y_i = c} exp(s_i / temperature)``.

    The weights are computed as ``exp((s_i - max_i s_i) / temperature)``, the same vote scaled
    by one positive factor per query, so small temperatures cannot overflow. A class tie goes
    to the smaller class index; ties among equal similarities at the ``k``-th place are broken
    by ``torch.topk``. ``k`` larger than ``N`` is clipped to ``N``. The test set is processed in
    chunks of ``chunk`` queries, so memory is ``O(chunk * N)`` and no loop runs over samples.
    Features are compared in float32 (float64 if either input is float64).

    Args:
        train_features: ``(N, D)`` floating, finite; any scale (rows are L2-normalised).
        train_labels: ``(N,)`` integer class indices in ``[0, num_classes)``.
        test_features: ``(M, D)`` floating, finite, on the train features' device.
        test_labels: ``(M,)`` integer class indices.
        k: neighbours per query, >= 1 (20 in solo-learn, 200 in InstDisc/MoCo).
        temperature: softmax temperature of the vote weights, > 0 (0.07 in InstDisc).
        num_classes: number of classes ``K``; default: the largest label + 1.
        chunk: test queries per batched similarity product, >= 1.

    Returns:
        Accuracy in [0, 1] (higher is better).

    Raises:
        InputValueError: empty or mismatched inputs, NaN/inf features, labels out of range,
            non-positive ``k``, ``temperature`` or ``chunk``.
        InputTypeError: non-tensor inputs, integer features, floating labels.

    Low temperature lets the single nearest neighbour win; high temperature is a majority vote:

    >>> train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]])
    >>> train_labels = torch.tensor([0, 1, 1])
    >>> test, test_labels = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    >>> knn_accuracy(train, train_labels, test, test_labels, k=3, temperature=0.1)  # e^10 > e^8 + e^6
    1.0
    >>> knn_accuracy(train, train_labels, test, test_labels, k=3, temperature=1.0)  # e^1 < e^0.8 + e^0.6
    0.0
    """
    who = "knn_accuracy"
    _check_split(train_features, train_labels, "train_features", "train_labels", who)
    _check_split(test_features, test_labels, "test_features", "test_labels", who)
    _check_pair(train_features, test_features, "train_features", "test_features", who)
    _check_positive_int(k, "k", who, 20)
    _check_positive_float(temperature, "temperature", who, 0.07)
    _check_positive_int(chunk, "chunk", who, 1024)
    classes = _resolve_classes(num_classes, (train_labels, test_labels), who)

    dtype = _working_dtype(train_features, test_features)
    train = _unit_rows(train_features, dtype)
    test = _unit_rows(test_features, dtype)
    neighbours = min(k, train.shape[0])
    correct = torch.zeros((), dtype=torch.int64, device=train.device)
    for start in range(0, test.shape[0], chunk):
        queries = test[start : start + chunk]
        similarity, index = (queries @ train.T).topk(neighbours, dim=1)  # (m, k), sorted descending
        weights = ((similarity - similarity[:, :1]) / temperature).exp()
        votes = torch.zeros(queries.shape[0], classes, dtype=dtype, device=train.device)
        votes.scatter_add_(1, train_labels[index].long(), weights)
        correct += (votes.argmax(1) == test_labels[start : start + chunk]).sum()
    return int(correct) / test.shape[0]


def linear_probe_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int | None = None,
    epochs: int = 100,
    lr: float = 0.1,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    seed: int = 0,
) -> ProbeResult:
    """Accuracy of a linear classifier trained on frozen, standardised features.

    Protocol (fixed; these settings *are* the metric, so compare methods at the same settings
    and never tune them on the test labels -- tune on a validation split carved from the train
    features, if at all):

    1. Standardise every feature with the train mean and standard deviation
       (``(x - mu_train) / sigma_train``; a constant feature gets ``sigma = 1``). The test
       features use the train statistics.
    2. Fit ``logits = W x + b`` (``W`` and ``b`` start at zero) by minimising the mean
       cross-entropy with SGD, momentum 0.9, ``weight_decay`` on ``W`` and ``b``, for ``epochs``
       passes over the train set. ``batch_size >= N`` is full-batch gradient descent; otherwise
       each epoch visits the rows in a fresh permutation drawn from a CPU ``torch.Generator``
       seeded with ``seed`` (the last batch of an epoch may be smaller).
    3. The learning rate follows a cosine from ``lr`` at the first step to 0 after the last,
       stepped once per batch: ``lr_t = lr * (1 + cos(pi * t / steps)) / 2``.
    4. Report top-1 accuracy on the test and on the train features.

    Training runs on the features' device in float32 (float64 if an input is float64), with
    gradients enabled even inside ``torch.no_grad()``/``torch.inference_mode()``. The same
    inputs, settings and device give the same result.

    Args:
        train_features: ``(N, D)`` floating, finite.
        train_labels: ``(N,)`` integer class indices in ``[0, num_classes)``.
        test_features: ``(M, D)`` floating, finite, on the train features' device.
        test_labels: ``(M,)`` integer class indices.
        num_classes: number of classes ``K``; default: the largest label + 1.
        epochs: passes over the train features, >= 1.
        lr: peak learning rate of SGD, > 0.
        weight_decay: L2 coefficient of SGD, >= 0.
        batch_size: rows per SGD step, >= 1.
        seed: seed of the generator that shuffles the rows.

    Returns:
        :class:`ProbeResult` with test and train accuracy in [0, 1] (higher is better).

    Raises:
        InputValueError: empty or mismatched inputs, NaN/inf features, labels out of range, a
            non-positive ``epochs``, ``lr`` or ``batch_size``, a negative ``weight_decay``.
        InputTypeError: non-tensor inputs, integer features, floating labels, a non-int ``seed``.

    >>> train = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    >>> labels = torch.tensor([0, 1, 0, 1])
    >>> linear_probe_accuracy(train, labels, torch.tensor([[0.1, 0.8]]), torch.tensor([0]), epochs=10)
    ProbeResult(accuracy=1.0, train_accuracy=1.0)
    """
    who = "linear_probe_accuracy"
    _check_split(train_features, train_labels, "train_features", "train_labels", who)
    _check_split(test_features, test_labels, "test_features", "test_labels", who)
    _check_pair(train_features, test_features, "train_features", "test_features", who)
    _check_positive_int(epochs, "epochs", who, 100)
    _check_positive_float(lr, "lr", who, 0.1)
    _check_positive_int(batch_size, "batch_size", who, 256)
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float))
        or not math.isfinite(weight_decay)
        or weight_decay < 0
    ):
        raise InputValueError(f"{who}: weight_decay={weight_decay!r} must be a finite number >= 0, e.g. 0.0")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputTypeError(f"{who}: seed must be an int, got {type(seed).__name__}; e.g. seed=0")
    classes = _resolve_classes(num_classes, (train_labels, test_labels), who)

    dtype = _working_dtype(train_features, test_features)
    with torch.inference_mode(False), torch.enable_grad():
        train = train_features.detach().to(dtype).clone()
        test = test_features.detach().to(dtype).clone()
        train_targets = train_labels.detach().long().clone()
        test_targets = test_labels.detach().long().clone()
        mean = train.mean(0)
        std = train.std(0, unbiased=False)
        std = torch.where(std > 0, std, torch.ones_like(std))
        train = (train - mean) / std
        test = (test - mean) / std

        rows = train.shape[0]
        probe = nn.Linear(train.shape[1], classes, device=train.device, dtype=dtype)
        nn.init.zeros_(probe.weight)
        nn.init.zeros_(probe.bias)
        optimizer = torch.optim.SGD(probe.parameters(), lr=lr, momentum=0.9, weight_decay=float(weight_decay))
        steps_per_epoch = math.ceil(rows / batch_size)
        total_steps = epochs * steps_per_epoch
        generator = torch.Generator().manual_seed(seed)
        step = 0
        for _ in range(epochs):
            order = torch.randperm(rows, generator=generator).to(train.device) if steps_per_epoch > 1 else None
            for first in range(0, rows, batch_size):
                if order is None:
                    inputs, targets = train, train_targets
                else:
                    index = order[first : first + batch_size]
                    inputs, targets = train[index], train_targets[index]
                for group in optimizer.param_groups:
                    group["lr"] = lr * (1 + math.cos(math.pi * step / total_steps)) / 2
                loss = nnf.cross_entropy(probe(inputs), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1

        with torch.no_grad():
            test_correct = (probe(test).argmax(1) == test_targets).sum()
            train_correct = (probe(train).argmax(1) == train_targets).sum()
    return ProbeResult(accuracy=int(test_correct) / test.shape[0], train_accuracy=int(train_correct) / rows)
