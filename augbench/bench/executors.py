"""Executors run training runs and hand each result back to the driver as soon as it is done.

The driver (:func:`augbench.bench.runner.run_all`) is the only writer to the results store, so
workers never touch the database: ``local`` runs a process pool on this machine, ``ray``
submits one Ray task per run to an existing Ray cluster (or a local one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Protocol

import torch

from augbench.bench.run import RunResult, train_run
from augbench.bench.spec import RunSpec
from augbench.errors import ConfigError
from augbench.extras import missing_extra

__all__ = ["Outcome", "Executor", "LocalExecutor", "RayExecutor", "build_executor", "EXECUTORS"]

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Outcome:
    """A finished run: its result, or the one-line error that stopped it."""

    spec: RunSpec
    result: RunResult | None
    error: str | None = None


class Executor(Protocol):
    """Runs specs and yields their outcomes in completion order."""

    def run(self, specs: Sequence[RunSpec]) -> Iterator[Outcome]: ...


def _run_in_worker(spec: RunSpec, threads: int, device: str, cache_dir: str | None) -> RunResult:
    torch.set_num_threads(threads)
    return train_run(spec, device=device, cache_dir=cache_dir)


def _describe(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"


class LocalExecutor:
    """A pool of worker processes on this machine, each with its own torch thread budget.

    Args:
        workers: number of processes; default ``max(1, cpu_count // threads)``.
        threads: torch threads per worker (default 1: many small runs parallelise better
            across processes than inside one).
        device: training device of every run.
        cache_dir: the phase weights cache folder shared by the workers (``None``: no cache).
    """

    def __init__(
        self, workers: int | None = None, threads: int = 1, device: str = "cpu", cache_dir: str | None = None
    ) -> None:
        cpus = os.cpu_count() or 1
        self.threads = max(1, threads)
        self.workers = workers or max(1, cpus // self.threads)
        self.device = device
        self.cache_dir = cache_dir

    def run(self, specs: Sequence[RunSpec]) -> Iterator[Outcome]:
        if not specs:
            return
        context = get_context("spawn")  # fresh interpreters: no forked torch thread pools
        with ProcessPoolExecutor(max_workers=min(self.workers, len(specs)), mp_context=context) as pool:
            futures = {pool.submit(_run_in_worker, spec, self.threads, self.device, self.cache_dir): spec for spec in specs}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    spec = futures[future]
                    error = future.exception()
                    yield Outcome(spec, None, _describe(error)) if error else Outcome(spec, future.result())


class RayExecutor:
    """One Ray task per run on a Ray cluster.

    Args:
        address: the cluster address (``ray://host:10001`` or ``auto``); ``None`` starts a local
            Ray instance for this process.
        cpus_per_run: CPUs each task reserves (also its torch thread budget).
        device: training device of every run.
        cache_dir: the phase weights cache folder shared by the workers (``None``: no cache).
    """

    def __init__(
        self, address: str | None = None, cpus_per_run: int = 1, device: str = "cpu", cache_dir: str | None = None
    ) -> None:
        self.address = address
        self.cpus_per_run = max(1, cpus_per_run)
        self.device = device
        self.cache_dir = cache_dir

    def run(self, specs: Sequence[RunSpec]) -> Iterator[Outcome]:
        try:
            import ray
        except ModuleNotFoundError as error:
            raise missing_extra(error, "--executor ray") from None
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        try:
            remote = ray.remote(num_cpus=self.cpus_per_run)(_run_in_worker)
            refs = {remote.remote(spec, self.cpus_per_run, self.device, self.cache_dir): spec for spec in specs}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    spec = refs[ref]
                    try:
                        yield Outcome(spec, ray.get(ref))
                    except Exception as error:  # a failed task: report it, keep the others going
                        cause = getattr(error, "cause", None) or error
                        yield Outcome(spec, None, _describe(cause))
        finally:
            if started_here:
                ray.shutdown()


def build_executor(name: str, *, workers: int | None = None, threads: int = 1, ray_address: str | None = None,
                   device: str = "cpu", cache_dir: str | None = None) -> Executor:
    """The executor called ``name`` (``"local"`` or ``"ray"``)."""
    if name == "local":
        return LocalExecutor(workers=workers, threads=threads, device=device, cache_dir=cache_dir)
    if name == "ray":
        return RayExecutor(address=ray_address, cpus_per_run=threads, device=device, cache_dir=cache_dir)
    raise ConfigError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
