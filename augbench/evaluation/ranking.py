"""Next-item ranking evaluation of item-sequence datasets: HR@10 and NDCG@10 over every item."""

from __future__ import annotations

import torch

from augbench.errors import ConfigError
from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult, predict_logits
from augbench.functional.sequence import FIRST_ITEM_ID
from augbench.metrics.ranking import hit_rate_at_k, ndcg_at_k, target_ranks

__all__ = ["RANKING_K"]

RANKING_K = 10
"""The cut-off of HR@k and NDCG@k."""


@EVALUATIONS.register("ranking")
def ranking(ctx: EvalContext) -> EvalResult:
    """``test_hr@10`` and ``test_ndcg@10``: the test target ranked among **all** items by the
    method's ``predict`` logits (no sampled negatives).

    Candidates are the item ids (``>= 2``; padding and the mask id are never candidates) minus
    the items already in the query's history, as in the full-ranking evaluation of CoSeRec and
    ICLRec; the history is the model's input window (``L`` most recent items), so an item seen
    before that window stays a candidate. Ties count against the target (see
    :func:`~augbench.metrics.ranking.target_ranks`).
    """
    if ctx.data.modality != "sequence":
        raise ConfigError(f"evaluation 'ranking' is defined for item sequences, this run's data is {ctx.data.modality}")
    test = ctx.split("test", "ranking")
    logits = predict_logits(ctx, test.inputs).float()
    inputs = test.inputs.to(logits.device)
    excluded = torch.zeros_like(logits, dtype=torch.bool)
    excluded[:, :FIRST_ITEM_ID] = True
    excluded.scatter_(1, torch.where(inputs < logits.shape[1], inputs, 0), True)  # column 0 is padding
    ranks = target_ranks(logits, test.labels.to(logits.device), excluded)
    return {f"test_hr@{RANKING_K}": hit_rate_at_k(ranks, RANKING_K), f"test_ndcg@{RANKING_K}": ndcg_at_k(ranks, RANKING_K)}, {}
