"""Experiment YAML files: validation with one-line errors, expansion into runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from augbench.bench.experiment import load_experiment, parse_experiment
from augbench.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_expansion_is_the_full_grid() -> None:
    experiment = parse_experiment(
        {"datasets": ["digits"], "methods": ["baseline", "mixup", "rand-m9-n2"], "seeds": [0, 4], "epochs": 2}
    )
    runs = experiment.runs()
    assert len(runs) == 6
    assert {(r.method, r.seed) for r in runs} == {(m, s) for m in ("baseline", "mixup", "rand-m9-n2") for s in (0, 4)}
    assert all(r.model == "harness_cnn" and r.epochs == 2 for r in runs)  # the dataset's default model
    assert len({r.key for r in runs}) == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"datasets": ["digits"], "methods": ["baseline"], "epoch": 3}, "unknown experiment key 'epoch'"),
        ({"methods": ["baseline"]}, "'datasets' is missing"),
        ({"datasets": ["digit"], "methods": ["baseline"]}, "unknown dataset 'digit'"),
        ({"datasets": ["digits"], "methods": ["rand-m99"]}, "unknown recipe 'rand-m99'"),
        ({"datasets": ["digits"], "models": ["resnet"], "methods": ["baseline"]}, "unknown model 'resnet'"),
        ({"datasets": ["digits"], "methods": ["baseline"], "epochs": "ten"}, "'epochs'"),
        ({"datasets": ["digits"], "methods": ["baseline"], "seeds": 0}, "'seeds'"),
        ({"datasets": ["digits"], "methods": ["baseline"], "evaluations": ["speed"]}, "unknown 'speed'"),
        (["datasets"], "mapping"),
    ],
)
def test_invalid_experiments_name_the_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_experiment(data)
    assert len(str(info.value).splitlines()) == 1


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("datasets: !!python/object/apply:os.system ['echo pwned']\nmethods: [baseline]\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_experiment(path)


def test_relative_data_root_is_resolved_against_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("datasets: [digits]\nmethods: [baseline]\ndata_root: data\n")
    assert load_experiment(path).data_root == str((tmp_path / "data").resolve())


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path: Path) -> None:
    assert load_experiment(path).runs()
