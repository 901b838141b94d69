"""The results store: schema v3, one transaction per run, duplicate refusal, v2 migration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from augbench.bench.run import Checkpoint, RunResult
from augbench.bench.spec import RunSpec
from augbench.bench.store import SCHEMA_VERSION, Store
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError


def _spec(seed: int = 0) -> RunSpec:
    return RunSpec.create(dataset="digits", model="harness_cnn", method="baseline", seed=seed, data=DataSpec(train_size=500))


def _result(seed: int = 0) -> RunResult:
    return RunResult(
        _spec(seed),
        {"test_accuracy": 0.9, "test_nll": 0.3},
        [("train", 0, "train_loss", 1.0), ("teacher", 0, "train_loss", 2.0)],
        {"train": {"train_time_s": 1.5}, "teacher": {"train_time_s": 3.0}},
        [Checkpoint("teacher", "abc", "/tmp/abc.pt", True), Checkpoint("train", "def", None, False)],
        {"torch": "x"},
    )


def test_save_and_read_back(db_url: str) -> None:
    store = Store(db_url)
    store.save(_result(0))
    store.save(_result(1))
    assert store.finished_keys() == {_spec(0).key, _spec(1).key}
    assert store.metric_values([_spec(1).key], "test_accuracy") == {_spec(1).key: 0.9}


def test_duplicate_run_is_refused_and_leaves_no_partial_rows(db_url: str) -> None:
    store = Store(db_url)
    store.save(_result(0))
    with pytest.raises(IntegrityError):
        store.save(_result(0))
    assert len(store.finished_keys()) == 1


def test_schema_version_mismatch_is_a_clear_error(db_url: str) -> None:
    store = Store(db_url)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE schema_version SET version = 99")
    with pytest.raises(ConfigError, match="schema version 99"):
        Store(db_url)


def test_plain_path_is_a_sqlite_file(tmp_path: Path) -> None:
    Store(str(tmp_path / "sub" / "a.db")).save(_result(0))
    assert (tmp_path / "sub" / "a.db").is_file()


@pytest.mark.parametrize("url", ["nosuchdriver://x/y", "mysql://user@localhost/db"])
def test_bad_or_unavailable_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(ConfigError, match="cannot open results database") as info:
        Store(url)
    assert len(str(info.value).splitlines()) == 1


def test_load_results_round_trips_everything(db_url: str) -> None:
    store = Store(db_url)
    result = _result(2)
    result.artifacts["reliability"] = {"confidence": [0.1, 0.9], "accuracy": [0.0, 1.0], "count": [3, 7]}
    store.save(result)
    (run,) = store.load_results()
    assert run.spec == result.spec and run.key == result.spec.key
    assert run.metrics == result.metrics
    assert run.phase_metrics == result.phase_metrics
    assert run.curves == {"train_loss": [(0, 1.0)], "teacher/train_loss": [(0, 2.0)]}
    assert run.artifacts == result.artifacts
    assert run.checkpoints == {"teacher": ("abc", "/tmp/abc.pt", True), "train": ("def", None, False)}
    assert run.environment == {"torch": "x"}


V2_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY)",
    "CREATE TABLE runs (run_key VARCHAR(64) PRIMARY KEY, dataset VARCHAR(64) NOT NULL, model VARCHAR(64) NOT NULL, "
    "method VARCHAR(128) NOT NULL, seed INTEGER NOT NULL, config TEXT NOT NULL, environment TEXT NOT NULL, "
    "finished_at FLOAT NOT NULL)",
    "CREATE TABLE metrics (run_key VARCHAR(64) REFERENCES runs (run_key), name VARCHAR(64), value FLOAT NOT NULL, "
    "PRIMARY KEY (run_key, name))",
    "CREATE TABLE artifacts (run_key VARCHAR(64) REFERENCES runs (run_key), name VARCHAR(64), value TEXT NOT NULL, "
    "PRIMARY KEY (run_key, name))",
    "CREATE TABLE curves (run_key VARCHAR(64) REFERENCES runs (run_key), epoch INTEGER, name VARCHAR(64), "
    "value FLOAT NOT NULL, PRIMARY KEY (run_key, epoch, name))",
)
V2_CONFIG = {  # what augbench 0.1 (store schema v2) wrote for `augbench run`'s affine run
    "dataset": "digits", "model": "harness_cnn", "method": "affine", "seed": 1, "train_size": 500, "val_size": 0,
    "test_size": None, "epochs": 60, "batch_size": 50, "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005,
    "evaluations": ["calibration"], "data_root": None,
}


def _write_v2(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in V2_SCHEMA:
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("INSERT INTO schema_version VALUES (2)")
        connection.execute(text("INSERT INTO runs VALUES ('k2', 'digits', 'harness_cnn', 'affine', 1, :c, '{}', 5.0)"),
                           {"c": json.dumps(V2_CONFIG)})
        connection.exec_driver_sql("INSERT INTO metrics VALUES ('k2', 'test_accuracy', 0.9877), ('k2', 'test_ece', 0.01)")
        connection.exec_driver_sql("INSERT INTO curves VALUES ('k2', 0, 'train_loss', 2.0), ('k2', 1, 'train_loss', 1.0)")
        connection.exec_driver_sql("INSERT INTO artifacts VALUES ('k2', 'reliability', '{\"count\": [1]}')")
    engine.dispose()


def test_a_v2_database_is_migrated_without_loss(db_url: str) -> None:
    _write_v2(db_url)
    store = Store(db_url)
    (run,) = store.load_results()
    assert run.key == "k2" and run.metrics == {"test_accuracy": 0.9877, "test_ece": 0.01}
    assert run.curves == {"train_loss": [(0, 2.0), (1, 1.0)]} and run.artifacts == {"reliability": {"count": [1]}}
    assert (run.spec.label, run.spec.seed, run.spec.dataset_name, run.spec.model_name) == ("affine", 1, "digits", "harness_cnn")
    assert run.spec.data.train_size == 500 and run.spec.epochs == 60 and run.spec.optimizer["lr"] == 0.05
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version FROM schema_version").scalar() == SCHEMA_VERSION
    store.save(_result(0))  # a migrated store takes new runs
    assert len(Store(db_url).load_results()) == 2  # and opens again as v3
