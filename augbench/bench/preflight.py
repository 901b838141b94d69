"""Check every run of an experiment before anything trains: one line per problem.

``augbench run`` and ``augbench bench`` call :func:`check_runs` first, so a missing data
folder, a device this torch build cannot use, a model that does not fit the input, a policy
that changes the input size or an evaluation a method cannot serve is reported once, up front,
instead of after other runs have trained (or once per run).
"""

from __future__ import annotations

import warnings

import torch

from augbench.bench.device import check_device
from augbench.bench.run import dry_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import RunData, prepare_run_data, small_splits
from augbench.errors import AugbenchError, ConfigError
from augbench.registry import canonical_json

__all__ = ["check_runs", "SmallSplitWarning"]


class SmallSplitWarning(UserWarning):
    """An evaluation split too small to tell methods apart (the run still goes ahead)."""


def check_runs(specs: list[RunSpec], device: str | torch.device = "cpu") -> dict[str, float]:
    """Dry-run every distinct run of ``specs`` (seeds aside) before any of them trains.

    The data of each distinct data setup is loaded and split once (seed 0 stands in for all
    seeds: sizes and shapes do not depend on it); each distinct (data, model, method,
    evaluations, optimisation) then takes one step per phase on a few samples and runs its
    evaluations (:func:`augbench.bench.run.dry_run`).

    Returns:
        Every run's relative cost by run key (seeds share their setup's), for the progress bar.

    Warns:
        SmallSplitWarning: an evaluation split under ``MIN_EVAL_SAMPLES`` samples (once per setup).

    Raises:
        ConfigError: one line naming the run and what would fail.
    """
    parsed = check_device(device)
    datasets: dict[str, RunData] = {}
    costs: dict[str, float] = {}
    checked: dict[str, float] = {}
    for spec in specs:
        setup = canonical_json([spec.dataset, spec.data.identity(), spec.data_root])
        if setup not in datasets:
            datasets[setup] = prepare_run_data(spec.dataset, spec.data, 0, spec.data_root)
            for message in small_splits(datasets[setup], spec.dataset_name):
                warnings.warn(message, SmallSplitWarning, stacklevel=2)
        what = canonical_json([setup, spec.model, spec.method, list(spec.evaluations), spec.optimizer, spec.schedule,
                               spec.epochs, spec.batch_size])
        if what in checked:
            costs[spec.key] = checked[what]
            continue
        try:
            checked[what] = costs[spec.key] = dry_run(spec, datasets[setup], parsed)
        except AugbenchError as error:
            raise ConfigError(f"run {_name(spec)} would fail: {error}") from None
        except Exception as error:  # a torch error deep inside a step: still one line, before training
            first = str(error).strip().splitlines()[0] if str(error).strip() else "(no message)"
            raise ConfigError(
                f"run {_name(spec)} would fail in its first step: {type(error).__name__}: {first}"
            ) from None
    return costs


def _name(spec: RunSpec) -> str:
    return f"{spec.dataset_name}/{spec.model_name}/{spec.label}"
