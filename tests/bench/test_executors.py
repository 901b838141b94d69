"""Executors: a local process pool and Ray tasks; the driver alone writes results."""

from __future__ import annotations

import pytest

from augbench.bench.executors import LocalExecutor, RayExecutor, build_executor
from augbench.bench.runner import run_all
from augbench.bench.spec import RunSpec
from augbench.bench.store import Store
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError


def _spec(method: str, dataset: str = "digits", model: str = "harness_cnn", **options: object) -> RunSpec:
    return RunSpec.create(dataset=dataset, model=model, method=method, seed=0, epochs=1,
                          data=DataSpec(train_size=100), **options)


TINY = [_spec(m) for m in ("baseline", "erasing")]


def test_local_pool_runs_everything_and_driver_stores_it(db_url: str) -> None:
    store = Store(db_url)
    summary = run_all(TINY, store, executor=LocalExecutor(workers=2), progress=False)
    assert summary.trained == 2 and not summary.failed
    assert store.finished_keys() == {spec.key for spec in TINY}
    again = run_all(TINY, store, executor=LocalExecutor(workers=2), progress=False)
    assert again.trained == 0 and again.skipped == 2


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path) -> None:
    bad = _spec("baseline", dataset="mnist", model="lenet", data_root=str(tmp_path / "missing"))
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
    assert store.finished_keys() == {spec.key for spec in TINY}


def test_unknown_executor() -> None:
    with pytest.raises(ConfigError, match="unknown executor 'slurm'"):
        build_executor("slurm")


def test_executors_and_worker_counts_give_identical_metrics(tmp_path) -> None:
    """Same spec and seed on the same machine: the same numbers in-process, in 1 or 2 workers."""
    import torch

    from augbench.bench.run import train_run

    specs = [_spec("rand-m9-n2"), _spec("cutmix")]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a worker (1 torch thread per run by default)
    try:
        serial = {spec.key: train_run(spec).metrics for spec in specs}
    finally:
        torch.set_num_threads(threads)
    for workers in (1, 2):
        store = Store(str(tmp_path / f"w{workers}.db"))
        run_all(specs, store, executor=LocalExecutor(workers=workers), progress=False)
        for name in ("test_accuracy", "test_nll", "test_ece"):
            assert store.metric_values([s.key for s in specs], name) == {k: m[name] for k, m in serial.items()}
