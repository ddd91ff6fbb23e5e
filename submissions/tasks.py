import socket

from celery import shared_task

from . import services
from .execution import evaluate_run
from evaluator.runner import RunFailed


@shared_task(acks_late=True)
def run_evaluate(run_id: int) -> None:
    """Fetch the run, evaluate it, record the outcome."""
    run = services.run_start(run_id, host=socket.gethostname())
    if run is None:
        return
    try:
        record = evaluate_run(run)
    except RunFailed as exc:
        services.run_record_failure(run=run, message=exc.message, traceback=exc.traceback,
                                    user_error=exc.user_error, limit_hit=exc.limit)
    except Exception as exc:  # the platform's fault (missing data, a bug): not the submitter's
        services.run_record_failure(run=run, message=f"platform error: {type(exc).__name__}: {exc}",
                                    user_error=False)
        raise
    else:
        services.run_record_result(run=run, record=record)
