"""Submission and run lifecycle, one concern per module (zulip's actions): uploads (submit),
per-user limits (quotas), the built-ins' runs (builtins), a worker's leases and heartbeats
(leases), runs whose worker vanished (reaping), results and failures (recording), cancel,
re-run, withdraw and requeue (lifecycle), reproducibility re-runs (reruns), results shared by
result key and masks kept by hash (sharing), the dense frontier timed on a worker's machine
(frontier_timing). Views, the API, the admin and Celery tasks call them as `services.x(...)`; the evaluation itself is the evaluator's
(see `submissions.execution`)."""

from evaluator.checks import UploadRejected

from ..dispatch import runs_enqueue
from .builtins import baseline_ensure
from .frontier_timing import frontier_timing_at_start, frontier_timing_measure
from .leases import (batch_claim, batch_claim_token, batch_claims_release, batch_give_back, batch_record_failures,
                     batch_release, batch_start, run_heartbeat, run_start)
from .lifecycle import benchmark_requeue, submission_cancel, submission_rerun, submission_withdraw
from .quotas import LimitExceeded, limits_check, queued_runs_check
from .reaping import runs_reap
from .recording import run_record_failure, run_record_result
from .refresh import submission_refresh
from .reruns import RerunPending, rerun_record, rerun_request, rerun_start
from .sharing import masks_keep, result_check_record, shared_result, shared_source
from .submit import method_enter, read_upload, submission_create

__all__ = ["UploadRejected", "LimitExceeded", "RerunPending", "read_upload", "submission_create", "method_enter",
           "limits_check", "queued_runs_check", "baseline_ensure", "runs_enqueue", "run_start", "run_heartbeat",
           "batch_claim", "batch_claim_token", "batch_claims_release", "batch_start", "batch_give_back",
           "batch_release", "batch_record_failures", "runs_reap", "run_record_result",
           "run_record_failure", "submission_refresh", "submission_cancel", "submission_rerun", "submission_withdraw",
           "benchmark_requeue", "rerun_request", "rerun_start", "rerun_record", "shared_result", "shared_source",
           "masks_keep", "result_check_record", "frontier_timing_at_start", "frontier_timing_measure"]
