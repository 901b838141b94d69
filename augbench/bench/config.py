"""The resolved configuration of one training run and its identity."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RunConfig"]


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one run. Defaults are the cards' small-scale harness.

    Attributes:
        dataset: registered dataset name.
        train_size: size of the stratified training subset; the rest is the test set.
        model: registered model name.
        method: a recipe name or policy string (see :mod:`augbench.bench.recipes`), ``"baseline"`` for none.
        seed: seeds the split, the initialisation, the batch order and the augmentation.
        epochs: passes over the training subset.
        batch_size: samples per optimiser step.
        lr: initial SGD learning rate, decayed by a cosine schedule to 0.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
    """

    dataset: str = "digits"
    train_size: int = 500
    model: str = "harness_cnn"
    method: str = "baseline"
    seed: int = 0
    epochs: int = 60
    batch_size: int = 50
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict."""
        return asdict(self)

    @property
    def key(self) -> str:
        """A stable identity: the hash of the resolved config. Equal configs share a key."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]
