"""Continual-learning evaluations from a method's task-accuracy matrix."""

from __future__ import annotations

import torch

from augbench.errors import ConfigError
from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult
from augbench.metrics.continual import average_accuracy as average_accuracy_score
from augbench.metrics.continual import forgetting as forgetting_score


def _matrix(ctx: EvalContext, evaluation: str) -> torch.Tensor:
    matrix = getattr(ctx.method, "task_accuracies", None)
    if matrix is None:
        raise ConfigError(
            f"evaluation {evaluation!r} needs a continual method that records task_accuracies "
            f"(a (T, T) accuracy matrix); {type(ctx.method).__name__} trains one task"
        )
    return torch.as_tensor(matrix, dtype=torch.float64)


@EVALUATIONS.register("average_accuracy")
def average_accuracy(ctx: EvalContext) -> EvalResult:
    """``average_accuracy``: mean accuracy over all tasks after the last one; artifact ``task_accuracies``."""
    matrix = _matrix(ctx, "average_accuracy")
    return {"average_accuracy": average_accuracy_score(matrix)}, {"task_accuracies": matrix.tolist()}


@EVALUATIONS.register("forgetting")
def forgetting(ctx: EvalContext) -> EvalResult:
    """``forgetting``: mean drop from each earlier task's best accuracy to its final accuracy."""
    return {"forgetting": forgetting_score(_matrix(ctx, "forgetting"))}, {}
