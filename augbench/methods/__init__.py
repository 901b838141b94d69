"""Training methods (one file per method), their registry, presets and specs."""

from augbench.methods.adautomix import AdAutoMix
from augbench.methods.amcl import AMCL
from augbench.methods.augmix_jsd import AugMixJSD
from augbench.methods.autotcl import AutoTCL, TSContrastive
from augbench.methods.automix import AutoMix
from augbench.methods.base import METHODS, Method, Phase
from augbench.methods.cabkws import CABKWS
from augbench.methods.cl4srec import CL4SRec
from augbench.methods.coreset_aug import CoresetAug
from augbench.methods.dann import DANN
from augbench.methods.kd import KnowledgeDistillation
from augbench.methods.fixmatch import FixMatch
from augbench.methods.madaug import MADAug
from augbench.methods.halp import HaLP
from augbench.methods.manifold_mixup import ManifoldMixup
from augbench.methods.mclrec import MCLRec
from augbench.methods.mcmc_invariance import MCMCInvariance, UniformInvariance
from augbench.methods.metrix import ContrastiveMetric, Metrix
from augbench.methods.mix_supervised import MixSupervised
from augbench.methods.early_mix import EarlyStoppedMix
from augbench.methods.moco import MoCo
from augbench.methods.mochi import MoCHi
from augbench.methods.multiaugs import MultiAugs
from augbench.methods.noise_mask import NoiseMask
from augbench.methods.puzzlemix import PuzzleMixSupervised
from augbench.methods.saa import SAA
from augbench.methods.scatsimclr import ScatSimCLR
from augbench.methods.simclr import SimCLR
from augbench.methods.ssal_ensembles import SSALEnsembles
from augbench.methods.spec import MethodContext, build_method, method_names, presets, resolve_method
from augbench.methods.supervised import Supervised
from augbench.methods.swav import SwAV
from augbench.methods.transmix import TransMixSupervised
from augbench.methods.tta import TTA
from augbench.methods.uda import UDA
from augbench.methods.unicon_ha import UniConHA
from augbench.methods.untrained import Untrained

__all__ = [
    "METHODS",
    "AdAutoMix",
    "AMCL",
    "AugMixJSD",
    "CABKWS",
    "AutoMix",
    "CL4SRec",
    "AutoTCL",
    "CoresetAug",
    "ContrastiveMetric",
    "DANN",
    "KnowledgeDistillation",
    "FixMatch",
    "MADAug",
    "ManifoldMixup",
    "MCLRec",
    "MCMCInvariance",
    "Metrix",
    "Method",
    "MethodContext",
    "MixSupervised",
    "EarlyStoppedMix",
    "MoCo",
    "MoCHi",
    "HaLP",
    "MultiAugs",
    "NoiseMask",
    "Phase",
    "PuzzleMixSupervised",
    "SAA",
    "ScatSimCLR",
    "SimCLR",
    "SSALEnsembles",
    "Supervised",
    "SwAV",
    "TSContrastive",
    "TTA",
    "TransMixSupervised",
    "UniformInvariance",
    "UDA",
    "UniConHA",
    "Untrained",
    "build_method",
    "method_names",
    "presets",
    "resolve_method",
]
