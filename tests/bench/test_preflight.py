"""Every run is checked before anything trains: once per distinct setup, one line per problem."""

from __future__ import annotations

import pytest

from augbench.bench import preflight
from augbench.bench.device import check_device
from augbench.bench.experiment import parse_experiment
from augbench.errors import ConfigError


def test_each_distinct_run_is_dry_run_once_whatever_the_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = parse_experiment({"datasets": ["digits"], "methods": ["baseline", "affine"], "seeds": 3,
                                   "epochs": 1, "train_size": 100})
    seen: list[str] = []
    monkeypatch.setattr(preflight, "dry_run", lambda spec, data, device: seen.append(spec.label))
    preflight.check_runs(experiment.runs())
    assert seen == ["baseline", "affine"]


def test_a_dry_run_trains_nothing_and_passes_on_a_good_run() -> None:
    experiment = parse_experiment({"datasets": ["digits"], "methods": [{"label": "fm", "type": "fixmatch"}],
                                   "seeds": 1, "epochs": 1, "labeled_per_class": 2, "unlabeled": "rest", "ratio": 2})
    preflight.check_runs(experiment.runs())


def test_a_phase_of_zero_epochs_takes_no_dry_step() -> None:
    # the random-encoder floor trains nothing: its training_step must not be called
    experiment = parse_experiment({"datasets": ["digits"], "methods": ["untrained"], "seeds": 1, "epochs": 1,
                                   "train_size": 100, "evaluations": ["knn"]})
    (cost,) = preflight.check_runs(experiment.runs()).values()
    assert cost == 0.0


def test_a_torch_error_inside_the_first_step_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = parse_experiment({"datasets": ["digits"], "methods": ["baseline"], "seeds": 1, "epochs": 1,
                                   "train_size": 100})

    def broken(spec: object, data: object, device: object) -> None:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (32x64 and 16x10)\n  deep frames")

    monkeypatch.setattr(preflight, "dry_run", broken)
    with pytest.raises(ConfigError, match=r"run digits/harness_cnn/baseline would fail in its first step: "
                                          r"RuntimeError: mat1 and mat2") as error:
        preflight.check_runs(experiment.runs())
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("device", "expected"), [("gpu", "not a torch device"), ("xla", "cpu, cuda or mps")])
def test_bad_devices_are_one_line(device: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        check_device(device)
