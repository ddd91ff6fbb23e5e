"""Everything a strategy needs, under ShrinkBench's names.

A ShrinkBench strategy ports by changing only its imports to `from evaluator.pruning import ...`.
See base.py for the pruning policy and mask.py for the validated `Mask` the harness builds.
"""

from .activation import GlobalMagAct, LayerMagAct
from .channels import ChannelPruning, channel_mask
from .base import LayerPruning, Pruning, VisionPruning, fraction_to_keep, get_params, prunable_parameter_names
from .gradient import GlobalMagGrad, LayerMagGrad
from .helpers import (
    activation_importance,
    flatten_importances,
    fraction_mask,
    fraction_threshold,
    global_fraction_masks,
    importance_masks,
    keep_count,
    map_importances,
    signed_threshold_mask,
    threshold_mask,
)
from .grasp import GraSP
from .fpgm import FPGM, fpgm_scores
from .l1_filter import L1Filter, L1FilterGlobal, filter_norms
from .lamp import LAMP, lamp_scores
from .magnitude import GlobalMagWeight, LayerMagWeight
from .mask import Mask, MaskError
from .nm import NMMagnitude, n_m_masks
from .mixins import ActivationMixin, GradientMixin, get_activations, get_param_gradients
from .random import RandomPruning
from .random_filters import RandomFilters
from .slimming import BNSlimming, following_batchnorms, models_with_batchnorm
from .snip import SNIP
from .synflow import SynFlow
from .taylor import TaylorFilters, TaylorFiltersGlobal, taylor_scores
from .registry import (BASELINES, REFERENCES, STRUCTURED, baseline_name, builtin_tier, builtins_with_pattern,
                       get_baseline, get_builtin, get_reference, reference_name)

__all__ = [
    "ChannelPruning",
    "channel_mask",
    "FPGM",
    "fpgm_scores",
    "L1FilterGlobal",
    "NMMagnitude",
    "n_m_masks",
    "RandomFilters",
    "BNSlimming",
    "following_batchnorms",
    "models_with_batchnorm",
    "TaylorFilters",
    "TaylorFiltersGlobal",
    "taylor_scores",
    "STRUCTURED",
    "builtins_with_pattern",
    "ActivationMixin",
    "BASELINES",
    "REFERENCES",
    "baseline_name",
    "GlobalMagAct",
    "GlobalMagGrad",
    "GlobalMagWeight",
    "GradientMixin",
    "GraSP",
    "L1Filter",
    "LAMP",
    "LayerMagAct",
    "LayerMagGrad",
    "LayerMagWeight",
    "LayerPruning",
    "Mask",
    "MaskError",
    "Pruning",
    "RandomPruning",
    "SNIP",
    "SynFlow",
    "VisionPruning",
    "activation_importance",
    "filter_norms",
    "flatten_importances",
    "fraction_mask",
    "fraction_threshold",
    "fraction_to_keep",
    "get_activations",
    "builtin_tier",
    "get_baseline",
    "get_builtin",
    "get_reference",
    "get_param_gradients",
    "get_params",
    "global_fraction_masks",
    "importance_masks",
    "keep_count",
    "lamp_scores",
    "map_importances",
    "prunable_parameter_names",
    "reference_name",
    "signed_threshold_mask",
    "threshold_mask",
]
