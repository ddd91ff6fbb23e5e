"""The database is the queue of record; the broker is only a short buffer in front of the workers.

A queued run (or re-run) waits in the database with no `queued_at`. The dispatcher (a beat task
on the `control` queue, every PRUNEBOARD_DISPATCH_SECONDS, also called after each commit that
queues work and after each run a worker records) hands the first ones in priority order to the
broker, keeping at most PRUNEBOARD_DISPATCH_AHEAD messages per busy worker of a queue (at least
that many per queue), and stamps them with `queued_at`. The order (submissions.queue_order):
a quick check of each new submission, then researchers' runs round-robin by user, with the
fill-in (baselines and reference methods, the after-training boards first) taking at least one
dispatch in every 1 / PRUNEBOARD_FILLIN_SHARE while both wait.

Nothing depends on a message arriving: a run the broker no longer holds (a broker that lost its
messages, a send that failed, a POST that died after its commit) is found by comparing the
broker's message count for the queue with the runs the database says it holds, and sent again.
Duplicates are harmless: `services.run_start` lets one worker through."""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Rerun, Run, Submission
from .queue_order import WAITING, Item, head, heads, main_queries, sql_rows, targets_by_queue

log = logging.getLogger(__name__)
MAIN_QUERY = main_queries  # what benchmarks/dispatch_tick.py EXPLAINs


_CANCELLED = Q(submission__status=Submission.Status.CANCELLED)


def _sent_runs():
    return Run.objects.filter(status=Run.Status.QUEUED, queued_at__isnull=False).exclude(_CANCELLED)


def _sent_reruns():
    return Rerun.objects.filter(status=Rerun.Status.QUEUED, queued_at__isnull=False, started__isnull=True)


def waiting(queue: str) -> list[Item]:
    """All the work waiting in the database for the queue, in the order it is handed to the broker."""
    return head(queue)


# The tick's two small queries are written in SQL, as the head's are (submissions.queue_order):
# built with the ORM (annotations with filters, subqueries) they took about 15 ms of Python a
# tick, five times what the database took to answer them (benchmarks/dispatch_tick.py).
RUN, RERUN, SUBMISSION = Run._meta.db_table, Rerun._meta.db_table, Submission._meta.db_table


def _benchmark_table() -> str:
    from leaderboard.models import Benchmark

    return Benchmark._meta.db_table


def _queues_waiting() -> list[str]:
    """The queues with work waiting in the database (one query: an index probe per benchmark)."""
    sql = (f"SELECT DISTINCT b.queue FROM {_benchmark_table()} b WHERE EXISTS (SELECT 1 FROM {RUN} r "
           f"JOIN {SUBMISSION} s ON s.id = r.submission_id WHERE r.benchmark_id = b.id AND r.status = %s "
           f"AND r.queued_at IS NULL AND s.status <> %s) OR EXISTS (SELECT 1 FROM {RERUN} x "
           f"JOIN {RUN} r ON r.id = x.run_id WHERE r.benchmark_id = b.id AND x.status = %s AND x.queued_at IS NULL)")
    return sorted(queue for queue, in sql_rows(sql, [Run.Status.QUEUED, Submission.Status.CANCELLED,
                                                      Rerun.Status.QUEUED]))


def _targets(queue: str) -> list[int]:
    from leaderboard.models import Benchmark

    return list(Benchmark.objects.filter(queue=queue).values_list("pk", flat=True))


def _in_broker(queue: str) -> int:
    return (_sent_runs().filter(benchmark_id__in=_targets(queue)).count()
            + _sent_reruns().filter(run__benchmark__queue=queue).count())


def _room(busy: int, in_broker: int) -> int:
    """How many more the broker may hold for a queue with `busy` workers executing something
    (runs with a lease: one per lease token, as a batch holds its runs by one; re-runs started)
    and `in_broker` messages sent."""
    return max(0, settings.PRUNEBOARD_DISPATCH_AHEAD * max(1, busy) - in_broker)


