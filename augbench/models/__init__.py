"""Models for the benchmark, by name: ``MODELS.build("harness_cnn", in_channels=1, ...)``."""

from augbench.models.harness import HarnessCNN
from augbench.models.lenet import LeNet
from augbench.models.preact_resnet import PreActResNet18
from augbench.models.registry import MODELS, build_model
from augbench.models.staged import StagedModel
from augbench.models.vit import VisionTransformer

__all__ = ["MODELS", "HarnessCNN", "LeNet", "PreActResNet18", "StagedModel", "VisionTransformer", "build_model"]
