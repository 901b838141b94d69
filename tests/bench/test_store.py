"""The results store: schema, one transaction per run, duplicate refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from augbench.bench.config import RunConfig
from augbench.bench.store import Store
from augbench.bench.trainer import RunResult
from augbench.errors import ConfigError


def _result(seed: int = 0) -> RunResult:
    return RunResult(RunConfig(seed=seed), {"test_accuracy": 0.9, "test_nll": 0.3}, [(0, "train_loss", 1.0)], {"torch": "x"})


def test_save_and_read_back(db_url: str) -> None:
    store = Store(db_url)
    store.save(_result(0))
    store.save(_result(1))
    assert store.finished_keys() == {RunConfig(seed=0).key, RunConfig(seed=1).key}
    assert store.metric_values([RunConfig(seed=1)], "test_accuracy") == {RunConfig(seed=1).key: 0.9}


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


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot open results database"):
        Store("nosuchdriver://x/y")


def test_load_results_round_trips_everything(db_url: str) -> None:
    store = Store(db_url)
    result = _result(2)
    result.artifacts["reliability"] = {"confidence": [0.1, 0.9], "accuracy": [0.0, 1.0], "count": [3, 7]}
    store.save(result)
    (run,) = store.load_results()
    assert run.config == result.config
    assert run.metrics == result.metrics
    assert run.curves == {"train_loss": [(0, 1.0)]}
    assert run.artifacts == result.artifacts
    assert run.environment == {"torch": "x"}
