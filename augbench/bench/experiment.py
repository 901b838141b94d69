"""Experiments: a YAML file of datasets x models x methods x seeds, validated and expanded to runs.

Example (``configs/semi_digits.yaml``)::

    name: semi_digits
    datasets: [digits]                  # names or specs {type: digits, ...}
    models: [harness_cnn]               # optional: the dataset's default model
    methods: [baseline, fixmatch]       # presets, registered methods, specs or policy strings
    seeds: 3                            # a count (0, 1, 2) or a list
    epochs: 60
    labeled_per_class: 5                # data spec: train_size | labeled_per_class, val_size,
    unlabeled: rest                     #   test_size, unlabeled, ratio, target,
                                        #   train_classes + test_classes (disjoint),
                                        #   inlier_class (one-class anomaly detection)
    inlier_classes: [0, 1, 2]           # one-class runs: one per inlier class (x seeds)
    ratio: 7
    optimizer: {type: sgd, lr: 0.03}    # specs; lr/momentum/weight_decay set SGD's options
    evaluations: [calibration]          # optional evaluations beyond the methods' own
    metric: test_accuracy               # the metric of the printed table

A method entry may be a mapping with a ``label`` (its name in tables) and the spec:
``{label: fixmatch-t0.8, type: fixmatch, threshold: 0.8}``. Files are read with
``yaml.safe_load`` only; an unknown key, a wrong type or an unknown dataset, model, method,
option or evaluation fails with one line naming the key, before anything trains. Relative
``data_root`` paths are resolved against the config file's folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from augbench.bench.spec import DEFAULT_OPTIMIZER, RunSpec
from augbench.data.streams import DataSpec, parse_target
from augbench.errors import ConfigError
from augbench.methods.base import METHODS
from augbench.methods.spec import expand_method
from augbench.registry import Spec, spec_type
from augbench.train.loop import check_streams

__all__ = [
    "Experiment", "MethodEntry", "DEFAULT_MODELS", "DATA_KEYS", "load_experiment", "parse_experiment", "parse_methods",
    "check_experiment",
]

DEFAULT_MODELS = {
    "digits": "harness_cnn",
    "mnist": "lenet",
    "fashion_mnist": "lenet",
    "cifar10": "preact_resnet18",
    "image_folder": "auto",
    "gunpoint": "timeseries_cnn",
    "arrowhead": "timeseries_cnn",
    "italy_power_demand": "timeseries_cnn",
    "basic_motions": "timeseries_cnn",
    "japanese_vowels": "timeseries_cnn",
    "modelnet10": "pointnet",
    "msr_action3d": "skeleton_gru", "utkinect": "skeleton_gru",
    "movielens_100k": "sasrec",
    "sst2": "text_cnn",
    "fsdd": "speech_cnn", "fsdd_logmel": "speech_cnn",
}
"""The model a dataset gets when an experiment names none (``auto`` for any other dataset: a
model sized to its input, :func:`augbench.models.auto_model`)."""

DATA_KEYS = ("train_size", "labeled_per_class", "val_size", "test_size", "unlabeled", "ratio", "target",
             "train_classes", "test_classes", "inlier_class")
"""Experiment keys that make up the data spec."""
_RUN_KEYS = ("epochs", "batch_size")
_SGD_KEYS = ("lr", "momentum", "weight_decay")
_KEYS = {"name", "datasets", "models", "methods", "seeds", "evaluations", "data_root", "optimizer", "schedule",
         "metric", "inlier_classes", *DATA_KEYS, *_RUN_KEYS, *_SGD_KEYS}


@dataclass(frozen=True)
class MethodEntry:
    """A method of an experiment: its label in tables and its spec."""

    label: str
    spec: Spec


@dataclass(frozen=True)
class Experiment:
    """A validated experiment; :meth:`runs` expands it into one :class:`RunSpec` per run."""

    name: str
    datasets: tuple[Spec, ...]
    models: tuple[Spec, ...] | None
    methods: tuple[MethodEntry, ...]
    seeds: tuple[int, ...]
    data: DataSpec = DataSpec()
    epochs: int = 60
    batch_size: int = 50
    optimizer: Spec = field(default_factory=lambda: dict(DEFAULT_OPTIMIZER))
    schedule: Spec = "cosine"
    evaluations: tuple[str, ...] = ("calibration",)
    data_root: str | None = None
    metric: str = "test_accuracy"
    inlier_classes: tuple[int, ...] = ()
    """The one-class protocol over several classes: every run is repeated with
    ``data.inlier_class`` set to each of them (the summary averages a seed's classes)."""

    def runs(self) -> list[RunSpec]:
        """dataset x model x method x seed (x inlier class), in that nesting order (specs
        resolved and checked)."""
        datas = [replace(self.data, inlier_class=k) for k in self.inlier_classes] or [self.data]
        runs = []
        for dataset in self.datasets:
            models = self.models or (DEFAULT_MODELS.get(spec_type(dataset, "dataset"), "auto"),)
            for model in models:
                for method in self.methods:
                    for seed in self.seeds:
                        for data in datas:
                            runs.append(RunSpec.create(
                                dataset=dataset, model=model, method=method.spec, label=method.label, seed=seed,
                                data=data, epochs=self.epochs, batch_size=self.batch_size,
                                optimizer=self.optimizer, schedule=self.schedule, evaluations=self.evaluations,
                                data_root=self.data_root,
                            ))
        return runs


def _specs(key: str, value: Any) -> tuple[Spec, ...]:
    if isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, Mapping)) for v in value):
        raise ConfigError(f"experiment key {key!r}: expected a name, a spec or a non-empty list of them, got {value!r}")
    for entry in value:
        spec_type(entry, key.rstrip("s"))
    return tuple(value)


