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
    assert {(r.label, r.seed) for r in runs} == {(m, s) for m in ("baseline", "mixup", "rand-m9-n2") for s in (0, 4)}
    assert all(r.model_name == "harness_cnn" and r.epochs == 2 for r in runs)  # the dataset's default model
    assert len({r.key for r in runs}) == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"datasets": ["digits"], "methods": ["baseline"], "epoch": 3}, "unknown experiment key 'epoch'"),
        ({"methods": ["baseline"]}, "'datasets' is missing"),
        ({"datasets": ["digit"], "methods": ["baseline"]}, "unknown dataset 'digit'"),
        ({"datasets": ["digits"], "methods": ["rand-m9.5"]}, "unknown method 'rand-m9.5'"),
        ({"datasets": ["digits"], "methods": [{"type": "mix_supervised", "mixr": "cutmix"}]},
         "method 'mix_supervised' got unknown option 'mixr'; valid options: mixer, augment"),
        ({"datasets": ["digits"], "methods": ["baseline"], "optimizer": {"type": "sgd", "lr": -1}}, "lr=-1"),
        ({"datasets": ["digits"], "methods": ["baseline"], "optimizer": "adamax"}, "unknown optimizer 'adamax'"),
        ({"datasets": ["digits"], "methods": ["baseline"], "schedule": {"type": "cosine", "warmup": 5}},
         "schedule 'cosine' got unknown option 'warmup'"),
        ({"datasets": ["digits"], "models": [{"type": "lenet", "num_classes": 3}], "methods": ["baseline"]},
         "option 'num_classes' is set by the run"),
        ({"datasets": ["digits"], "methods": ["baseline", "baseline"]}, "label 'baseline' appears twice"),
        ({"datasets": ["digits"], "methods": ["baseline"], "unlabeled": "all"}, "'unlabeled'"),
        ({"datasets": ["digits"], "models": ["resnet"], "methods": ["baseline"]}, "unknown model 'resnet'"),
        ({"datasets": ["digits"], "methods": ["baseline"], "epochs": "ten"}, "'epochs'"),
        ({"datasets": ["digits"], "methods": ["baseline"], "seeds": 0}, "'seeds'"),
        ({"datasets": ["digits"], "methods": ["baseline"], "evaluations": ["speed"]}, "unknown evaluation 'speed'"),
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


def test_resolved_spec_is_canonical_and_keys_follow_it() -> None:
    def first(methods: list) -> object:
        return parse_experiment({"datasets": ["digits"], "methods": methods, "seeds": 1, "train_size": 200}).runs()[0]

    by_name, by_spec = first(["mixup"]), first([{"label": "mixup", "type": "mix_supervised", "mixer": {"type": "mixup"}}])
    mixer = {"type": "mixup", "alpha": 1.0, "per_sample": True, "label_smoothing": 0.0}
    assert by_name.method == by_spec.method == {"type": "mix_supervised", "mixer": mixer, "augment": None}
    assert by_name.key == by_spec.key  # the same resolved spec is the same run
    assert by_name.optimizer == {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005, "nesterov": False}
    assert first(["cutmix"]).key != by_name.key


def test_streams_the_data_spec_cannot_provide_are_refused_before_training() -> None:
    from augbench.methods import METHODS
    from augbench.methods.supervised import Supervised

    class NeedsUnlabeled(Supervised):
        streams = ("labeled", "unlabeled")

    if "needs_unlabeled_test" not in METHODS:
        METHODS.register("needs_unlabeled_test")(NeedsUnlabeled)
    with pytest.raises(ConfigError, match="needs the 'unlabeled' stream.*add unlabeled: rest"):
        parse_experiment({"datasets": ["digits"], "methods": ["needs_unlabeled_test"], "train_size": 100})


def test_legacy_sgd_keys_set_the_optimizer_spec() -> None:
    run = parse_experiment({"datasets": ["digits"], "methods": ["baseline"], "seeds": 1, "lr": 0.1}).runs()[0]
    assert run.optimizer["lr"] == 0.1 and run.optimizer["type"] == "sgd"


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("datasets: [digits]\nmethods: [baseline\nseeds: 3\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+") as info:
        load_experiment(path)
    assert "\n" not in str(info.value)
