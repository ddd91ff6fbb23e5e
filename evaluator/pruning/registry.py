"""The baseline strategies every benchmark shows beside the entries, by name."""

from .activation import GlobalMagAct, LayerMagAct
from .base import Pruning
from .gradient import GlobalMagGrad, LayerMagGrad
from .magnitude import GlobalMagWeight, LayerMagWeight
from .random import RandomPruning

BASELINES: dict[str, type[Pruning]] = {
    "random": RandomPruning,
    "global-mag-weight": GlobalMagWeight,
    "layer-mag-weight": LayerMagWeight,
    "global-mag-grad": GlobalMagGrad,
    "layer-mag-grad": LayerMagGrad,
    "global-mag-act": GlobalMagAct,
    "layer-mag-act": LayerMagAct,
}


def baseline_name(name: str) -> str:
    """The registry name of a baseline given by that name or by its class name
    ("global-mag-weight" or "GlobalMagWeight"); an unknown name lists the known ones."""
    if name in BASELINES:
        return name
    by_class = {cls.__name__: key for key, cls in BASELINES.items()}
    if name in by_class:
        return by_class[name]
    raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)} "
                     f"(or their class names: {', '.join(by_class)})")


def get_baseline(name: str) -> type[Pruning]:
    return BASELINES[baseline_name(name)]
