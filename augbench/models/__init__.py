"""Models for the benchmark, by name: ``MODELS.build("harness_cnn", in_channels=1, ...)``."""

from augbench.models.auto import auto_model
from augbench.models.convnet import ConvNet
from augbench.models.ema import MomentumEncoder, cosine_momentum
from augbench.models.harness import HarnessCNN
from augbench.models.layers import grad_reverse
from augbench.models.lenet import LeNet
from augbench.models.mlp import MLP
from augbench.models.pointnet import PointNet
from augbench.models.preact_resnet import PreActResNet18
from augbench.models.registry import MODEL_CONTEXT, MODELS, build_model
from augbench.models.sasrec import SASRec
from augbench.models.scattering import ScatNet, Scattering2D
from augbench.models.staged import StagedModel
from augbench.models.speech_cnn import SpeechCNN
from augbench.models.skeleton_gru import SkeletonGRU
from augbench.models.text_cnn import TextCNN
from augbench.models.timeseries_cnn import TimeSeriesCNN
from augbench.models.patch_cnn import PatchCNN
from augbench.models.vit import VisionTransformer

__all__ = [
    "MODELS",
    "MODEL_CONTEXT",
    "ConvNet",
    "HarnessCNN",
    "LeNet",
    "MLP",
    "MomentumEncoder",
    "PointNet",
    "PreActResNet18",
    "SASRec",
    "ScatNet",
    "Scattering2D",
    "SkeletonGRU",
    "SpeechCNN",
    "StagedModel",
    "TextCNN",
    "TimeSeriesCNN",
    "PatchCNN",
    "VisionTransformer",
    "auto_model",
    "build_model",
    "cosine_momentum",
    "grad_reverse",
]
