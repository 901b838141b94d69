"""Heads that self-supervised methods put on an encoder's features, and the encoder's feature width."""

from __future__ import annotations

import torch
from torch import nn

from augbench.errors import ConfigError

__all__ = ["encoder_width", "projection_head"]


def encoder_width(model: nn.Module, input_shape: tuple[int, ...], device: torch.device, who: str) -> int:
    """Width ``D`` of ``model.forward_features(x).flatten(1)`` (the encoder before its head), probed
    with a batch of two zero samples in eval mode, so batch-norm statistics do not move.

    Raises:
        ConfigError: the model has no ``forward_features`` (one line naming encoder models).
    """
    if not callable(getattr(model, "forward_features", None)):
        raise ConfigError(
            f"{who}: {type(model).__name__} has no forward_features(); use an encoder model "
            "(convnet, harness_cnn, lenet, preact_resnet18)"
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model.forward_features(torch.zeros(2, *input_shape, device=device)).flatten(1).shape[1]
    finally:
        model.train(was_training)


def projection_head(width: int, hidden: int, out: int) -> nn.Sequential:
    """SimCLR's projection head ``g``: ``Linear(width, hidden, bias=False) - BatchNorm1d - ReLU -
    Linear(hidden, out)`` (Chen et al. 2020), shared by SimCLR, SwAV and UniCon-HA.

    Build it under the caller's seeded RNG: the layers are created (and initialised) in this order.

    Shape:
        ``(B, width)`` float -> ``(B, out)``.
    """
    return nn.Sequential(
        nn.Linear(width, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, out),
    )
