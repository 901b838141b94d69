"""Experiments: a YAML file of datasets x models x methods x seeds, validated and expanded to runs.

Example (``configs/digits.yaml``)::

    name: digits
    datasets: [digits]
    models: [harness_cnn]          # optional: the dataset's default model
    methods: [baseline, affine, erasing, rrc, mixup, cutmix, rand-m9-n2]
    seeds: 3                       # a count (0, 1, 2) or a list
    epochs: 60
    train_size: 500
    evaluations: [calibration, corruption, adversarial]

Files are read with ``yaml.safe_load`` only; an unknown key, a wrong type or an unknown
dataset/model/method fails with one line naming the key. Relative ``data_root`` paths are
resolved against the config file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from augbench.bench.config import EVALUATIONS, RunConfig
from augbench.bench.recipes import check_recipe
from augbench.data import DATASETS
from augbench.errors import ConfigError
from augbench.models import MODELS

__all__ = ["Experiment", "DEFAULT_MODELS", "load_experiment", "parse_experiment"]

DEFAULT_MODELS = {
    "digits": "harness_cnn",
    "mnist": "lenet",
    "fashion_mnist": "lenet",
    "cifar10": "preact_resnet18",
    "image_folder": "preact_resnet18",
}
"""The model a dataset gets when an experiment names none."""

_RUN_KEYS = {"train_size", "val_size", "test_size", "epochs", "batch_size", "lr", "momentum", "weight_decay"}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment; :meth:`runs` expands it into one ``RunConfig`` per run."""

    name: str
    datasets: tuple[str, ...]
    models: tuple[str, ...] | None
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    settings: tuple[tuple[str, Any], ...] = ()
    evaluations: tuple[str, ...] = ("calibration",)
    data_root: str | None = None

    def runs(self) -> list[RunConfig]:
        """dataset x model x method x seed, in that nesting order."""
        runs = []
        for dataset in self.datasets:
            for model in self.models or (DEFAULT_MODELS.get(dataset, "harness_cnn"),):
                for method in self.methods:
                    for seed in self.seeds:
                        runs.append(
                            RunConfig(
                                dataset=dataset, model=model, method=method, seed=seed,
                                evaluations=self.evaluations, data_root=self.data_root, **dict(self.settings),
                            )
                        )
        return runs


def _names(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"experiment key {key!r}: expected a name or a non-empty list of names, got {value!r}")
    return tuple(value)


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise ConfigError(f"experiment key 'seeds': expected a count >= 1 or a list of ints, got {value!r}")


def parse_experiment(data: Any, base_dir: Path | None = None) -> Experiment:
    """Validate a parsed YAML mapping into an :class:`Experiment`."""
    if not isinstance(data, dict):
        raise ConfigError(f"an experiment file holds a mapping of keys, got {type(data).__name__}")
    allowed = {"name", "datasets", "models", "methods", "seeds", "evaluations", "data_root", *_RUN_KEYS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"unknown experiment key {unknown[0]!r}; valid keys: {', '.join(sorted(allowed))}")
    for required in ("datasets", "methods"):
        if required not in data:
            raise ConfigError(f"experiment key {required!r} is missing")
    datasets = _names("datasets", data["datasets"])
    for dataset in datasets:
        DATASETS.get(dataset)
    models = _names("models", data["models"]) if data.get("models") is not None else None
    for model in models or ():
        MODELS.get(model)
    methods = _names("methods", data["methods"])
    for method in methods:
        check_recipe(method)
    evaluations = tuple(data.get("evaluations", ["calibration"]) or ())
    bad = [e for e in evaluations if e not in EVALUATIONS]
    if bad:
        raise ConfigError(f"experiment key 'evaluations': unknown {bad[0]!r}; choose from {', '.join(EVALUATIONS)}")
    defaults = {f.name: f.default for f in fields(RunConfig)}
    settings = []
    for key in sorted(_RUN_KEYS & set(data)):
        value = data[key]
        expected = float if isinstance(defaults[key], float) else int
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = (value is None and key == "test_size") or (
            is_number and value >= 0 and (expected is float or isinstance(value, int))
        )
        if not ok:
            raise ConfigError(f"experiment key {key!r}: expected a non-negative {expected.__name__}, got {value!r}")
        settings.append((key, float(value) if expected is float else value))
    data_root = data.get("data_root")
    if data_root is not None:
        if not isinstance(data_root, str):
            raise ConfigError(f"experiment key 'data_root': expected a path, got {data_root!r}")
        root = Path(data_root).expanduser()
        data_root = str(root if root.is_absolute() or base_dir is None else (base_dir / root).resolve())
    name = data.get("name", "experiment")
    if not isinstance(name, str):
        raise ConfigError(f"experiment key 'name': expected a string, got {name!r}")
    return Experiment(
        name=name, datasets=datasets, models=models, methods=methods, seeds=_seeds(data.get("seeds", 3)),
        settings=tuple(settings), evaluations=evaluations, data_root=data_root,
    )


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
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    return parse_experiment(data, base_dir=path.parent)
