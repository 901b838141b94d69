"""Executors: a local process pool and Ray tasks; the driver alone writes results."""

from __future__ import annotations

import pytest

from augbench.bench.config import RunConfig
from augbench.bench.executors import LocalExecutor, RayExecutor, build_executor
from augbench.bench.runner import run_all
from augbench.bench.store import Store
from augbench.errors import ConfigError

TINY = [RunConfig(method=m, seed=0, epochs=1, train_size=100) for m in ("baseline", "erasing")]


def test_local_pool_runs_everything_and_driver_stores_it(db_url: str) -> None:
    store = Store(db_url)
    summary = run_all(TINY, store, executor=LocalExecutor(workers=2), progress=False)
    assert summary.trained == 2 and not summary.failed
    assert store.finished_keys() == {c.key for c in TINY}
    again = run_all(TINY, store, executor=LocalExecutor(workers=2), progress=False)
    assert again.trained == 0 and again.skipped == 2


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path) -> None:
    bad = RunConfig(dataset="mnist", method="baseline", epochs=1, train_size=100, data_root=str(tmp_path / "missing"))
    store = Store(str(tmp_path / "r.db"))
    summary = run_all([*TINY[:1], bad], store, executor=LocalExecutor(workers=2), progress=False)
    assert summary.trained == 1
    assert len(summary.failed) == 1 and summary.failed[0][0] == bad
    assert "DataError" in summary.failed[0][1] and "\n" not in summary.failed[0][1]


def test_ray_tasks_on_a_local_instance(tmp_path) -> None:
    pytest.importorskip("ray")
    store = Store(str(tmp_path / "r.db"))
    summary = run_all(TINY, store, executor=RayExecutor(address=None, cpus_per_run=1), progress=False)
    assert summary.trained == 2
    assert store.finished_keys() == {c.key for c in TINY}


def test_unknown_executor() -> None:
    with pytest.raises(ConfigError, match="unknown executor 'slurm'"):
        build_executor("slurm")
