"""The model registry."""

from __future__ import annotations

from torch import nn

from augbench.registry import Registry

__all__ = ["MODELS", "MODEL_CONTEXT", "build_model"]

MODELS: Registry[nn.Module] = Registry("model")
MODEL_CONTEXT = ("in_channels", "num_classes", "image_size", "input_shape", "length")
"""What a model factory may take from the data (never set in a spec)."""


def build_model(name: str, *, in_channels: int, num_classes: int, image_size: tuple[int, int]) -> nn.Module:
    """Build a registered model for images of ``in_channels`` x ``image_size`` and ``num_classes``."""
    return MODELS.build(name, in_channels=in_channels, num_classes=num_classes, image_size=image_size)
