"""The resolved configuration of one training run and its identity."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["RunConfig", "EVALUATIONS"]

EVALUATIONS = ("calibration", "corruption", "adversarial")
"""Optional evaluations beyond accuracy/NLL and cost (which every run reports)."""

_NOT_IDENTITY = {"data_root"}  # where the files live does not change what the run is


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one run. Defaults are the cards' small-scale harness.

    Attributes:
        dataset: registered dataset name.
        model: registered model name.
        method: a recipe name or policy string (see :mod:`augbench.bench.recipes`), ``"baseline"`` for none.
        seed: seeds the training subset, the initialisation, the batch order and the augmentation.
        train_size: size of the stratified training subset of the training pool.
        val_size: size of a fixed (seed-independent) stratified validation split held out of the
            training pool first; 0 for none.
        test_size: evaluate on a fixed stratified subset of this size of the test split; ``None``
            for all of it. Datasets without a test split (digits) test on the pool's remainder.
        epochs: passes over the training subset.
        batch_size: samples per optimiser step.
        lr: initial SGD learning rate, decayed by a cosine schedule to 0.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        evaluations: optional evaluations from :data:`EVALUATIONS`.
        data_root: folder of the dataset's files (not part of the run's identity).
    """

    dataset: str = "digits"
    model: str = "harness_cnn"
    method: str = "baseline"
    seed: int = 0
    train_size: int = 500
    val_size: int = 0
    test_size: int | None = None
    epochs: int = 60
    batch_size: int = 50
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    evaluations: tuple[str, ...] = ("calibration",)
    data_root: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict."""
        data = asdict(self)
        data["evaluations"] = list(self.evaluations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "evaluations" in values:
            values["evaluations"] = tuple(values["evaluations"])
        return cls(**values)

    @property
    def key(self) -> str:
        """A stable identity: the hash of the resolved config. Equal configs share a key."""
        identity = {k: v for k, v in self.to_dict().items() if k not in _NOT_IDENTITY}
        text = json.dumps(identity, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]