def _rooms() -> dict[str, int]:
    """queue -> how many more the broker may hold for it now, every queue in one query (runs
    and re-runs) grouped by queue (a queue with nothing running or sent is absent: `_room(0,
    0)`). Busy: the runs' distinct lease tokens (a batch holds its runs by one) and the re-runs
    started; in the broker: the runs and re-runs sent, not started (a cancelled submission's
    runs not counted)."""
    benchmarks = _benchmark_table()
    sql = (f"SELECT b.queue, COUNT(DISTINCT CASE WHEN r.status = %s THEN r.lease_token END), "
           f"COUNT(CASE WHEN r.status = %s AND s.status <> %s THEN 1 END) FROM {RUN} r "
           f"JOIN {benchmarks} b ON b.id = r.benchmark_id JOIN {SUBMISSION} s ON s.id = r.submission_id "
           f"WHERE r.status = %s OR (r.status = %s AND r.queued_at IS NOT NULL) GROUP BY b.queue "
           f"UNION ALL SELECT b.queue, COUNT(x.started), COUNT(CASE WHEN x.started IS NULL THEN 1 END) "
           f"FROM {RERUN} x JOIN {RUN} r ON r.id = x.run_id JOIN {benchmarks} b ON b.id = r.benchmark_id "
           f"WHERE x.status = %s AND (x.started IS NOT NULL OR x.queued_at IS NOT NULL) GROUP BY b.queue")
    running, queued = Run.Status.RUNNING, Run.Status.QUEUED
    counts = defaultdict(lambda: [0, 0])  # queue: [busy, in the broker]
    for queue, busy, in_broker in sql_rows(sql, [running, queued, Submission.Status.CANCELLED, running, queued,
                                                 Rerun.Status.QUEUED]):
        counts[queue][0] += busy
        counts[queue][1] += in_broker
    return {queue: _room(busy, in_broker) for queue, (busy, in_broker) in counts.items()}


def runs_dispatch() -> dict:
    """Find what the broker lost, then fill each queue's buffer from the database in priority
    order. Returns {"sent": n, "lost": n}. Safe to call from several processes at once: a row
    is claimed by a conditional UPDATE, so each waiting row is sent once."""
    lost = runs_find_lost()
    sent = 0
    queues = _queues_waiting()
    if queues:
        rooms, targets = _rooms(), targets_by_queue()  # the queues' benchmarks are disjoint: read once
        free = {queue: rooms.get(queue, _room(0, 0)) for queue in queues}
        got = heads({queue: n for queue, n in free.items() if n}, targets)
        sent = _send([item for queue in queues for item in got.get(queue, [])])  # one claim for them all
    return {"sent": sent, "lost": lost}


def _task_send(name: str, **options) -> None:
    """Send the task by name. Where `submissions.tasks` is loaded already (a worker, the tests)
    through its task object; elsewhere (the web process) by name only, since importing the
    tasks imports torch (2.5 s idle, 13 s measured on a loaded 2-core machine), which an
    upload request must not wait for."""
    module = sys.modules.get("submissions.tasks")
    if module is not None:
        getattr(module, name.rsplit(".", 1)[1]).apply_async(**options)
    else:
        current_app.send_task(name, **options)  # the project's app (pruneboard.celery), set as current


