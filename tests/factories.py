"""Small helpers that create leaderboard rows directly (no evaluator, no queue)."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.utils import timezone

from evaluator.columns import COLUMNS
from leaderboard.models import Method
from submissions.models import Run, StrategyFile, Submission


def make_record(*, benchmark: str = "digits-mlp", compression: float = 2.0, seed: int = 0,
                top1: float = 0.9, speedup: float | None = None, strategy: str = "entry",
                compression_error: float = 0.0) -> dict:
    """A record shaped like the evaluator's (every column of evaluator/columns.py)."""
    size = 300_000
    actual = compression * (1 - compression_error)
    record = {
        "run_id": hashlib.sha256(f"{benchmark}{strategy}{compression}{seed}".encode()).hexdigest()[:16],
        "benchmark": benchmark, "track": benchmark.split("/")[1] if "/" in benchmark else "after",
        "strategy": strategy, "compression_requested": float(compression),
        "seed": seed, "size": size, "size_nz": int(size / actual), "compression": actual,
        "compression_error": compression_error, "flops": 298_000, "flops_nz": int(298_000 / actual),
        "speedup": speedup if speedup is not None else actual * 0.98,
        "params_run": size, "macs_run": 298_000, "speedup_run": 1.0,
        "memory": 301_000, "memory_nz": int(301_000 / actual), "memory_nz_pre": int(301_000 / actual),
        "pre_top1": top1 - 0.1, "pre_top5": 0.95, "pre_loss": 0.8,
        "top1": top1, "top5": min(1.0, top1 + 0.05), "loss": 0.31 + seed / 100,
        "val_top1": top1 - 0.01, "best_epoch": 7, "epochs_run": 10, "test_samples": 360,
        "layer_collapse": False, "collapsed_layers": "[]",
        "layer_sparsity": '{"fc1.weight": 0.5, "fc2.weight": 0.5, "fc3.weight": 0.49}',
        "effective_compression": actual, "effective_speedup": speedup if speedup is not None else actual * 0.98,
        "disconnected": False,
        "latency_ms_b1": 0.05, "latency_ms_b64": 0.5, "dense_latency_ms_b1": 0.05, "dense_latency_ms_b64": 0.5,
        "measured_speedup_b1": 1.0, "measured_speedup_b64": 1.0, "latency_threads": 1,
        "latency_device": "AMD EPYC 7763 (cpu)", "latency_kernel": "dense",
        "time_masks_s": 0.012, "time_pre_eval_s": 0.004, "time_finetune_s": 1.25,
        "time_eval_s": 0.004, "time_latency_s": 0.2, "time_total_s": 1.3, "protocol_version": 1,
        "protocol_hash": "0123456789abcdef", "weights_sha256": "ab" * 32,
        "strategy_sha256": "cd" * 32,
        # distinct per strategy and run unless a test makes two runs share masks
        "masks_sha256": hashlib.sha256(f"masks {strategy} {benchmark} {compression} {seed}".encode()).hexdigest(),
        "result_key": hashlib.sha256(f"key {strategy} {benchmark} {compression} {seed}".encode()).hexdigest()[:32],
        "shared_with": "",
        "sandbox": "bwrap",
        "code_version": "0.1.0+gabc",
        "torch_version": "2.15.0", "cuda_version": "", "device": "cpu",
        "device_name": "x86_64", "torch_threads": 2, "deterministic": True,
        "precision": "fp32", "channels_last": False,
    }
    assert list(record) == COLUMNS
    return record


def make_method(name: str, *, owner=None, is_baseline=False, is_public=True, is_hidden=False,
                description="", created: dt.datetime | None = None, **fields) -> Method:
    method = Method.objects.create(name=name, slug=fields.pop("slug", name.lower().replace(" ", "-")), owner=owner,
                                   is_baseline=is_baseline, is_public=is_public,
                                   is_hidden=is_hidden, description=description, **fields)
    if created is not None:
        Method.objects.filter(pk=method.pk).update(created=created)
        method.refresh_from_db()
    return method


def make_submission(method: Method, *, owner=None, code: str | None = None,
                    status: str = Submission.Status.FINISHED) -> Submission:
    """The method's next version (1, 2, ...)."""
    owner = owner if owner is not None else method.owner
    version = method.submissions.count() + 1
    submission = Submission(method=method, owner=owner, status=status, version=version,
                            sha256=hashlib.sha256((code or f"{method.slug} v{version}").encode()).hexdigest(),
                            baseline=method.slug if method.is_baseline or method.is_reference else "",
                            filename="strategy.py" if code is not None else "")
    submission.save()
    if code is not None:
        StrategyFile.objects.create(submission=submission, data=code.encode())
    return submission


def make_run(submission: Submission, benchmark, compression: float, seed: int, *,
             top1: float | None = 0.9, status: str = Run.Status.FINISHED,
             compression_error: float = 0.0, speedup: float | None = None,
             masks_sha256: str | None = None) -> Run:
    finished = status == Run.Status.FINISHED
    record = (make_record(benchmark=benchmark.name, compression=compression, seed=seed, top1=top1,
                          speedup=speedup, strategy=submission.method.slug,
                          compression_error=compression_error) if finished else {})
    if finished and masks_sha256 is not None:
        record["masks_sha256"] = masks_sha256
    run = Run(submission=submission, benchmark=benchmark, compression=float(compression), seed=seed,
              status=status, finished=timezone.now() if finished else None)
    run.take_record(record)
    run.save()
    return run


def make_entry(name: str, benchmark, top1: dict[float, list[float]], **method_fields) -> Method:
    """A method with one submission and a finished run per (compression, seed value):
    top1={2: [0.9, 0.92], 4: [0.8]} makes seeds 0, 1 at 2x and seed 0 at 4x."""
    method = make_method(name, **method_fields)
    submission = make_submission(method)
    for compression, values in top1.items():
        for seed, value in enumerate(values):
            make_run(submission, benchmark, compression, seed, top1=value)
    return method
