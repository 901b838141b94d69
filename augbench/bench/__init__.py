"""The benchmark: run specs, running a run (phases, cache, evaluations), experiments, executors, store, statistics, report."""
