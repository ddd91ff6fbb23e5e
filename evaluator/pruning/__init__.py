"""Everything a strategy needs, under ShrinkBench's names.

A ShrinkBench strategy ports by changing only its imports to `from evaluator.pruning import ...`.
See base.py for the pruning policy and mask.py for the validated `Mask` the harness builds.
"""

from .activation import GlobalMagAct, LayerMagAct
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
from .l1_filter import L1Filter, filter_norms
from .lamp import LAMP, lamp_scores
from .magnitude import GlobalMagWeight, LayerMagWeight
from .mask import Mask, MaskError
from .mixins import ActivationMixin, GradientMixin, get_activations, get_param_gradients
from .random import RandomPruning
from .snip import SNIP
from .synflow import SynFlow
from .registry import (BASELINES, REFERENCES, baseline_name, builtin_tier, get_baseline, get_builtin,
                       get_reference, reference_name)

__all__ = [
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
