"""The built-in strategies every benchmark shows beside the entries, by name.

Two tiers: BASELINES (ShrinkBench's seven) and REFERENCES (the methods papers compare against,
each written from its paper). Both are trusted code and run in the worker's process.

STRUCTURED holds more reference methods (tier "reference"), the structured and N:M ones, which
are NOT seeded onto the default track's boards: a track picks the built-ins it shows by the
masks they make, each class's `pattern` ("unstructured", "channels", "2:4"), with
`builtins_with_pattern`. `l1-filter` stays in REFERENCES (it is on the default boards) and has
pattern "channels" too.
"""

from .activation import GlobalMagAct, LayerMagAct
from .base import Pruning
from .fpgm import FPGM
from .gradient import GlobalMagGrad, LayerMagGrad
from .grasp import GraSP
from .l1_filter import L1Filter, L1FilterGlobal
from .lamp import LAMP
from .magnitude import GlobalMagWeight, LayerMagWeight
from .nm import NMMagnitude
from .random import RandomPruning
from .random_filters import RandomFilters
from .slimming import BNSlimming
from .snip import SNIP
from .synflow import SynFlow
from .taylor import TaylorFilters, TaylorFiltersGlobal

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

STRUCTURED: dict[str, type[Pruning]] = {
    "random-filters": RandomFilters,  # the random-channel control
    "l1-filter-global": L1FilterGlobal,  # Li et al., ICLR 2017, ranked globally (mean-normalised)
    "fpgm": FPGM,  # He, Liu, Wang, Hu & Yang, CVPR 2019
    "taylor-filters": TaylorFilters,  # Molchanov, Mallya, Tyree, Frosio & Kautz, CVPR 2019, per layer
    "taylor-filters-global": TaylorFiltersGlobal,  # the same, ranked globally (the paper's setting)
    "bn-slimming": BNSlimming,  # Liu, Li, Shen, Huang, Yan & Zhang, ICCV 2017
    "nm-magnitude": NMMagnitude,  # 2:4 by magnitude (Mishra et al. 2021)
}

_ALL_REFERENCES = {**REFERENCES, **STRUCTURED}


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
    """The registry name of a reference method, of either registry ("synflow" or "SynFlow",
    "fpgm" or "FPGM"); an unknown name lists them."""
    return _name(_ALL_REFERENCES, "reference method", name)


def get_baseline(name: str) -> type[Pruning]:
    return BASELINES[baseline_name(name)]


def get_reference(name: str) -> type[Pruning]:
    return _ALL_REFERENCES[reference_name(name)]


def get_builtin(name: str) -> type[Pruning]:
    """A baseline or a reference method by its registry name (no two share a name)."""
    if name in _ALL_REFERENCES:
        return _ALL_REFERENCES[name]
    return get_baseline(name)


def builtin_tier(name: str) -> str:
    """'baseline' or 'reference' for a built-in's registry name."""
    if name in _ALL_REFERENCES:
        return "reference"
    baseline_name(name)  # an unknown name lists the known ones
    return "baseline"


def builtins_with_pattern(pattern: str) -> list[str]:
    """Registry names of the built-ins whose masks have this pattern ("unstructured",
    "channels", "2:4"), baselines first, then REFERENCES, then STRUCTURED, each in order."""
    registries = {**BASELINES, **_ALL_REFERENCES}
    known = sorted({cls.pattern for cls in registries.values()})
    if pattern not in known:
        raise ValueError(f"unknown mask pattern {pattern!r}; known: {', '.join(known)}")
    return [name for name, cls in registries.items() if cls.pattern == pattern]