def _send(items: list[Item]) -> int:
    """Claim the rows (one transaction: one commit for the lot), then send them in order; a send
    that fails puts it and the rest back to waiting for the next tick."""
    from evaluator.benchmarks import get_benchmark

    now = timezone.now()
    with transaction.atomic():
        got = {kind: _claim(model, {item.pk: now + timedelta(microseconds=n) for n, item in enumerate(items)
                                    if item.kind == kind})
               for kind, model in (("run", Run), ("rerun", Rerun))}
    # in order; a row not claimed: another dispatcher sent it, or it was cancelled
    claimed = [(Run if item.kind == "run" else Rerun, item) for item in items if item.pk in got[item.kind]]
    for n, (model, item) in enumerate(claimed):
        limit = get_benchmark(item.benchmark).task_seconds()  # covers the batch of masks, too
        task = f"submissions.tasks.{'run_evaluate' if item.kind == 'run' else 'rerun_evaluate'}"
        try:
            # no retrying here (an upload request may be the caller): the row waits for the next tick
            _task_send(task, args=[item.pk], queue=item.queue, soft_time_limit=limit - 60,
                       time_limit=limit, retry=False)
        except Exception as exc:  # noqa: BLE001 - the broker is away: the rows wait for the next tick
            for model_ in (Run, Rerun):
                back = [item_.pk for m, item_ in claimed[n:] if m is model_]
                if back:
                    model_.objects.filter(pk__in=back).update(queued_at=None)
            log.warning("dispatch: %s %s not sent (%s); it and %s more wait in the database", item.kind,
                        item.pk, exc, len(claimed) - n - 1)
            return n
    return len(claimed)


def _claim(model, at: dict[int, object]) -> set[int]:
    """Mark the rows sent, those still waiting, each with its own `queued_at` (pk -> time: the
    order they go out in, which the fill-in's share reads back): one conditional UPDATE for the
    lot, so each waiting row is claimed by one dispatcher. Returns the pks claimed. Written in
    SQL for its RETURNING (PostgreSQL, SQLite >= 3.35), which Django's `update()` lacks."""
    if not at:
        return set()
    qn, adapt = connection.ops.quote_name, connection.ops.adapt_datetimefield_value
    pk = qn(model._meta.pk.column)
    cases = " ".join(f"WHEN {pk} = %s THEN %s" for _ in at)
    clear = f", {qn('worker_host')} = ''" if model is Run else ""  # in the broker: no worker holds it
    sql = (f"UPDATE {qn(model._meta.db_table)} SET {qn('queued_at')} = CASE {cases} END{clear} "
           f"WHERE {pk} IN ({', '.join(['%s'] * len(at))}) AND {qn('status')} = %s AND {qn('queued_at')} IS NULL "
           f"RETURNING {pk}")
    params = [v for key, when in at.items() for v in (key, adapt(when))] + [*at, "queued"]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def broker_count(queue: str) -> int:
    """Messages the broker holds for the queue, not yet delivered to a worker."""
    with current_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=False, durable=True,
                                                  auto_delete=False).message_count


def message_received(task_name: str, args, hostname: str) -> None:
    """A worker took a run's message from the broker (Celery's `task_received`, in the worker,
    before the run starts: a prefetched message, or a retry waiting for its countdown): the run
    row names the worker that holds it, so `runs_find_lost` does not count it lost while that
    worker is alive."""
    if task_name != "submissions.tasks.run_evaluate" or not args:
        return
    Run.objects.filter(pk=args[0], status=Run.Status.QUEUED, queued_at__isnull=False).update(
        worker_host=hostname)


def message_handed_back(run_id: int) -> None:
    """A stopping worker gives a run's message back unstarted: the run waits in the database
    again, held by no one, and the next dispatch sends it to a worker that stays."""
    Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(queued_at=None, worker_host="")


def _held_by_live_workers():
    """Sent runs whose message a live worker holds (`message_received`)."""
    from .capabilities import live_workers

    return _sent_runs().filter(worker_host__in=live_workers().values("hostname"))


