import os

from celery import Celery, signals

from . import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pruneboard.settings")
broker.register()  # the embedded default's broker file, safe for several processes

app = Celery("pruneboard")
# The app `celery.current_app` means in every thread (web server threads too): the apps send
# tasks through it (submissions.dispatch) and never import this module.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect  # the solo pool runs tasks in the worker's own process
@signals.worker_process_init.connect  # the prefork pool, in each child
def set_torch_threads(**_) -> None:
    """PRUNEBOARD_TORCH_THREADS, when set: the threads torch computes with in this worker (its
    sandbox children inherit the count)."""
    from django.conf import settings

    if settings.PRUNEBOARD_TORCH_THREADS:
        import torch

        torch.set_num_threads(settings.PRUNEBOARD_TORCH_THREADS)


@signals.worker_init.connect
def check_and_clean_for_sandboxes(**_) -> None:
    """Before any run: refuse to start with a sandbox memory limit the worker cannot give, and
    remove the sandbox cgroups and temp folders a killed worker left (evaluator/sandbox/hygiene.py)."""
    import logging

    from evaluator.sandbox import clean_stale, memory_problem

    log = logging.getLogger("pruneboard.sandbox")
    problem = memory_problem()
    if problem is not None:
        log.critical("worker not started: %s", problem)
        raise SystemExit(f"worker not started: {problem}")  # Celery's signal catches Exception only
    for path in clean_stale():
        log.warning("removed %s, left by a worker process that died", path)


@signals.worker_ready.connect
def say_how_sandbox_limits_hold(**_) -> None:
    """Once at worker start: per-sandbox cgroups, or (where none can be made) the rlimit fallback."""
    import logging

    from evaluator.sandbox import cgroup_problem, limits_report

    level = logging.INFO if cgroup_problem() is None else logging.WARNING
    logging.getLogger("pruneboard.sandbox").log(level, limits_report())


@signals.task_received.connect
def note_the_message_is_held(request, **_) -> None:
    """This worker holds a run's message (prefetched, or a retry counting down): the dispatcher
    must not send it again while the worker lives (submissions.dispatch.message_received)."""
    from submissions.dispatch import message_received

    try:
        message_received(request.name, request.args, request.hostname)
    except Exception as exc:  # noqa: BLE001 - the database away: the message is only at risk of a duplicate
        import logging

        logging.getLogger("pruneboard.dispatch").warning("cannot note a received message: %s", exc)


_worker_beat = None


def _consumed(sender) -> list[str]:
    """The queues the starting worker consumes (`--queues`; all of the app's without it)."""
    return list(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)


@signals.worker_ready.connect
def report_capabilities(sender, **_) -> None:
    """The worker's heartbeat row (submissions.capabilities): its queues, device and the
    benchmarks it can run, now and every PRUNEBOARD_WORKER_HEARTBEAT_SECONDS, so that the site
    offers only what some live worker can run."""
    global _worker_beat
    from submissions.capabilities import WorkerBeat

    queues = _consumed(sender)
    _worker_beat = WorkerBeat(sender.hostname, queues).start()


@signals.worker_ready.connect
def free_what_an_earlier_process_claimed(sender, **_) -> None:
    """A run worker started again under its name (PRUNEBOARD_WORKER_NAME) frees the batch claims
    its earlier process died with, before it takes a run (submissions.services.batch_claims_release)."""
    import logging

    from django.conf import settings

    from submissions.services import batch_claims_release

    if set(_consumed(sender)) <= {"control"}:
        return
    freed = batch_claims_release(settings.PRUNEBOARD_WORKER_NAME)
    if freed:
        logging.getLogger("pruneboard.dispatch").warning(
            "%s runs claimed by an earlier process of worker %r freed for a new batch", freed,
            settings.PRUNEBOARD_WORKER_NAME)


@signals.worker_ready.connect  # after report_capabilities: the site sees the worker meanwhile
def time_the_frontier(sender, **_) -> None:
    """Once per machine, before the worker takes its first run (the consumer's loop starts when
    this returns): its queues' dense frontier networks timed (submissions.services.frontier_timing;
    seconds per benchmark, logged; skipped where stored, never raising)."""
    from submissions.services import frontier_timing_at_start

    queues = _consumed(sender)
    frontier_timing_at_start(queues=queues, hostname=sender.hostname)


@signals.worker_shutdown.connect
def stop_reporting(**_) -> None:
    if _worker_beat is not None:
        _worker_beat.stop()
