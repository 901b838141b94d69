"""Models for the benchmark, by name: ``MODELS.build("harness_cnn", in_channels=1, ...)``."""

from augbench.models.harness import HarnessCNN
from augbench.models.registry import MODELS, build_model

__all__ = ["MODELS", "HarnessCNN", "build_model"]