def parse_methods(value: Any) -> tuple[MethodEntry, ...]:
    """Method entries (names, specs or ``{label: ..., **spec}``) with unique labels, each checked."""
    entries = []
    for entry in _specs("methods", value):
        if isinstance(entry, Mapping):
            spec = {k: v for k, v in entry.items() if k != "label"}
            label = entry.get("label", spec_type(spec, "method"))
            if not isinstance(label, str):
                raise ConfigError(f"experiment key 'methods': label must be a string, got {label!r}")
        else:
            spec, label = entry, entry
        expand_method(spec)  # unknown names fail here, before any training
        entries.append(MethodEntry(label, spec))
    labels = [entry.label for entry in entries]
    duplicate = next((label for label in labels if labels.count(label) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"experiment key 'methods': label {duplicate!r} appears twice; give each entry its own label")
    return tuple(entries)


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise ConfigError(f"experiment key 'seeds': expected a count >= 1 or a list of ints, got {value!r}")


def _inlier_classes(data: Mapping[str, Any]) -> tuple[int, ...]:
    """The experiment's ``inlier_classes`` (distinct class indices >= 0), or ``()`` without it."""
    value = data.get("inlier_classes")
    if value is None:
        return ()
    if not isinstance(value, list) or not value or len(set(value)) != len(value) or not all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in value
    ):
        raise ConfigError(f"experiment key 'inlier_classes': expected a non-empty list of distinct class indices >= 0, "
                          f"got {value!r}")
    if data.get("inlier_class") is not None:
        raise ConfigError("experiment keys 'inlier_class' and 'inlier_classes' conflict; give the list only")
    return tuple(value)


def _data_spec(data: Mapping[str, Any], base_dir: Path | None) -> DataSpec:
    values = {key: data[key] for key in DATA_KEYS if key in data}
    if "target" in values and values["target"] is not None:
        target = dict(values["target"]) if isinstance(values["target"], Mapping) else values["target"]
        if isinstance(target, dict) and isinstance(target.get("data_root"), str):
            target["data_root"] = _resolve_path(target["data_root"], base_dir)
        values["target"] = parse_target(target)
    return DataSpec(**values)


def _resolve_path(text: Any, base_dir: Path | None) -> str:
    if not isinstance(text, str):
        raise ConfigError(f"experiment key 'data_root': expected a path, got {text!r}")
    root = Path(text).expanduser()
    return str(root if root.is_absolute() or base_dir is None else (base_dir / root).resolve())


def _integer(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"experiment key {key!r}: expected an integer >= {minimum}, got {value!r}")
    return value


def _optimizer(data: Mapping[str, Any]) -> Spec:
    legacy = {key: data[key] for key in _SGD_KEYS if key in data}
    for key, value in legacy.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"experiment key {key!r}: expected a non-negative number, got {value!r}")
    if "optimizer" in data:
        if legacy:
            raise ConfigError(f"experiment keys {sorted(legacy)} and 'optimizer' conflict; put them in the optimizer spec")
        return data["optimizer"]
    return {**DEFAULT_OPTIMIZER, **{key: float(value) for key, value in legacy.items()}}


def parse_experiment(data: Any, base_dir: Path | None = None) -> Experiment:
    """Validate a parsed YAML mapping into an :class:`Experiment` (every run spec is resolved
    once here, so a bad option fails before any training)."""
    if not isinstance(data, dict):
        raise ConfigError(f"an experiment file holds a mapping of keys, got {type(data).__name__}")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown experiment key {unknown[0]!r}; valid keys: {', '.join(sorted(_KEYS))}")
    for required in ("datasets", "methods"):
        if required not in data:
            raise ConfigError(f"experiment key {required!r} is missing")
    name = data.get("name", "experiment")
    if not isinstance(name, str):
        raise ConfigError(f"experiment key 'name': expected a string, got {name!r}")
    evaluations = data.get("evaluations", ["calibration"]) or []
    if not isinstance(evaluations, list) or not all(isinstance(e, str) for e in evaluations):
        raise ConfigError(f"experiment key 'evaluations': expected a list of names, got {evaluations!r}")
    metric = data.get("metric", "test_accuracy")
    if not isinstance(metric, str):
        raise ConfigError(f"experiment key 'metric': expected a metric name, got {metric!r}")
    experiment = Experiment(
        name=name,
        datasets=_specs("datasets", data["datasets"]),
        models=_specs("models", data["models"]) if data.get("models") is not None else None,
        methods=parse_methods(data["methods"]),
        seeds=_seeds(data.get("seeds", 3)),
        data=_data_spec(data, base_dir),
        epochs=_integer("epochs", data.get("epochs", 60), 0),
        batch_size=_integer("batch_size", data.get("batch_size", 50), 1),
        optimizer=_optimizer(data),
        schedule=data.get("schedule", "cosine"),
        evaluations=tuple(evaluations),
        data_root=_resolve_path(data["data_root"], base_dir) if data.get("data_root") is not None else None,
        metric=metric,
        inlier_classes=_inlier_classes(data),
    )
    check_experiment(experiment)
    return experiment


def check_experiment(experiment: Experiment) -> None:
    """Resolve every run spec and check each method's streams against the data spec (one line)."""
    for spec in experiment.runs():
        check_streams(METHODS.get(spec.method["type"]), experiment.data.streams, spec.label)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment YAML file (``yaml.safe_load``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read experiment file ({error.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where} ({str(error).splitlines()[0]})") from None
    return parse_experiment(data, base_dir=path.parent)
