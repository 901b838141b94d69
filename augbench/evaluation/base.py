"""The evaluation registry, the context an evaluation sees, and shared helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from augbench.data.streams import RunData, Split
from augbench.errors import ConfigError
from augbench.methods.base import Method
from augbench.registry import Registry

__all__ = ["EvalContext", "EvalResult", "EVALUATIONS", "evaluate_all", "features", "batches", "predict_logits"]

EvalResult = tuple[dict[str, float], dict[str, Any]]
"""``(metrics, artifacts)``: stable metric names -> floats, JSON-ready artifacts."""

EVAL_BATCH = 1000
"""Samples per forward pass during evaluation."""


@dataclass
class EvalContext:
    """What an evaluation may read.

    Attributes:
        method: the trained method (its ``predict`` counts: test-time augmentation is evaluated).
        model: the model to evaluate (``method.eval_model`` of the last phase's model), in eval mode.
        models: every phase's trained model by phase name.
        data: the run's streams and evaluation splits.
        normalize: maps a stored batch to the model input.
        device: evaluation device.
        seed: the run's seed (corruption noise, PGD starts, probe initialisation).
    """

    method: Method
    model: nn.Module
    models: dict[str, nn.Module]
    data: RunData
    normalize: Callable[[Tensor], Tensor]
    device: torch.device
    seed: int
    cache: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str, evaluation: str) -> Split:
        """The evaluation split ``name``; one line when the data spec has none."""
        if name in self.data.evals:
            return self.data.evals[name]
        if name in self.data.streams:
            return self.data.streams[name]
        raise ConfigError(
            f"evaluation {evaluation!r} needs a {name!r} split, which this run's data spec does not provide"
            + ("; add target: {dataset: ...} to the data spec" if name.startswith("target") else "")
        )


EVALUATIONS: Registry[EvalResult] = Registry("evaluation")


def batches(inputs: Tensor, device: torch.device, size: int = EVAL_BATCH) -> Iterator[Tensor]:
    """Chunks of ``inputs`` moved to ``device``."""
    for start in range(0, inputs.shape[0], size):
        yield inputs[start : start + size].to(device)


@torch.no_grad()
def predict_logits(ctx: EvalContext, inputs: Tensor) -> Tensor:
    """``(N, K)`` logits of the method's ``predict`` over ``inputs``, on ``ctx.device``."""
    return torch.cat([ctx.method.predict(ctx.model, chunk, ctx.normalize) for chunk in batches(inputs, ctx.device)])


@torch.no_grad()
def features(model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor], device: torch.device) -> Tensor:
    """``(N, D)`` float embeddings: ``model.forward_features`` flattened (the encoder before the head).

    Raises:
        ConfigError: the model has no ``forward_features``.
    """
    if not hasattr(model, "forward_features"):
        raise ConfigError(
            f"{type(model).__name__} has no forward_features(); representation evaluations need an encoder "
            "(use a StagedModel such as harness_cnn, lenet, preact_resnet18, timeseries_cnn)"
        )
    return torch.cat([model.forward_features(normalize(chunk)).flatten(1) for chunk in batches(inputs, device)])


def evaluate_all(names: Iterable[str], ctx: EvalContext) -> EvalResult:
    """Run the evaluations ``names`` in order (each once) and merge their metrics and artifacts."""
    metrics: dict[str, float] = {}
    artifacts: dict[str, Any] = {}
    was_training = ctx.model.training
    ctx.model.eval()
    try:
        for name in dict.fromkeys(names):
            found, extra = EVALUATIONS.get(name)(ctx)
            metrics.update(found)
            artifacts.update(extra)
    finally:
        ctx.model.train(was_training)
    return metrics, artifacts
