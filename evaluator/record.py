"""The run record: one run's results and evidence, a field per CSV column in column order, each
with its help. Plain dataclasses, nothing else imported: the runner (and a sandbox child that
imports it) needs no pandas. evaluator/columns.py derives the CSV's columns and
docs/columns.md's table from it."""

from __future__ import annotations

from dataclasses import dataclass, field


def _help(text: str):
    return field(metadata={"help": text})


@dataclass(frozen=True)
class RunRecord:
    """One run's record, as `runner.score_run` returns it (as a dict: `asdict`) and as the CSV,
    the site's Run rows and docs/columns.md show it: a field per column, in column order, each
    with its help. A new metric is a new field here (and its value in `score_run`)."""

    run_id: str = _help('hash of benchmark, protocol, weights SHA-256, strategy SHA-256, compression, seed')
    benchmark: str = _help("run target: the benchmark's name, then /track on other tracks than after (digits-mlp/init)")
    track: str = _help('comparison setup (evaluator/tracks.py): after (pretrained weights, finetuned), init (initial weights, trained from scratch), long (a longer finetune), structured (whole channels removed), nm24 (2:4 sparsity)')
    strategy: str = _help('baseline name, or strategy file stem[:Class]')
    compression_requested: float = _help('compression the strategy was asked for (size / size_nz)')
    seed: int = _help('seed of calibration batch, random masks and data order')
    size: int = _help('parameters of the whole model (elements)')
    size_nz: int = _help('parameters left nonzero by the masks (non-prunable ones all count)')
    compression: float = _help('actual compression, size / size_nz')
    compression_error: float = _help('(requested - actual) / requested; negative = pruned more than asked')
    flops: int = _help('multiply-accumulates of Conv and Linear layers, one input')
    flops_nz: int = _help('the same, counting only weights the masks keep')
    speedup: float = _help('theoretical speedup, flops / flops_nz')
    params_run: int = _help('parameters of the network actually run (elements): size on tracks that hold masks; the smaller network with the channels removed on the structured track; the values a 2:4 kernel stores on nm24')
    macs_run: int = _help('multiply-accumulates of the network actually run, one input: flops where masks are held; the removed network\'s on structured; half of each 2:4 layer\'s on nm24')
    speedup_run: float = _help('theoretical speedup of the network run, flops / macs_run (1 where masks are held as dense weights)')
    memory: int = _help('parameters + activations of one input (elements)')
    memory_nz: int = _help('nonzero parameters + nonzero activations, after finetuning (elements)')
    memory_nz_pre: int = _help('memory_nz before finetuning')
    pre_top1: float = _help('test top-1 with masks applied, before finetuning')
    pre_top5: float = _help('test top-5 before finetuning')
    pre_loss: float = _help('test cross-entropy before finetuning')
    top1: float = _help('test top-1 after masked finetuning (on the init track: after training from scratch)')
    top5: float = _help('test top-5 after finetuning')
    loss: float = _help('test cross-entropy after finetuning')
    val_top1: float = _help('validation top-1 of the kept epoch (selection uses validation only)')
    best_epoch: int = _help('finetuning epoch kept (0 = none improved on the masked weights)')
    epochs_run: int = _help("finetuning epochs run (fewer than the protocol's with early stopping)")
    test_samples: int = _help('test samples scored (every sample exactly once)')
    layer_collapse: bool = _help('true when a prunable layer kept no weight at all')
    collapsed_layers: str = _help('JSON list of the parameters left with no weight')
    layer_sparsity: str = _help('JSON object: prunable parameter -> share of its weights pruned')
    effective_compression: float = _help('size / parameters that compute: size_nz less the kept weights on no input-to-output path (evaluator/connectivity.py)')
    effective_speedup: float | None = _help('flops / MACs of the kept weights on an input-to-output path (empty when disconnected)')
    disconnected: bool = _help('true when no input-to-output path is left: the output does not depend on the input')
    latency_ms_b1: float = _help('measured milliseconds per forward of the finetuned pruned model at batch 1: median of interleaved repetitions (evaluator/latency.py)')
    latency_ms_b64: float = _help('the same at batch 64')
    dense_latency_ms_b1: float = _help('the dense model timed in the same process, interleaved with the pruned one, at batch 1 (ms)')
    dense_latency_ms_b64: float = _help('the same at batch 64 (ms)')
    measured_speedup_b1: float = _help('measured speedup at batch 1, dense_latency_ms_b1 / latency_ms_b1 (about 1 for masks run as dense weights)')
    measured_speedup_b64: float = _help("measured speedup at batch 64, dense_latency_ms_b64 / latency_ms_b64 (the site's measured speedup)")
    latency_threads: int = _help('torch CPU threads fixed while timing (PRUNEBOARD_LATENCY_THREADS)')
    latency_device: str = _help('the machine timed on: CPU model or GPU name, then (cpu) or (cuda); latencies from different machines do not compare')
    latency_kernel: str = _help('how the pruned model computed: dense (zeros as dense weights) or the sparse kernel used, e.g. 2:4 semi-structured (3 layers)')
    time_masks_s: float = _help("seconds computing this run's masks in the sandbox (its own job's time)")
    time_pre_eval_s: float = _help('seconds scoring before finetuning')
    time_finetune_s: float = _help('seconds finetuning')
    time_eval_s: float = _help('seconds scoring after finetuning')
    time_latency_s: float = _help('seconds timing latency (both models, both batch sizes)')
    time_total_s: float = _help('seconds for the whole run')
    protocol_version: int = _help('evaluator protocol version (changes when scoring changes)')
    protocol_hash: str = _help("hash of the benchmark's protocol (dataset, model, finetuning, calibration)")
    weights_sha256: str = _help('SHA-256 of the pretrained weights file')
    strategy_sha256: str = _help("SHA-256 of the strategy file ('baseline:<name>' for built-ins)")
    masks_sha256: str = _help('SHA-256 of the masks (names, shapes, bits)')
    result_key: str = _help('hash of what the figures are a function of: run target and protocol (version included), weights SHA-256, masks SHA-256, seed, device kind (evaluator.benchmarks.result_key); runs with the same key share one computation')
    shared_with: str = _help("run_id of the run whose computed figures this run reuses (same result_key); empty when computed for this run. A shared run's own columns: run_id, strategy, strategy_sha256, sandbox, compression_requested, compression_error, time_*")
    sandbox: str = _help('where the masks were computed: bwrap (sandboxed), none (unsandboxed, allowed by the operator) or trusted (built-in baseline)')
    code_version: str = _help('pruneboard version and git commit')
    torch_version: str = _help('torch version')
    cuda_version: str = _help("CUDA version torch was built with ('' for none)")
    device: str = _help('cpu or cuda')
    device_name: str = _help('GPU or CPU name')
    torch_threads: int = _help('CPU threads torch computed with (float sums may differ with another count)')
    deterministic: bool = _help('deterministic algorithms were in force')
    precision: str = _help('finetuning forward: fp32, or bf16 autocast (CUDA; weights, gradients and masks stay float32; scoring is always fp32)')
    channels_last: bool = _help('conv weights and image batches in channels-last memory format while finetuning (CUDA)')
