"""The model registry."""

from __future__ import annotations

from torch import nn

from augbench.modalities import get_modality
from augbench.registry import Registry, Spec

__all__ = ["MODELS", "MODEL_CONTEXT", "build_model"]

MODELS: Registry[nn.Module] = Registry("model")
MODEL_CONTEXT = ("in_channels", "num_classes", "image_size", "input_shape", "length", "vocab_size")
"""What a model factory may take from the data (never set in a spec)."""


def build_model(
    spec: Spec, *, num_classes: int, input_shape: tuple[int, ...], modality: str = "image", vocab_size: int | None = None
) -> nn.Module:
    """Build a model spec for samples of ``input_shape`` in ``modality`` and ``num_classes``: the
    modality says which shape arguments a factory may take (``in_channels``, ``image_size``,
    ``length``, ``input_shape``); token datasets add ``vocab_size``."""
    context = {"num_classes": num_classes, **get_modality(modality).model_shape(tuple(input_shape))}
    if vocab_size is not None:
        context["vocab_size"] = vocab_size
    return MODELS.build(spec, context=context)
