"""Structured pruning really runs faster; unstructured masks do not (issue 21's "done when").

For digits-cnn and mnist1d-cnn (their pinned pretrained weights): L1-norm filter masks ("l1-filter"
from the built-in registry, run as on the structured track) at 2x and 4x compression; the
channels removed (evaluator/structured.py, which checks the removed network computes what the
masked one does); the theoretical speedup (dense MACs / MACs of the removed network) and the
measured one (evaluator/latency.py: dense / pruned latency, interleaved, median of 30 after 5
warm-up, on this machine's CPU at batch 1 and 64, threads fixed) -- measured twice, and the two
must agree within 10 % (`repeat ok`). Then a global-magnitude 16x mask kept as dense weights (the
default track's run): its measured speedup, about 1.
Run: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/structured_speedup.py [REPETITIONS]` (default 30;
on a shared machine more repetitions steady the medians).
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator.benchmarks import get_benchmark  # noqa: E402
from evaluator.finetune import MaskedWeights  # noqa: E402
from evaluator.latency import measure_latency  # noqa: E402
from evaluator.metrics import model_metrics  # noqa: E402
from evaluator.pruning import GlobalMagWeight, Mask, get_builtin  # noqa: E402
from evaluator.realize import dense_macs  # noqa: E402
from evaluator.runner import Context, calibration_batch  # noqa: E402
from evaluator.structured import remove_channels  # noqa: E402

BATCHES = (1, 64)
AGREE = 0.10  # two measurements of one speedup agree within this, relative


REPETITIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 30  # per model and batch size, median taken


def speedups(pruned, dense, example):
    latency = measure_latency(pruned, dense, example, batch_sizes=BATCHES, repetitions=REPETITIONS)
    return {b: latency.speedup(b) for b in BATCHES}, latency


def row(label, theoretical, pruned, dense, example):
    first, latency = speedups(pruned, dense, example)
    second, _ = speedups(pruned, dense, example)
    agree = all(abs(first[b] - second[b]) <= AGREE * max(first[b], second[b]) for b in BATCHES)
    cells = " | ".join(f"{first[b]:.2f}x / {second[b]:.2f}x" for b in BATCHES)
    print(f"| {label} | {theoretical:.2f}x | {cells} | {'ok' if agree else 'NO'} |", flush=True)
    return latency, agree


def main():
    torch.manual_seed(0)
    print("| benchmark, masks | theoretical speedup | measured b1 (twice) | measured b64 (twice) | repeat ok |")
    print("| --- | --- | --- | --- | --- |")
    agreed, latency = True, None
    for base in ("digits-cnn", "mnist1d-cnn"):
        ctx = Context.load(get_benchmark(f"{base}/structured"), device="cpu")
        inputs, outputs = calibration_batch(ctx.splits.train, ctx.benchmark.calibration_size, 0)
        dense = ctx.fresh_model().eval()
        example = inputs[0]  # one sample, no batch dimension
        for compression in (2, 4):
            model = ctx.fresh_model()
            method = get_builtin("l1-filter")(model, inputs, outputs, compression=compression)
            mask = Mask.from_strategy_output(model, method.model_masks())
            removed = remove_channels(model, mask, inputs[:8])
            theoretical = dense_macs(dense, inputs) / dense_macs(removed, inputs)
            latency, ok = row(f"{base} l1-filter {compression}x", theoretical, removed, dense, example)
            agreed &= ok
        model = ctx.fresh_model()
        mask = Mask.from_strategy_output(model, GlobalMagWeight(model, inputs, outputs, compression=16).model_masks())
        MaskedWeights(model, mask.to_torch()).apply()
        theoretical = model_metrics(model, example, mask).speedup  # flops / flops_nz
        latency, ok = row(f"{base} global-mag-weight 16x, unstructured", theoretical, model.eval(), dense, example)
        agreed &= ok
    print(f"\nmachine: {latency.device_name} ({latency.device}), {latency.threads} threads, kernel {latency.kernel}")
    print(f"repeatable={'yes' if agreed else 'no'}")


if __name__ == "__main__":
    main()
