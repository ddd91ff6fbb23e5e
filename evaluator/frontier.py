"""The dense frontier: smaller dense networks of a benchmark's own kind, and how far a pruned
network stands above or below them at its own cost.

Pruning is worth its trouble only if a pruned network beats a dense one that is born as small:
Blalock et al.'s meta-analysis ("What is the State of Neural Network Pruning?", MLSys 2020,
section 4.2) found that it often does not. For each embedded benchmark the frontier is a family
of dense networks of the same architecture at smaller widths (`get_model(model, width=w)`),
pretrained from seed 0 with the benchmark's own pretraining protocol by
`python -m evaluator pretrain NAME --frontier`, written as `weights/frontier/<name>@<width>.safetensors`
and pinned below by SHA-256 with the parameters, MACs and test top-1 measured here. The
benchmark's own width is the benchmark's own pinned weights. On the CIFAR ResNets the family is
the smaller CIFAR ResNet benchmarks (ResNet-20 under ResNet-56 and -110), whose weights an operator
imports (evaluator/published.py); nothing is shipped for them.

The types and the distance arithmetic are in evaluator/frontier_distance.py (re-exported here).

    get_frontier("digits-mlp").best(4704, "params")  -> FrontierPoint hidden 32
"""

from __future__ import annotations

from .benchmarks import get_benchmark
from .frontier_distance import (COSTS, Frontier, FrontierPoint, MethodDistance, PointDistance, mean_distance,
                                method_distance)

__all__ = ["COSTS", "CIFAR_RESNETS", "PINNED", "WIDTHS", "Frontier", "FrontierPoint", "MethodDistance",
           "PointDistance", "frontier_latencies", "frontier_model", "frontier_name", "frontier_point", "get_frontier", "mean_distance",
           "method_distance"]


# --- the registry --------------------------------------------------------------------------------

# Widths of each embedded benchmark's family (`get_model(model, width=w)`), the benchmark's own last.
# The CNNs go down to x0.125 so that the frontier reaches their 16x-32x compressions.
WIDTHS: dict[str, tuple[float, ...]] = {
    "digits-mlp": (32, 64, 128, 256, 512),
    "digits-cnn": (0.125, 0.25, 0.5, 0.75, 1.0),
    "mnist1d-cnn": (0.125, 0.25, 0.5, 0.75, 1.0),
}
# "<benchmark>@<width>": (params, MACs, SHA-256 of weights/frontier/<name>.safetensors, test top-1),
# written by `python -m evaluator pretrain NAME --frontier` (seed 0, CPU). The benchmark's own
# width: (params, MACs) of its dense network; its weights and top-1 are the benchmark's.
PINNED: dict[str, tuple] = {
    "digits-mlp@32": (3466, 3392, "4f6487124c1e616ee6952f1ceb282bb22f2e8a294282e27b552d445a37075a2a", 0.9583),
    "digits-mlp@64": (8970, 8832, "465bbdbafaacabf002a04e9a8b7965b2ec958c4a3ef7cd9b339bb10c5aeea0de", 0.9750),
    "digits-mlp@128": (26122, 25856, "cafce500705f373f029638864caceb6132086f7d42a0141c596f2c169a0a4b4d", 0.9778),
    "digits-mlp@256": (85002, 84480, "89cd512583c0126805b6cb8e3f1d11f604857aa2d8db16f99fe262d8c9aa6785", 0.9806),
    "digits-mlp@512": (301066, 300032),
    "digits-cnn@0.125": (2570, 22944, "c911a1330cb909c25de4981e29202b3754373c802ceaabdfb5995d5909856a0d", 0.9194),
    "digits-cnn@0.25": (9802, 86848, "7212557056f82c2971c39313db68c424bfae00fcdf495abe13410436033d0a62", 0.9528),
    "digits-cnn@0.5": (38282, 337536, "535e48995563768a4a10767c9dd76ca7d38d61932c46cba29fc47a6a23dca0f8", 0.9833),
    "digits-cnn@0.75": (85450, 752064, "f431e0c2f09bbcf325c55d844d3cff66894938dd1ee088de4e8761848798ad4f", 0.9806),
    "digits-cnn@1": (151306, 1330432),
    "mnist1d-cnn@0.125": (2474, 13840, "bc6458a8c8451ea2ed8b6ee96f1794e186c6276106aee77cb024202d42668307", 0.9210),
    "mnist1d-cnn@0.25": (8010, 50720, "bca6261788a5aef50a95b36f049f27a7643b59071d786922e505080b465ea911", 0.9320),
    "mnist1d-cnn@0.5": (28298, 193600, "1b8031e8eb2b85913b4db7d1b70cc9448765acc5d40c4d67fd1b448377adb1b0", 0.9160),
    "mnist1d-cnn@0.75": (60874, 428640, "4b499cdc9e10505da6fe5e4ca60ef10a7318df6f8b06745713aa6942ef7521a0", 0.9240),
    "mnist1d-cnn@1": (105738, 755840),
}
# The CIFAR ResNets: the family is the smaller CIFAR ResNet benchmarks (published weights are
# importable for ResNet-20 and -56; none are pinned for -32 and -44). Benchmark: (params, MACs).
CIFAR_RESNETS: dict[str, tuple[int, int]] = {
    "cifar10-resnet20": (269722, 40551040),
    "cifar10-resnet56": (853018, 125485696),
    "cifar10-resnet110": (1727962, 252887680),
}


