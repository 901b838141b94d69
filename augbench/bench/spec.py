"""The resolved spec of one run and its identity.

A :class:`RunSpec` holds every component as a resolved spec (``{type: NAME, **options}``
with every default filled in): dataset, model, method, optimiser, schedule, plus the data
spec, the seed and the evaluations. Its canonical JSON, without the label and the file
locations, is what the store keeps; its hash is the run key, so "the same run" means the
same resolved spec and a finished run is never trained twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from augbench.data import DATASETS
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError
from augbench.evaluation import EVALUATIONS
from augbench.methods.spec import resolve_method
from augbench.models import MODEL_CONTEXT, MODELS
from augbench.registry import Spec, canonical_json
from augbench.train.optim import OPTIMIZERS, SCHEDULES, build_optimizer, build_schedule

__all__ = ["RunSpec", "MODEL_CONTEXT", "DATASET_CONTEXT", "DEFAULT_OPTIMIZER", "DEFAULT_SCHEDULE", "CONVENTIONS",
           "resolve_component"]

CONVENTIONS = 2
"""The version of what specs mean, hashed into every run key and phase-cache key: bumped when a
spec keeps its text but changes its meaning, so no stored result or cached phase of the old
meaning is reused (2: policy strings such as ``rand-m9-n2`` take timm's meaning)."""

DATASET_CONTEXT = ("root", "split", "verify")
"""Dataset options that say where and how to read files, not what the data is."""
DEFAULT_OPTIMIZER: dict[str, Any] = {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}
DEFAULT_SCHEDULE: dict[str, Any] = {"type": "cosine"}


def resolve_component(kind: str, spec: Spec) -> dict[str, Any]:
    """The resolved spec of a dataset, model, optimiser or schedule."""
    registry, context = {
        "dataset": (DATASETS, DATASET_CONTEXT),
        "model": (MODELS, MODEL_CONTEXT),
        "optimizer": (OPTIMIZERS, ("params",)),
        "schedule": (SCHEDULES, ("optimizer", "total_steps")),
    }[kind]
    resolved = registry.resolve(spec, context=context)
    if kind in ("optimizer", "schedule"):  # values are checked when built: build once on a dummy
        parameter = torch.zeros(1, requires_grad=True)
        optimizer = build_optimizer(resolved if kind == "optimizer" else DEFAULT_OPTIMIZER, [parameter])
        if kind == "schedule":
            build_schedule(resolved, optimizer, 10)
    return resolved


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one run (build with :meth:`create`, which resolves the specs).

    Attributes:
        dataset: resolved dataset spec.
        model: resolved model spec.
        method: resolved method spec.
        label: the method's name in tables (``affine``, ``rand-m9-n2``); not part of the identity.
        seed: seeds the labeled subset, the initialisation, the batch orders and the keyed draws.
        data: how the pool splits into streams and evaluation splits.
        epochs: passes over the labeled stream (a method's phases may set their own).
        batch_size: labeled samples per optimiser step.
        optimizer, schedule: resolved specs (default SGD 0.05, momentum 0.9, wd 5e-4, cosine).
        evaluations: optional evaluations added to the ones the method declares.
        data_root: folder of the dataset's files (not part of the identity).
    """

    dataset: dict[str, Any]
    model: dict[str, Any]
    method: dict[str, Any]
    label: str
    seed: int
    data: DataSpec = field(default_factory=DataSpec)
    epochs: int = 60
    batch_size: int = 50
    optimizer: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_OPTIMIZER))
    schedule: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SCHEDULE))
    evaluations: tuple[str, ...] = ("calibration",)
    data_root: str | None = None

    @classmethod
    def create(
        cls,
        *,
        dataset: Spec,
        model: Spec,
        method: Spec,
        seed: int,
        label: str | None = None,
        data: DataSpec | None = None,
        epochs: int = 60,
        batch_size: int = 50,
        optimizer: Spec | None = None,
        schedule: Spec | None = None,
        evaluations: tuple[str, ...] = ("calibration",),
        data_root: str | None = None,
    ) -> RunSpec:
        """Resolve and validate every component; one line names the first bad key."""
        for evaluation in evaluations:
            EVALUATIONS.get(evaluation)
        for name, value in (("epochs", epochs), ("batch_size", batch_size), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "batch_size" else 0):
                raise ConfigError(f"run key {name!r}: expected a non-negative integer, got {value!r}")
        if label is None:
            label = method if isinstance(method, str) else str(method.get("type"))
        return cls(
            dataset=resolve_component("dataset", dataset),
            model=resolve_component("model", model),
            method=resolve_method(method),
            label=label,
            seed=seed,
            data=data or DataSpec(),
            epochs=epochs,
            batch_size=batch_size,
            optimizer=resolve_component("optimizer", optimizer or DEFAULT_OPTIMIZER),
            schedule=resolve_component("schedule", schedule or DEFAULT_SCHEDULE),
            evaluations=tuple(evaluations),
            data_root=data_root,
        )

    @property
    def dataset_name(self) -> str:
        return self.dataset["type"]

    @property
    def model_name(self) -> str:
        return self.model["type"]

    def identity(self) -> dict[str, Any]:
        """The JSON-ready spec that defines the run (no label, no file locations)."""
        return {
            "dataset": self.dataset,
            "model": self.model,
            "method": self.method,
            "seed": self.seed,
            "data": self.data.identity(),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "evaluations": list(self.evaluations),
        }

    @property
    def key(self) -> str:
        """The run key: a hash of the canonical JSON of :meth:`identity` and :data:`CONVENTIONS`."""
        return hashlib.sha256(canonical_json({**self.identity(), "conventions": CONVENTIONS}).encode()).hexdigest()[:20]

    def to_dict(self) -> dict[str, Any]:
        """The identity plus label and data root (what the store keeps as the run's spec)."""
        return {**self.identity(), "label": self.label, "data_root": self.data_root}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict`; also reads the flat run configs of store schema v2."""
        if "label" not in data:
            return _from_v2(data)
        values = dict(data)
        values["data"] = DataSpec.from_dict(values["data"])
        values["evaluations"] = tuple(values.get("evaluations", ()))
        return cls(**values)

    def with_seed(self, seed: int) -> RunSpec:
        return replace(self, seed=seed)


def _from_v2(data: dict[str, Any]) -> RunSpec:
    """A v2 ``RunConfig`` dict (flat keys, method as a recipe name) as a :class:`RunSpec`.

    The spec is rebuilt without re-resolving against today's registries, so an old run whose
    method or model no longer exists still reads back (its key stays the stored one).
    """
    optimizer = {"type": "sgd", "lr": data.get("lr", 0.05), "momentum": data.get("momentum", 0.9),
                 "weight_decay": data.get("weight_decay", 5e-4)}
    return RunSpec(
        dataset={"type": data.get("dataset", "digits")},
        model={"type": data.get("model", "harness_cnn")},
        method={"type": "v2_recipe", "recipe": data.get("method", "baseline")},
        label=data.get("method", "baseline"),
        seed=int(data.get("seed", 0)),
        data=DataSpec(train_size=data.get("train_size", 500), val_size=data.get("val_size", 0),
                      test_size=data.get("test_size")),
        epochs=int(data.get("epochs", 60)),
        batch_size=int(data.get("batch_size", 50)),
        optimizer=optimizer,
        schedule={"type": "cosine"},
        evaluations=tuple(data.get("evaluations", ())),
        data_root=data.get("data_root"),
    )
