"""Classification evaluations: accuracy/NLL/ECE, calibration, corruption, adversarial, target domain."""

from __future__ import annotations

import math

import torch

from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult, batches
from augbench.errors import ConfigError
from augbench.metrics import ClassificationMetrics, adversarial_accuracy, corruption_accuracy

__all__ = ["ADVERSARIAL_EPSILON", "ROBUSTNESS_SUBSET"]

ADVERSARIAL_EPSILON = 8 / 255
"""L-infinity radius of FGSM and PGD-10 in [0, 1] pixel units (the usual CIFAR-10 budget)."""
ROBUSTNESS_SUBSET = 1000
"""Corruption and adversarial accuracy use the first (at most) this many test samples."""


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


@torch.no_grad()
def _scores(ctx: EvalContext, split: str, evaluation: str) -> ClassificationMetrics:
    key = f"scores/{split}"
    if key not in ctx.cache:
        data = ctx.split(split, evaluation)
        scores = ClassificationMetrics()
        for chunk, labels in zip(batches(data.inputs, ctx.device), batches(data.labels, ctx.device)):
            scores.update(ctx.method.predict(ctx.model, chunk, ctx.normalize), labels)
        ctx.cache[key] = scores
    return ctx.cache[key]


def _require_images(ctx: EvalContext, evaluation: str) -> None:
    if ctx.data.modality != "image":
        raise ConfigError(f"evaluation {evaluation!r} is defined for images, this run's data is {ctx.data.modality}")


@EVALUATIONS.register("accuracy")
def accuracy(ctx: EvalContext) -> EvalResult:
    """``test_accuracy``, ``test_nll``, ``test_ece`` (and ``val_*`` when there is a validation split)."""
    metrics = {f"test_{name}": value for name, value in _scores(ctx, "test", "accuracy").compute().items()}
    if "val" in ctx.data.evals:
        metrics.update({f"val_{name}": value for name, value in _scores(ctx, "val", "accuracy").compute().items()})
    return metrics, {}


@EVALUATIONS.register("calibration")
def calibration(ctx: EvalContext) -> EvalResult:
    """``test_ece`` and the 15-bin reliability diagram of the test split (artifact ``reliability``)."""
    scores = _scores(ctx, "test", "calibration")
    diagram = scores.reliability_diagram()
    reliability = {
        "confidence": [_json_number(v) for v in diagram.confidence.tolist()],
        "accuracy": [_json_number(v) for v in diagram.accuracy.tolist()],
        "count": diagram.count.tolist(),
    }
    return {"test_ece": scores.compute()["ece"]}, {"reliability": reliability}


@EVALUATIONS.register("corruption")
def corruption(ctx: EvalContext) -> EvalResult:
    """``test_corruption_accuracy``: mean over 13 corruptions x 5 severities of the first 1,000
    test images, through the method's ``predict`` (so TTA counts); artifact ``corruption``."""
    _require_images(ctx, "corruption")
    test = ctx.split("test", "corruption")
    with torch.no_grad():
        table = corruption_accuracy(
            lambda batch: ctx.method.predict(ctx.model, batch, ctx.normalize),
            test.inputs[:ROBUSTNESS_SUBSET], test.labels[:ROBUSTNESS_SUBSET],
            generator=torch.Generator().manual_seed(ctx.seed), device=ctx.device,
        )
    by_name: dict[str, dict[str, float]] = {}
    for key, value in table.items():
        name, _, severity = key.partition("/")
        if severity.isdigit():
            by_name.setdefault(name, {})[severity] = value
    return {"test_corruption_accuracy": table["mean"]}, {"corruption": by_name}


@EVALUATIONS.register("adversarial")
def adversarial(ctx: EvalContext) -> EvalResult:
    """``test_fgsm_accuracy`` and ``test_pgd_accuracy`` (PGD-10) at 8/255 on the plain model
    (white-box attacks bypass ``predict``: TTA is not attacked through)."""
    _require_images(ctx, "adversarial")
    test = ctx.split("test", "adversarial")
    images, labels = test.inputs[:ROBUSTNESS_SUBSET], test.labels[:ROBUSTNESS_SUBSET]
    to_model = lambda batch: ctx.normalize(batch * 255)  # noqa: E731  (the normaliser divides by 255)
    metrics = {
        f"test_{attack}_accuracy": adversarial_accuracy(
            ctx.model, images, labels, ADVERSARIAL_EPSILON, to_model, attack=attack,
            generator=torch.Generator().manual_seed(ctx.seed), device=ctx.device,
        )
        for attack in ("fgsm", "pgd")
    }
    return metrics, {"adversarial": {"epsilon": ADVERSARIAL_EPSILON, "pgd_steps": 10, "images": int(labels.numel())}}


@EVALUATIONS.register("target_accuracy")
def target_accuracy(ctx: EvalContext) -> EvalResult:
    """``target_accuracy`` and ``target_nll``: the target domain's test split (domain adaptation)."""
    found = _scores(ctx, "target_test", "target_accuracy").compute()
    return {"target_accuracy": found["accuracy"], "target_nll": found["nll"]}, {}
