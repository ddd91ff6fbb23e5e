"""Celery tasks: thin. Fetch the row, call a service, record the outcome, retry platform errors.

Delivery: the database is the queue of record (submissions.dispatch): `runs_dispatch` (beat, on
the `control` queue, which no run ever waits in) hands the broker a few runs per worker in
priority order. Tasks are acknowledged after the result is stored (acks_late, reject_on_worker_lost,
prefetch 1). A worker holds a lease on its run (submissions.heartbeat); the reaper re-queues
runs whose lease expired. Errors in the submitter's code are recorded, never retried; platform
errors (the database or broker gone for a moment, a bug) are retried with exponential backoff."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from evaluator.sandbox import SandboxUnavailable
from evaluator.redact import redact
from evaluator.runner import RunCancelled, RunFailed

from . import dispatch, services
from .execution import evaluate_run
from .heartbeat import Heartbeat
from .models import Run

log = logging.getLogger(__name__)
_TRANSIENT = (OperationalError, InterfaceError)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_evaluate(self, run_id: int) -> None:
    if _worker_stopping():
        # a message this worker took just before or as it was told to stop: hand the run back to
        # the database at once (the dispatcher sends it to a worker that stays), never start it
        dispatch.message_handed_back(run_id)
        return
    try:
        started = services.run_start(run_id, host=settings.PRUNEBOARD_WORKER_NAME)
    except _TRANSIENT as exc:
        raise _retry(self, exc)
    if started is None:
        return  # final, cancelled, or another worker holds a live lease: a duplicate delivery
    run, token = started
    try:
        with Heartbeat(run.pk, token) as beat:
            record = evaluate_run(run, should_stop=beat.should_stop, lease=token)
    except RunCancelled:
        _record(self, services.run_record_failure, run=run, token=token, user_error=False,
                message="cancelled", status=Run.Status.CANCELLED)
    except RunFailed as exc:
        _record(self, services.run_record_failure, run=run, token=token, message=exc.message,
                traceback=exc.traceback, user_error=exc.user_error, limit_hit=exc.limit)
    except SandboxUnavailable as exc:  # configuration, not a blip: retrying cannot help
        _record(self, services.run_record_failure, run=run, token=token, user_error=False,
                message=redact(f"platform error: {exc}"))
        raise
    except SoftTimeLimitExceeded:  # the run outlived its task's limit: a retry would too
        _record(self, services.run_record_failure, run=run, token=token, user_error=False,
                message="platform error: the run took longer than its task's time limit "
                        "(not charged to you)")
    except Exception as exc:  # the platform's fault (a database blip, missing data, a bug)
        if (self.request.retries < settings.PRUNEBOARD_TASK_RETRIES
                and run.attempt < settings.PRUNEBOARD_MAX_ATTEMPTS):
            log.warning("run %s: platform error, retrying: %r", run_id, exc)
            _release(run.pk, token)
            raise _retry(self, exc)
        # the submitter reads the message: no server path in it (the worker's log keeps them)
        _record(self, services.run_record_failure, run=run, token=token, user_error=False,
                message=redact(f"platform error: {type(exc).__name__}: {exc}"))
        raise
    else:
        _record(self, services.run_record_result, run=run, record=record, token=token)
    finally:
        transaction.on_commit(dispatch.dispatch_soon)  # refill the broker without waiting for beat


def _worker_stopping() -> bool:
    """This worker process was told to stop (SIGTERM: warm shutdown; SIGQUIT: cold)."""
    from celery.worker import state

    return state.should_stop is not None or state.should_terminate is not None


def _retry(task, exc):
    return task.retry(exc=exc, countdown=min(2 ** task.request.retries, 60))


def _release(run_id: int, token: str) -> None:
    """Give the lease back so the retry (or another worker) can take the run at once; the retry
    is a message in the broker (`queued_at`), which the dispatcher sends again if it is lost."""
    try:
        Run.objects.filter(pk=run_id, lease_token=token, status=Run.Status.RUNNING).update(
            status=Run.Status.QUEUED, lease_token="", lease_expires=None, queued_at=timezone.now(),
            worker_host="")  # in the broker until a worker takes the retry (dispatch.message_received)
    except DatabaseError:
        pass  # the lease expires by itself; the reaper re-queues the run


def _record(task, service, **kwargs) -> None:
    """Store the outcome; when the database is away for a moment, retry the whole task (the
    evaluation is deterministic, and the lease makes sure only one result is kept)."""
    try:
        service(**kwargs)
    except _TRANSIENT as exc:
        _release(kwargs["run"].pk, kwargs["token"])
        raise _retry(task, exc)


@shared_task
def runs_reap() -> dict:
    return services.runs_reap()


@shared_task
def runs_dispatch() -> dict:
    return dispatch.runs_dispatch()


@shared_task(acks_late=True)
def rerun_evaluate(rerun_id: int) -> None:
    """Evaluate the run again from scratch and record what differs from the original. A pending
    re-run blocks another of the same run and counts among its requester's queued runs, so
    every outcome is recorded, a platform error included."""
    rerun = services.rerun_start(rerun_id)
    if rerun is None:
        return  # final, or another worker has it
    try:
        record = evaluate_run(rerun.run, batch=False, share=False)
    except RunFailed as exc:
        services.rerun_record(rerun=rerun, error=exc.message)
    except Exception as exc:  # the platform's: recorded, or the re-run would stay pending for good
        services.rerun_record(rerun=rerun, error=redact(f"platform error: {type(exc).__name__}: {exc}"))
        raise
    else:
        services.rerun_record(rerun=rerun, record=record)
