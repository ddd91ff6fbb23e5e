"""The dense frontier's types and arithmetic: a board's smaller dense networks, and the distance of
a pruned network to them at its own cost (parameters: its nonzero ones, `size_nz`; MACs:
`flops_nz`): its top-1 minus the top-1 of the best frontier network whose cost is at most the
pruned one's; none when no frontier network is that small. The networks themselves are
registered in evaluator/frontier.py.

    frontier.best(4704, "params")          -> the digits-mlp frontier's hidden 32
    frontier.distance(0.95, 4704, "params") -> 0.95 - that network's top-1 (a fraction)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass


COSTS = ("params", "macs")


@dataclass(frozen=True)
class FrontierPoint:
    """One dense network of the frontier (counts for one input sample, as evaluator.metrics)."""

    benchmark: str  # the board it is drawn on
    label: str  # for pages: "hidden 64", "width x0.5", "cifar10-resnet20"
    model: str  # evaluator.models name
    width: float | None  # the model's width argument; None: the model as registered
    params: int  # every parameter
    macs: int  # multiply-accumulates of the Conv/Linear layers, one input
    top1: float | None  # test top-1 of the pinned weights, in [0, 1]; None: not known
    sha256: str | None  # of the weights file; None: pinned by the sidecar `import-weights` writes
    weights_of: str = ""  # "": weights/frontier/<name>.safetensors; else that benchmark's pinned weights
    top1_source: str = "measured"  # measured here | published (the publisher's figure)

    @property
    def name(self) -> str:
        return self.weights_of or f"{self.benchmark}@{self.width:g}"

    @property
    def weights_file(self) -> str:
        """The weights' path under a weights folder (evaluator/weights.py)."""
        if self.weights_of:
            from .benchmarks import get_benchmark

            return get_benchmark(self.weights_of).weights_file
        return f"frontier/{self.name}.safetensors"

    def cost(self, cost: str) -> int:
        if cost not in COSTS:
            raise ValueError(f"unknown cost {cost!r}; known: {', '.join(COSTS)}")
        return self.params if cost == "params" else self.macs

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FrontierPoint":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Frontier:
    """A board's frontier: its dense network's counts and the frontier networks, smallest first."""

    params: int  # the benchmark's dense network: every parameter
    macs: int  # and its MACs, one input
    points: tuple[FrontierPoint, ...] = ()

    def best(self, budget: float, cost: str = "params") -> FrontierPoint | None:
        """The frontier network of highest top-1 whose cost is at most `budget` (ties: the
        smaller); None when none is that small or none has a known top-1."""
        fitting = [p for p in self.points if p.top1 is not None and p.cost(cost) <= budget]
        return max(fitting, key=lambda p: (p.top1, -p.cost(cost)), default=None)

    def distance(self, top1: float, budget: float, cost: str = "params") -> float | None:
        """`top1` minus the best frontier network's top-1 within `budget` (fractions)."""
        point = self.best(budget, cost)
        return None if point is None else top1 - point.top1

    def run_distance(self, top1: float | None, compression: float | None, speedup: float | None,
                     cost: str = "params") -> float | None:
        """The distance of one run from its record's top-1, actual compression (size / size_nz)
        and theoretical speedup (flops / flops_nz): its cost is the dense count over the ratio."""
        ratio = compression if cost == "params" else speedup
        if not _finite(top1) or not _finite(ratio) or ratio <= 0:
            return None
        return self.distance(float(top1), self.cost_at(ratio, cost), cost)

    def cost_at(self, ratio: float, cost: str = "params") -> float:
        """The nonzero parameters (or MACs) of a pruned network at this compression (or speedup)."""
        return (self.params if cost == "params" else self.macs) / ratio

    def as_dict(self) -> dict:
        return {"params": self.params, "macs": self.macs, "points": [p.as_dict() for p in self.points]}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Frontier | None":
        """The frontier stored on a leaderboard Benchmark (None for an empty or malformed one)."""
        try:
            return cls(int(data["params"]), int(data["macs"]),
                       tuple(FrontierPoint.from_dict(p) for p in data.get("points", ())))
        except (TypeError, KeyError, ValueError):
            return None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def mean_distance(distances: Iterable[float | None]) -> float | None:
    """The mean of the runs' distances at one point; None if any run has none (no frontier
    network as small as that run)."""
    values = list(distances)
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


@dataclass(frozen=True)
class PointDistance:
    """A method's distance to the frontier at one requested compression, over its seeds' runs."""

    compression: float  # requested
    params: float | None  # mean over runs of top-1 minus the best frontier top-1 within the run's size_nz
    macs: float | None  # the same within the run's flops_nz
    frontier_params: str = ""  # label of that frontier network (at the mean cost); "": none
    frontier_macs: str = ""


@dataclass(frozen=True)
class MethodDistance:
    """A method's distances at each compression, and the best of them above 1x (nothing is
    pruned at 1x): the point where it stands highest above the frontier (ties, to 1e-9: the higher
    compression); None when no compression has a frontier network as small."""

    points: tuple[PointDistance, ...]
    best_params: PointDistance | None
    best_macs: PointDistance | None


def method_distance(frontier: Frontier, runs: Iterable[tuple]) -> MethodDistance:
    """`runs`: (requested compression, top-1, actual compression, theoretical speedup) of one
    method's finished runs on the board."""
    by_point: dict[float, list[tuple]] = {}
    for compression, top1, actual, speedup in runs:
        by_point.setdefault(float(compression), []).append((top1, actual, speedup))
    points = []
    for compression in sorted(by_point):
        cell = by_point[compression]
        found = {}
        for cost, column in (("params", 1), ("macs", 2)):
            distance = mean_distance(frontier.run_distance(*run, cost) for run in cell)
            # the network it is measured against, at the cell's mean cost (its seeds' costs differ
            # by a few weights at most)
            network = None if distance is None else frontier.best(
                frontier.cost_at(sum(run[column] for run in cell) / len(cell), cost), cost)
            found[cost] = (distance, network.label if network else "")
        points.append(PointDistance(compression, found["params"][0], found["macs"][0],
                                    found["params"][1], found["macs"][1]))

    def best(cost: str) -> PointDistance | None:
        scored = [p for p in points if p.compression > 1 and getattr(p, cost) is not None]
        return max(scored, key=lambda p: (round(getattr(p, cost), 9), p.compression), default=None)

    return MethodDistance(tuple(points), best("params"), best("macs"))
