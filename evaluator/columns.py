"""The per-run CSV: one row per run, these columns in this order (docs/columns.md lists them too)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMN_HELP: dict[str, str] = {
    "run_id": "hash of benchmark, protocol, weights SHA-256, strategy SHA-256, compression, seed",
    "benchmark": "run target: the benchmark's name, then /track on other tracks than after (digits-mlp/init)",
    "track": "comparison setup (evaluator/tracks.py): after (pretrained weights, finetuned), init (initial weights, trained from scratch), long (a longer finetune)",
    "strategy": "baseline name, or strategy file stem[:Class]",
    "compression_requested": "compression the strategy was asked for (size / size_nz)",
    "seed": "seed of calibration batch, random masks and data order",
    "size": "parameters of the whole model (elements)",
    "size_nz": "parameters left nonzero by the masks (non-prunable ones all count)",
    "compression": "actual compression, size / size_nz",
    "compression_error": "(requested - actual) / requested; negative = pruned more than asked",
    "flops": "multiply-accumulates of Conv and Linear layers, one input",
    "flops_nz": "the same, counting only weights the masks keep",
    "speedup": "theoretical speedup, flops / flops_nz",
    "memory": "parameters + activations of one input (elements)",
    "memory_nz": "nonzero parameters + nonzero activations, after finetuning (elements)",
    "memory_nz_pre": "memory_nz before finetuning",
    "pre_top1": "test top-1 with masks applied, before finetuning",
    "pre_top5": "test top-5 before finetuning",
    "pre_loss": "test cross-entropy before finetuning",
    "top1": "test top-1 after masked finetuning (on the init track: after training from scratch)",
    "top5": "test top-5 after finetuning",
    "loss": "test cross-entropy after finetuning",
    "val_top1": "validation top-1 of the kept epoch (selection uses validation only)",
    "best_epoch": "finetuning epoch kept (0 = none improved on the masked weights)",
    "epochs_run": "finetuning epochs run (fewer than the protocol's with early stopping)",
    "test_samples": "test samples scored (every sample exactly once)",
    "layer_collapse": "true when a prunable layer kept no weight at all",
    "collapsed_layers": "JSON list of the parameters left with no weight",
    "layer_sparsity": "JSON object: prunable parameter -> share of its weights pruned",
    "effective_compression": "size / parameters that compute: size_nz less the kept weights on no input-to-output path (evaluator/connectivity.py)",
    "effective_speedup": "flops / MACs of the kept weights on an input-to-output path (empty when disconnected)",
    "disconnected": "true when no input-to-output path is left: the output does not depend on the input",
    "time_masks_s": "seconds computing masks in the sandbox (a sweep's child time / its runs)",
    "time_pre_eval_s": "seconds scoring before finetuning",
    "time_finetune_s": "seconds finetuning",
    "time_eval_s": "seconds scoring after finetuning",
    "time_total_s": "seconds for the whole run",
    "protocol_version": "evaluator protocol version (changes when scoring changes)",
    "protocol_hash": "hash of the benchmark's protocol (dataset, model, finetuning, calibration)",
    "weights_sha256": "SHA-256 of the pretrained weights file",
    "strategy_sha256": "SHA-256 of the strategy file ('baseline:<name>' for built-ins)",
    "masks_sha256": "SHA-256 of the masks (names, shapes, bits)",
    "sandbox": "where the masks were computed: bwrap (sandboxed), none (unsandboxed, allowed by the operator) or trusted (built-in baseline)",
    "code_version": "pruneboard version and git commit",
    "torch_version": "torch version",
    "cuda_version": "CUDA version torch was built with ('' for none)",
    "device": "cpu or cuda",
    "device_name": "GPU or CPU name",
    "torch_threads": "CPU threads torch computed with (float sums may differ with another count)",
    "deterministic": "deterministic algorithms were in force",
    "precision": "finetuning forward: fp32, or bf16 autocast (CUDA; weights, gradients and masks stay float32; scoring is always fp32)",
    "channels_last": "conv weights and image batches in channels-last memory format while finetuning (CUDA)",
}
COLUMNS = list(COLUMN_HELP)


def write_csv(records: list[dict], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(records, columns=COLUMNS).to_csv(path, index=False)


# What a re-run must reproduce exactly on the same kind of device (CPU): everything but the
# timings and the description of where and with which versions it ran.
_CIRCUMSTANCES = {"code_version", "torch_version", "cuda_version", "device_name", "torch_threads",
                  "deterministic"}
REPRODUCIBLE_COLUMNS = [c for c in COLUMNS if not c.startswith("time_") and c not in _CIRCUMSTANCES]


def differences(original: dict, rerun: dict) -> list[str]:
    """The reproducible columns whose values differ between two records of the same run."""
    return [c for c in REPRODUCIBLE_COLUMNS if original.get(c) != rerun.get(c)]
