"""Tracks: the comparison setups. A result is a (benchmark, track) cell.

A track fixes two things besides the benchmark: which pinned weights the strategy sees, and the
protocol that trains the masked network afterwards. Each (benchmark, track) pair is a *run target*
in the benchmark registry, named "benchmark/track" ("digits-mlp/init"), so that everything keyed
by a benchmark (run identity, CSV, database rows, sandbox, dispatch) works unchanged; the default
track's target is the benchmark itself, with the identity its runs always had.

    after  the pinned pretrained weights; masked finetuning under the benchmark's finetuning
           protocol (every benchmark; the default)
    init   the pinned *initial* weights (`python -m evaluator init NAME`, their own SHA-256);
           the masked network trained from scratch under the benchmark's pretraining protocol,
           shortened to SCRATCH_EPOCHS_PER_FINETUNE_EPOCH x the finetuning epochs (foresight
           pruning: SNIP, GraSP, SynFlow; Frankle et al. 2021's setup)
    long   the pretrained weights; a longer decayed finetune (LONG_FINETUNE_FACTOR x the epochs,
           cosine to zero), a second budget in the spirit of Wang et al. 2023's setup S3.2
    structured  the pretrained weights; masks of whole output channels, which the evaluator
           *removes* (evaluator/structured.py); the smaller dense network is finetuned and
           timed; its board ranks by measured speedup
    nm24   the pretrained weights; 2:4 semi-structured masks (evaluator/nm.py), 2x only

Besides weights and protocol a track says which masks it takes (`check_masks`, after
`Mask.validate`), what network they make (`realize`: evaluator/realize.py), which compressions
and which built-in methods it offers, its sparsity pattern (for the latency code's kernels) and
the x axis its board ranks and plots by.

A new track is one `register_track` plus a `register_target` per benchmark that offers it.
    get_track("late") -> ValueError: unknown track 'late'; known: after, init, long, structured, nm24
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .benchmark_registry import (BENCHMARKS, DEFAULT_TRACK, Benchmark, FinetuneProtocol, get_benchmark,
                                 register_benchmark)
from .models import model_parameters
from .nm import check_nm_masks, realize_nm
from .pruning.mask import Mask
from .realize import held_masks
from .structured import check_channel_masks, realize_removed

# The init track trains from scratch for this many epochs per epoch of the benchmark's finetuning
# (at most the pretraining's): a whole 7 x 3 sweep within about twice the after-training one.
SCRATCH_EPOCHS_PER_FINETUNE_EPOCH = 2
LONG_FINETUNE_FACTOR = 3


@dataclass(frozen=True)
class Track:
    name: str  # a slug: the part after "/" in a target's name
    title: str  # for pages: "after training"
    summary: str  # one sentence: what the strategy sees and what happens after masking
    weights: str  # which pinned file the strategy sees: "pretrained" | "initial"
    after_masking: Callable[[Benchmark], FinetuneProtocol]  # what trains the masked network
    # Which masks the track takes, after Mask.validate: raises MaskError naming the layer.
    check_masks: Callable[[nn.Module, Mask], None] = lambda model, mask: None
    # (model, masks, a batch of training samples) -> the network finetuned and scored
    realize: Callable = held_masks
    compressions: Callable[[Benchmark], tuple[int, ...]] | None = None  # None: the benchmark's
    builtins: Callable[[Benchmark], list[str]] | None = None  # None: every baseline and reference
    sparsity: str = "unstructured"  # what the pruned network is for a kernel: unstructured | channels | 2:4
    board_axis: str = "compression"  # what the board ranks and plots top-1 by: compression | measured_speedup

    def __post_init__(self):
        if self.weights not in ("pretrained", "initial"):
            raise ValueError(f"unknown weights {self.weights!r}; known: pretrained, initial")
        if self.sparsity not in SPARSITY:
            raise ValueError(f"unknown sparsity {self.sparsity!r}; known: {', '.join(SPARSITY)}")
        if self.board_axis not in ("compression", "measured_speedup"):
            raise ValueError(f"unknown board axis {self.board_axis!r}; known: compression, measured_speedup")

    def builtin_names(self, benchmark: Benchmark) -> list[str]:
        """The registry names of the built-in methods this track shows on `benchmark`, looked up
        now: a name the registry lacks is a ValueError listing the known ones."""
        from .pruning import BASELINES, REFERENCES, get_builtin

        names = self.builtins(benchmark) if self.builtins else [*BASELINES, *REFERENCES]
        for name in names:
            get_builtin(name)
        return names


SPARSITY = ("unstructured", "channels", "2:4")


TRACKS: dict[str, Track] = {}


def register_track(track: Track) -> Track:
    if track.name in TRACKS:
        raise ValueError(f"track {track.name!r} registered twice")
    TRACKS[track.name] = track
    return track


def get_track(name: str) -> Track:
    try:
        return TRACKS[name]
    except KeyError:
        raise ValueError(f"unknown track {name!r}; known: {', '.join(TRACKS)}") from None


def list_tracks() -> list[Track]:
    return list(TRACKS.values())


def target_name(base: str, track: str) -> str:
    return base if track == DEFAULT_TRACK else f"{base}/{track}"


def initial_weights_file(base: Benchmark) -> str:
    return f"{base.name}.init.safetensors"


def make_target(base: Benchmark, track: Track | str, **overrides) -> Benchmark:
    """The run target of `base` on `track` (not registered; `register_target` does that)."""
    track = get_track(track) if isinstance(track, str) else track
    if track.name == DEFAULT_TRACK:
        return dataclasses.replace(base, **overrides) if overrides else base
    fields = {"compressions": track.compressions(base)} if track.compressions else {}
    fields |= {"name": target_name(base.name, track.name), "track": track.name, "base": base.name,
              "finetune": track.after_masking(base),
              "description": f"{base.description}; {track.title}"}
    if track.weights == "initial":
        # None: pinned by the sidecar `init` writes, as a standard benchmark's pretrained weights.
        fields.update(weights_name=initial_weights_file(base), weights_sha256=None, reference_top1=None)
    else:
        fields.update(weights_name=base.weights_file)
    fields.update(overrides)
    return dataclasses.replace(base, **fields)


def register_target(base: str, track: str, **overrides) -> Benchmark:
    """Register `base` on `track` as the run target "base/track"; `overrides` pin what only a
    measurement knows (the initial weights' SHA-256, the dense top-1 the track reaches)."""
    return register_benchmark(make_target(get_benchmark(base), track, **overrides))


def targets_of(base: str) -> list[Benchmark]:
    """The base benchmark's targets, in track registration order (the default first)."""
    order = list(TRACKS)
    found = [b for b in BENCHMARKS.values() if b.base == base]
    return sorted(found, key=lambda b: order.index(b.track))


def resolve_target(benchmark: str, track: str | None = None) -> Benchmark:
    """The target for a benchmark name (or a target name) and a track name; errors name the
    known tracks, or those the benchmark offers."""
    if track is None:
        return get_benchmark(benchmark)
    get_track(track)
    base = get_benchmark(benchmark)
    if base.track != DEFAULT_TRACK:
        raise ValueError(f"{benchmark!r} is already a target of track {base.track!r}; give its "
                         f"benchmark {base.base!r} with the track instead")
    offered = [t.track for t in targets_of(base.name)]
    if track not in offered:
        raise ValueError(f"benchmark {base.name!r} has no track {track!r}; its tracks: {', '.join(offered)}")
    return get_benchmark(target_name(base.name, track))


def from_scratch(benchmark: Benchmark) -> FinetuneProtocol:
    """The benchmark's pretraining protocol, shortened to at most SCRATCH_EPOCHS_PER_FINETUNE_EPOCH
    times the finetuning epochs; no early stopping (selection on validation as always)."""
    epochs = min(benchmark.pretrain.epochs, SCRATCH_EPOCHS_PER_FINETUNE_EPOCH * benchmark.finetune.epochs)
    return dataclasses.replace(benchmark.pretrain, epochs=epochs, patience=0)


def longer_finetune(benchmark: Benchmark) -> FinetuneProtocol:
    """The benchmark's finetuning, LONG_FINETUNE_FACTOR times as many epochs, decayed (cosine)."""
    return dataclasses.replace(benchmark.finetune, epochs=LONG_FINETUNE_FACTOR * benchmark.finetune.epochs,
                               schedule="cosine")


# The structured track's methods (evaluator/pruning registry names): each required, its
# "-global" variant shown where registered; BN-gamma only on models with batch norm.
STRUCTURED_BUILTINS = ("random-filters", "l1-filter", "fpgm", "taylor-filters", "bn-slimming")
NEEDS_BATCHNORM = ("bn-slimming",)


def structured_builtins(benchmark: Benchmark) -> list[str]:
    from .pruning import get_builtin

    def registered(name: str) -> bool:
        try:
            get_builtin(name)
        except ValueError:
            return False
        return True

    has_bn = any(kind.startswith("BatchNorm") for kind, _ in model_parameters(benchmark.model).values())
    names = []
    for name in STRUCTURED_BUILTINS:
        if name in NEEDS_BATCHNORM and not has_bn:
            continue
        names.append(name)  # required: Track.builtin_names fails loudly on a missing one
        if registered(f"{name}-global"):
            names.append(f"{name}-global")
    return names


register_track(Track(
    name=DEFAULT_TRACK, title="after training", weights="pretrained", after_masking=lambda b: b.finetune,
    summary="The strategy prunes the pinned pretrained weights; the masked network is finetuned "
            "under the benchmark's finetuning protocol."))
register_track(Track(
    name="init", title="at initialization", weights="initial", after_masking=from_scratch,
    summary="The strategy prunes the pinned initial weights (before any training); the masked "
            "network is trained from scratch under the benchmark's training protocol, shortened."))
register_track(Track(
    name="long", title="longer finetuning", weights="pretrained", after_masking=longer_finetune,
    summary=f"The strategy prunes the pinned pretrained weights; the masked network is finetuned "
            f"{LONG_FINETUNE_FACTOR}x as long, with the learning rate decayed to zero."))
register_track(Track(
    name="structured", title="structured (channels removed)", weights="pretrained",
    after_masking=lambda b: b.finetune, check_masks=check_channel_masks, realize=realize_removed,
    builtins=structured_builtins, sparsity="channels", board_axis="measured_speedup",
    summary="The strategy prunes whole output channels of the pinned pretrained weights; the evaluator "
            "removes them (and what depends on them), then finetunes and times the smaller dense network."))
register_track(Track(
    name="nm24", title="2:4 sparsity", weights="pretrained", after_masking=lambda b: b.finetune,
    check_masks=check_nm_masks, realize=realize_nm, compressions=lambda b: (2,),
    builtins=lambda b: ["nm-magnitude"], sparsity="2:4",
    summary="The strategy keeps at most 2 of every 4 consecutive weights along each layer's input "
            "dimension (2x only); the masked network is finetuned under the benchmark's protocol."))
