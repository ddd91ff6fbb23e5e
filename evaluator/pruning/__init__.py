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
    "activation_importance",
    "ActivationMixin",
    "baseline_name",
    "BASELINES",
    "BNSlimming",
    "builtin_tier",
    "builtins_with_pattern",
    "channel_mask",
    "ChannelPruning",
    "filter_norms",
    "flatten_importances",
    "following_batchnorms",
    "FPGM",
    "fpgm_scores",
    "fraction_mask",
    "fraction_threshold",
    "fraction_to_keep",
    "get_activations",
    "get_baseline",
    "get_builtin",
    "get_param_gradients",
    "get_params",
    "get_reference",
    "global_fraction_masks",
    "GlobalMagAct",
    "GlobalMagGrad",
    "GlobalMagWeight",
    "GradientMixin",
    "GraSP",
    "importance_masks",
    "keep_count",
    "L1Filter",
    "L1FilterGlobal",
    "LAMP",
    "lamp_scores",
    "LayerMagAct",
    "LayerMagGrad",
    "LayerMagWeight",
    "LayerPruning",
    "map_importances",
    "Mask",
    "MaskError",
    "models_with_batchnorm",
    "n_m_masks",
    "NMMagnitude",
    "prunable_parameter_names",
    "Pruning",
    "RandomFilters",
    "RandomPruning",
    "reference_name",
    "REFERENCES",
    "signed_threshold_mask",
    "SNIP",
    "STRUCTURED",
    "SynFlow",
    "taylor_scores",
    "TaylorFilters",
    "TaylorFiltersGlobal",
    "threshold_mask",
    "VisionPruning",
]
