"""Continual-learning summaries of an accuracy matrix: average accuracy and forgetting.

The matrix ``R`` is ``(T, T)``: ``R[i, j]`` is the accuracy on task ``j``'s test set after
training on tasks ``0..i`` (row ``i`` is the evaluation after task ``i``; entries with
``j > i`` are tasks not yet seen, they enter neither summary except through the maximum in
:func:`forgetting`, as in the definition). Definitions of Chaudhry et al., "Riemannian Walk for
Incremental Learning" (ECCV 2018), also used by GEM (Lopez-Paz & Ranzato, NeurIPS 2017), with
0-based tasks:

- average accuracy ``A = (1 / T) sum_{j=0}^{T-1} R[T-1, j]``;
- forgetting ``F = (1 / (T - 1)) sum_{j=0}^{T-2} (max_{i in 0..T-2} R[i, j] - R[T-1, j])``,
  0 when ``T = 1``.

Both are in the unit of ``R`` (fractions in [0, 1] or percentages).
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = ["average_accuracy", "forgetting"]


def _check_matrix(matrix: Tensor, who: str) -> Tensor:
    """A finite floating ``(T, T)`` matrix with ``T >= 1``, returned as float64."""
    if not isinstance(matrix, Tensor):
        raise InputTypeError(f"{who}: matrix must be a tensor, got {type(matrix).__name__}; use torch.as_tensor")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise InputValueError(
            f"{who}: matrix must be (T, T) with T >= 1 (row i: accuracies after training on task i), "
            f"got shape {tuple(matrix.shape)}"
        )
    if not matrix.is_floating_point():
        raise InputTypeError(f"{who}: matrix must be floating, got {matrix.dtype}; use matrix.double()")
    if not bool(torch.isfinite(matrix).all()):
        raise InputValueError(
            f"{who}: matrix contains NaN or inf; evaluate every task after every training stage"
        )
    return matrix.double()


def average_accuracy(matrix: Tensor) -> float:
    """Mean accuracy over all ``T`` tasks after training on the last one.

    ``A = (1 / T) sum_{j=0}^{T-1} R[T-1, j]`` (Chaudhry et al. 2018; GEM's ACC).

    Args:
        matrix: ``(T, T)`` floating, finite; ``R[i, j]`` = accuracy on task ``j`` after task ``i``.

    Returns:
        ``A`` in the unit of ``R`` ([0, 1] for fractions; higher is better).

    Raises:
        InputValueError: a non-square or empty matrix, NaN/inf entries.
        InputTypeError: a non-tensor or integer matrix.

    >>> R = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.9, 0.1], [0.7, 0.8, 0.95]])
    >>> round(average_accuracy(R), 6)
    0.816667
    """
    return float(_check_matrix(matrix, "average_accuracy")[-1].mean())


def forgetting(matrix: Tensor) -> float:
    """Mean drop from each earlier task's best accuracy to its final accuracy.

    ``F = (1 / (T - 1)) sum_{j=0}^{T-2} (max_{i in 0..T-2} R[i, j] - R[T-1, j])`` (Chaudhry et
    al. 2018). The last task is left out (it cannot have been forgotten yet) and ``F = 0`` for
    ``T = 1``. The maximum runs over all rows before the last, as in the paper, so it includes
    rows ``i < j`` taken before task ``j`` was learnt (usually near chance, rarely the maximum).
    Not clipped: a negative value means the final model is better on old tasks than at any
    earlier stage (backward transfer).

    Args:
        matrix: ``(T, T)`` floating, finite; ``R[i, j]`` = accuracy on task ``j`` after task ``i``.

    Returns:
        ``F`` in the unit of ``R`` (in [-1, 1] for fractions; lower is better).

    Raises:
        InputValueError: a non-square or empty matrix, NaN/inf entries.
        InputTypeError: a non-tensor or integer matrix.

    >>> R = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.9, 0.1], [0.7, 0.8, 0.95]])
    >>> round(forgetting(R), 6)  # task 0: 0.9 - 0.7, task 1: 0.9 - 0.8
    0.15
    >>> forgetting(torch.tensor([[0.8]]))
    0.0
    """
    accuracies = _check_matrix(matrix, "forgetting")
    tasks = accuracies.shape[0]
    if tasks == 1:
        return 0.0
    best = accuracies[:-1, :-1].max(0).values
    return float((best - accuracies[-1, :-1]).mean())
