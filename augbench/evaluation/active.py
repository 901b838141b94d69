"""Active-learning evaluation: the per-round record of an active-learning method, summarised."""

from __future__ import annotations

import math

from augbench.errors import ConfigError
from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult


def _values(values: list[float]) -> list[float | None]:
    return [None if math.isnan(value) else value for value in values]


@EVALUATIONS.register("active_learning")
def active_learning(ctx: EvalContext) -> EvalResult:
    """``inlier_accuracy`` (after the last round), ``inlier_accuracy_mean`` (over all rounds),
    ``queried_inlier_rate`` and ``pool_inlier_rate`` (mean over the query rounds: the inlier
    share of the queried samples, and of the pool they were queried from); artifact
    ``active_learning`` with the per-round lists. Reads the method's ``active_record``
    (``ssal_ensembles``), which the protocol fills and the phase cache keeps."""
    record = getattr(ctx.method, "active_record", None)
    if record is None:
        raise ConfigError(
            f"evaluation 'active_learning' needs an active-learning method that keeps an active_record "
            f"(e.g. ssal_ensembles); {type(ctx.method).__name__} has none"
        )
    accuracy = record.inlier_accuracy.double()
    queried, pool = record.queried_inlier_rate.double(), record.pool_inlier_rate.double()
    metrics = {
        "inlier_accuracy": float(accuracy[-1]),
        "inlier_accuracy_mean": float(accuracy.mean()),
        "queried_inlier_rate": float(queried.mean()),
        "pool_inlier_rate": float(pool.mean()),
    }
    rounds = {"inlier_accuracy": _values(accuracy.tolist()), "queried_inlier_rate": _values(queried.tolist()),
              "pool_inlier_rate": _values(pool.tolist())}
    return metrics, {"active_learning": rounds}