def runs_find_lost() -> int:
    """Rows the database says are in the broker, beyond what the broker holds, go back to
    waiting: the oldest first (the broker delivers in order, so what it still holds is the
    newest). A message a live worker holds (reserved, unacknowledged, a retry counting down) is
    not in the broker's count and is never counted lost; one held by a worker that stopped
    reporting is. Only rows sent PRUNEBOARD_QUEUE_STALE_SECONDS ago or more, so that a message
    a worker just took, and has not yet said so, is not counted lost."""
    stale = timezone.now() - timedelta(seconds=settings.PRUNEBOARD_QUEUE_STALE_SECONDS)
    if not _any_stale(stale):
        return 0
    held_runs = _held_by_live_workers().values("pk")
    lost = 0  # only queues with a message old enough to be missed: the broker is asked rarely
    queues = set(_sent_runs().filter(queued_at__lt=stale).order_by().values_list("benchmark__queue", flat=True)
                 .distinct())
    queues |= set(_sent_reruns().filter(queued_at__lt=stale).order_by().values_list("run__benchmark__queue", flat=True)
                  .distinct())
    for queue in sorted(queues):
        expected = _in_broker(queue) - _held_by_live_workers().filter(benchmark__queue=queue).count()
        try:
            held = broker_count(queue)
        except Exception as exc:  # noqa: BLE001 - cannot tell; nothing can be sent now either
            log.warning("dispatch: cannot count the broker's %r queue (%s)", queue, exc)
            continue
        missing = expected - held
        if missing <= 0:
            continue
        old = sorted(
            [("run", pk, at) for pk, at in _sent_runs().filter(benchmark__queue=queue, queued_at__lt=stale)
             .exclude(pk__in=held_runs).values_list("pk", "queued_at")]
            + [("rerun", pk, at) for pk, at in _sent_reruns().filter(
                run__benchmark__queue=queue, queued_at__lt=stale).values_list("pk", "queued_at")],
            key=lambda r: r[2])[:missing]
        for kind, pk, at in old:
            model = Run if kind == "run" else Rerun
            lost += model.objects.filter(pk=pk, status="queued", queued_at=at).update(queued_at=None)
        if old:
            log.warning("dispatch: the broker holds %s of the %s messages of queue %r; %s sent again",
                        held, expected, queue, len(old))
    return lost


def _any_stale(stale) -> bool:
    """Whether a run or re-run was sent before `stale` and is not started yet (a superset of
    what the lost check counts: cancelled submissions' runs too). One query, the oldest entry of
    `run_in_broker` (and the few re-runs): most ticks find none, and skip the rest of the check
    (its two grouped queries, the broker's counts)."""
    at = connection.ops.adapt_datetimefield_value(stale)
    sql = (f"SELECT EXISTS (SELECT 1 FROM {RUN} WHERE status = %s AND queued_at IS NOT NULL AND queued_at < %s) "
           f"OR EXISTS (SELECT 1 FROM {RERUN} WHERE status = %s AND queued_at IS NOT NULL AND queued_at < %s "
           "AND started IS NULL)")
    [(found,)] = sql_rows(sql, [Run.Status.QUEUED, at, Rerun.Status.QUEUED, at])
    return bool(found)


def runs_enqueue(runs) -> None:
    """Queue the runs: they wait in the database (no `queued_at`) and the dispatcher hands the
    first ones to the broker at once. Call it after the commit. Never raises for the broker:
    the beat's dispatcher sends what could not be sent now."""
    Run.objects.filter(pk__in=[r.pk for r in runs], status=Run.Status.QUEUED).update(queued_at=None)
    dispatch_soon()


def dispatch_soon() -> None:
    """Dispatch now, in this process; an error is logged, never raised (the beat tries again)."""
    try:
        runs_dispatch()
    except Exception as exc:  # noqa: BLE001
        log.warning("dispatch failed (%s); the next beat tick retries", exc)


def queue_position(submission: Submission) -> int | None:
    """How many pieces of work are ahead of the submission's first run still queued on its
    queue (0: it is next, or already in the broker); None when none of its runs is queued."""
    first = submission.runs.filter(status=Run.Status.QUEUED).select_related("benchmark").first()
    if first is None:
        return None
    if submission.runs.filter(status=Run.Status.QUEUED, queued_at__isnull=False).exists():
        return 0
    queue = first.benchmark.queue
    mine = set(submission.runs.filter(status=Run.Status.QUEUED).values_list("pk", flat=True))
    for n, item in enumerate(waiting(queue)):
        if item.kind == "run" and item.pk in mine:
            return n + _in_broker(queue)
    return None
