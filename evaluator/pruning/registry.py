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


def get_baseline(name: str) -> type[Pruning]:
    try:
        return BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}") from None