def frontier_name(benchmark: str, width: float) -> str:
    return f"{benchmark}@{width:g}"


def _dense_top1(name: str) -> tuple[float | None, str]:
    from .published import PUBLISHED

    benchmark = get_benchmark(name)
    if benchmark.reference_top1 is not None:
        return benchmark.reference_top1, "measured"
    if name in PUBLISHED:
        return PUBLISHED[name].top1, "published"
    return None, "measured"


def _width_label(benchmark: str, width: float) -> str:
    return f"hidden {width:g}" if benchmark == "digits-mlp" else f"width ×{width:g}"


def frontier_point(benchmark: str, width: float) -> FrontierPoint:
    """The registry's point of `benchmark`'s family at `width` (ValueError lists the widths)."""
    if benchmark not in WIDTHS or width not in WIDTHS[benchmark]:
        known = ", ".join(f"{b}: {', '.join(f'{w:g}' for w in ws)}" for b, ws in WIDTHS.items())
        raise ValueError(f"no frontier network {frontier_name(benchmark, width)!r}; the widths are {known}")
    dense = get_benchmark(benchmark)
    pinned = PINNED[frontier_name(benchmark, width)]
    if width == WIDTHS[benchmark][-1]:  # the benchmark's own network
        return FrontierPoint(benchmark, _width_label(benchmark, width), dense.model, width, *pinned[:2],
                             top1=dense.reference_top1, sha256=dense.weights_sha256, weights_of=benchmark)
    params, macs, sha, top1 = pinned
    return FrontierPoint(benchmark, _width_label(benchmark, width), dense.model, width, params, macs,
                         top1=top1, sha256=sha)


def frontier_model(point: FrontierPoint, num_classes: int | None = None):
    """The frontier network with its pinned weights loaded, after checking their SHA-256
    (evaluator/weights.py: found in $PRUNEBOARD_WEIGHTS_DIR, then weights/; WeightsError names
    the file and both hashes, or the command that writes a missing file)."""
    from .models import get_model
    from .weights import WeightsError, load_file, sha256_file, verified_weights, weights_dirs

    model = get_model(point.model, num_classes, width=point.width)
    if point.weights_of:
        state, _ = verified_weights(get_benchmark(point.weights_of))
    else:
        for folder in weights_dirs():
            path = folder / point.weights_file
            if path.is_file():
                break
        else:
            raise WeightsError(f"no weights for frontier network {point.name!r}: looked at "
                               f"{', '.join(str(d / point.weights_file) for d in weights_dirs())}; "
                               f"`python -m evaluator pretrain {point.benchmark} --width {point.width:g}` writes them")
        actual = sha256_file(path)
        if actual != point.sha256:
            raise WeightsError(f"weights {path} have SHA-256 {actual}, but frontier network {point.name!r} "
                               f"pins {point.sha256}; refusing other weights")
        state = load_file(str(path))
    model.load_state_dict(state, strict=True)
    return model


def get_frontier(benchmark: str) -> Frontier | None:
    """The frontier of a benchmark (of its base, for another track's target); None where it has
    no family, or no network smaller than its own."""
    base = get_benchmark(benchmark).base
    if base in WIDTHS:
        own = PINNED[frontier_name(base, WIDTHS[base][-1])]
        return Frontier(*own[:2], tuple(frontier_point(base, w) for w in WIDTHS[base]))
    if base in CIFAR_RESNETS:
        params, macs = CIFAR_RESNETS[base]
        points = []
        for name, (p, m) in CIFAR_RESNETS.items():
            if p <= params:
                top1, source = _dense_top1(name)
                points.append(FrontierPoint(base, name, get_benchmark(name).model, None, p, m, top1=top1,
                                            sha256=get_benchmark(name).weights_sha256, weights_of=name,
                                            top1_source=source))
        # ResNet-20 is the smallest: its board has no smaller network to compare with
        return Frontier(params, macs, tuple(points)) if len(points) > 1 else None
    return None


def frontier_latencies(benchmark: str, *, device="cpu", repetitions: int = 30, batch_sizes=(1, 64)) -> dict:
    """Each frontier network of `benchmark` timed against the benchmark's dense network on this
    machine (evaluator.latency.measure_latency: interleaved medians, the latency threads fixed):
    network name -> Latency, whose `speedup(b)` is the dense network's milliseconds over the
    smaller one's. Milliseconds depend on the machine (Latency.device_name says which). The
    networks are freshly built: a dense network's time does not depend on its weights' values,
    so no weights are needed. {} where the benchmark has no frontier of widths."""
    import torch

    from .latency import measure_latency
    from .models import get_model, model_input_shape

    frontier = get_frontier(benchmark)
    points = [p for p in (frontier.points if frontier else ()) if p.width is not None and not p.weights_of]
    if not points:
        return {}
    device = torch.device(device)
    dense = get_model(points[0].model).to(device)
    example = torch.zeros(model_input_shape(points[0].model))
    return {p.name: measure_latency(get_model(p.model, width=p.width).to(device), dense, example,
                                    batch_sizes=batch_sizes, repetitions=repetitions)
            for p in points}
