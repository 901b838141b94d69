"""One-class anomaly detection: AUROC of "not the inlier class" on splits that keep every class."""

from __future__ import annotations

import torch

from augbench.errors import ConfigError
from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult, batches, features
from augbench.metrics.anomaly import nearest_cosine_score
from augbench.metrics.ranking import auroc

__all__ = ["one_class_scores"]


@torch.no_grad()
def one_class_scores(ctx: EvalContext, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(method score, feature score)`` of every sample of ``split``, each ``(N,)`` float.

    The method score is its ``anomaly_score(model, inputs, normalize)`` when it has one, else
    the feature score: :func:`~augbench.metrics.anomaly.nearest_cosine_score` of the encoder's
    features (``forward_features``, flattened) against the features of the unaugmented
    ``labeled`` stream, which holds only the inlier class.
    """
    inputs = ctx.split(split, "one_class_auroc").inputs
    key = "one_class/labeled_features"
    if key not in ctx.cache:
        ctx.cache[key] = features(ctx.model, ctx.split("labeled", "one_class_auroc").inputs, ctx.normalize, ctx.device)
    feature_score = nearest_cosine_score(features(ctx.model, inputs, ctx.normalize, ctx.device), ctx.cache[key])
    score = getattr(ctx.method, "anomaly_score", None)
    if score is None:
        return feature_score, feature_score
    method_score = torch.cat([score(ctx.model, chunk, ctx.normalize).float() for chunk in batches(inputs, ctx.device)])
    return method_score, feature_score


@EVALUATIONS.register("one_class_auroc")
def one_class_auroc(ctx: EvalContext) -> EvalResult:
    """``test_one_class_auroc``: how well the method's anomaly score ranks the test samples of
    other classes above those of the inlier class (``data.inlier_class``); the score is the
    method's ``anomaly_score`` or, without one, the feature score of :func:`one_class_scores`.
    ``test_one_class_knn_auroc``: the same with the feature score for every method (the
    SimCLR-feature kNN control's formula). ``val_*`` twins with a ``val`` split (for choosing
    settings without the test split)."""
    inlier = ctx.data.inlier_class
    if inlier is None:
        raise ConfigError(
            "evaluation 'one_class_auroc' needs the one-class protocol; set inlier_class: K "
            "(or the experiment's inlier_classes: [...]) in the data spec"
        )
    metrics: dict[str, float] = {}
    for split in ("val", "test"):
        if split != "test" and split not in ctx.data.evals:
            continue
        is_anomaly = ctx.split(split, "one_class_auroc").labels.to(ctx.device) != inlier
        if bool(is_anomaly.all()) or not bool(is_anomaly.any()):
            raise ConfigError(
                f"evaluation 'one_class_auroc': the {split} split needs samples of class {inlier} and of other "
                "classes; give it more samples (test_size, val_size)"
            )
        method_score, feature_score = one_class_scores(ctx, split)
        metrics[f"{split}_one_class_auroc"] = auroc(method_score.to(ctx.device), is_anomaly)
        metrics[f"{split}_one_class_knn_auroc"] = auroc(feature_score.to(ctx.device), is_anomaly)
    return metrics, {}
