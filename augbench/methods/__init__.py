"""Training recipes (one file per method card) and their registry."""

from augbench.methods.base import METHODS, Batch, Method, StepOutput, TrainContext
from augbench.methods.supervised import Supervised

__all__ = ["METHODS", "Batch", "Method", "StepOutput", "Supervised", "TrainContext"]
