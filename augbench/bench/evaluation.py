"""Evaluation of a trained run: accuracy, NLL, calibration, corruption and adversarial robustness."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from augbench.methods import Method, TrainContext
from augbench.metrics import ClassificationMetrics, adversarial_accuracy, corruption_accuracy

__all__ = ["evaluate", "ADVERSARIAL_EPSILON", "ROBUSTNESS_SUBSET"]

ADVERSARIAL_EPSILON = 8 / 255
"""L-infinity radius of FGSM and PGD-10 in [0, 1] pixel units (the usual CIFAR-10 budget)."""
ROBUSTNESS_SUBSET = 1000
"""Corruption and adversarial accuracy use the first (at most) this many evaluation images."""
_BATCH = 1000


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


@torch.no_grad()
def _classification(method: Method, ctx: TrainContext, images: Tensor, labels: Tensor) -> ClassificationMetrics:
    metrics = ClassificationMetrics()
    for start in range(0, images.shape[0], _BATCH):
        batch = images[start : start + _BATCH].to(ctx.device)
        metrics.update(method.predict(ctx.model, ctx.normalize(batch)), labels[start : start + _BATCH].to(ctx.device))
    return metrics


def evaluate(
    method: Method, ctx: TrainContext, images: Tensor, labels: Tensor, evaluations: tuple[str, ...], seed: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics (``accuracy``, ``nll``, ``ece`` and the asked-for robustness) and artifacts.

    Args:
        method: the trained method (its ``predict`` is used, so test-time augmentation counts).
        ctx: the training context (model, device, normalisation).
        images: ``(N, C, H, W)`` uint8 evaluation images.
        labels: ``(N,)`` int64.
        evaluations: any of ``"calibration"`` (reliability diagram artifact), ``"corruption"``
            (13 corruptions x 5 severities: ``corruption_accuracy`` and a per-severity artifact),
            ``"adversarial"`` (FGSM and PGD-10 at :data:`ADVERSARIAL_EPSILON`).
        seed: seeds the corruption noise and PGD's random start.

    Returns:
        ``(metrics, artifacts)``: fractions in [0, 1] for accuracies; JSON-ready artifacts.
    """
    was_training = ctx.model.training
    ctx.model.eval()
    try:
        scores = _classification(method, ctx, images, labels)
        metrics = scores.compute()
        artifacts: dict[str, Any] = {}
        if "calibration" in evaluations:
            diagram = scores.reliability_diagram()
            artifacts["reliability"] = {
                "confidence": [_json_number(v) for v in diagram.confidence.tolist()],
                "accuracy": [_json_number(v) for v in diagram.accuracy.tolist()],
                "count": diagram.count.tolist(),
            }
        subset_images, subset_labels = images[:ROBUSTNESS_SUBSET], labels[:ROBUSTNESS_SUBSET]
        if "corruption" in evaluations:
            generator = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                table = corruption_accuracy(
                    lambda batch: method.predict(ctx.model, ctx.normalize(batch)),
                    subset_images, subset_labels, generator=generator, device=ctx.device,
                )
            metrics["corruption_accuracy"] = table["mean"]
            by_name: dict[str, dict[str, float]] = {}
            for key, value in table.items():
                name, _, severity = key.partition("/")
                if severity.isdigit():
                    by_name.setdefault(name, {})[severity] = value
            artifacts["corruption"] = by_name
        if "adversarial" in evaluations:
            to_model = lambda batch: ctx.normalize(batch * 255)  # noqa: E731  (ctx.normalize divides by 255)
            for attack in ("fgsm", "pgd"):
                metrics[f"{attack}_accuracy"] = adversarial_accuracy(
                    ctx.model, subset_images, subset_labels, ADVERSARIAL_EPSILON, to_model, attack=attack,
                    generator=torch.Generator().manual_seed(seed), device=ctx.device,
                )
            artifacts["adversarial"] = {"epsilon": ADVERSARIAL_EPSILON, "pgd_steps": 10, "images": int(subset_labels.numel())}
        return metrics, artifacts
    finally:
        ctx.model.train(was_training)
