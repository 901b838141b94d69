"""The benchmark: run configs, the trainer, the results store, statistics and the runner."""
