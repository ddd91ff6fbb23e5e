"""The built-in strategies every benchmark shows beside the entries, by name.

Two tiers: BASELINES (ShrinkBench's seven) and REFERENCES (the methods papers compare against,
each written from its paper). Both are trusted code and run in the worker's process.
"""

from .activation import GlobalMagAct, LayerMagAct
from .base import Pruning
from .gradient import GlobalMagGrad, LayerMagGrad
from .grasp import GraSP
from .l1_filter import L1Filter
from .lamp import LAMP
from .magnitude import GlobalMagWeight, LayerMagWeight
from .random import RandomPruning
from .snip import SNIP
from .synflow import SynFlow

BASELINES: dict[str, type[Pruning]] = {
    "random": RandomPruning,
    "global-mag-weight": GlobalMagWeight,
    "layer-mag-weight": LayerMagWeight,
    "global-mag-grad": GlobalMagGrad,
    "layer-mag-grad": LayerMagGrad,
    "global-mag-act": GlobalMagAct,
    "layer-mag-act": LayerMagAct,
}

REFERENCES: dict[str, type[Pruning]] = {
    "snip": SNIP,  # Lee, Ajanthan & Torr, ICLR 2019
    "grasp": GraSP,  # Wang, Zhang & Grosse, ICLR 2020
    "synflow": SynFlow,  # Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020
    "lamp": LAMP,  # Lee, Park, Mo, Ahn & Shin, ICLR 2021
    "l1-filter": L1Filter,  # Li, Kadav, Durdanovic, Samet & Graf, ICLR 2017
}


def _name(registry: dict[str, type[Pruning]], kind: str, name: str) -> str:
    if name in registry:
        return name
    by_class = {cls.__name__: key for key, cls in registry.items()}
    if name in by_class:
        return by_class[name]
    raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(registry)} "
                     f"(or their class names: {', '.join(by_class)})")


def baseline_name(name: str) -> str:
    """The registry name of a baseline given by that name or by its class name
    ("global-mag-weight" or "GlobalMagWeight"); an unknown name lists the known ones."""
    return _name(BASELINES, "baseline", name)


def reference_name(name: str) -> str:
    """The registry name of a reference method ("synflow" or "SynFlow"); an unknown name lists them."""
    return _name(REFERENCES, "reference method", name)


def get_baseline(name: str) -> type[Pruning]:
    return BASELINES[baseline_name(name)]


def get_reference(name: str) -> type[Pruning]:
    return REFERENCES[reference_name(name)]


def get_builtin(name: str) -> type[Pruning]:
    """A baseline or a reference method by its registry name (the two share no name)."""
    if name in REFERENCES:
        return REFERENCES[name]
    return get_baseline(name)


def builtin_tier(name: str) -> str:
    """'baseline' or 'reference' for a built-in's registry name."""
    if name in REFERENCES:
        return "reference"
    baseline_name(name)  # an unknown name lists the known ones
    return "baseline"
