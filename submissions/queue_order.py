"""The order in which the work waiting in the database goes to the broker (submissions.dispatch
sends it). Two sides, merged:

- researchers: first a quick check (the first run of each submission none of whose runs has been
  sent or started yet, oldest submission first), then round-robin by user: everyone's first
  waiting run (or re-run), then everyone's second, ...; within one round, older submissions
  first; within a user's own runs: older submissions first, then benchmark, seed, compression;
- the fill-in (the baselines' and reference methods' runs, and re-runs the platform asked for):
  the default track's targets before any other track's (the after-training boards complete
  first), then seed 0 of every method, benchmark and compression before seed 1, then seed 2.

Researchers go first, but while both sides wait the fill-in takes at least one dispatch in every
k = floor(1 / PRUNEBOARD_FILLIN_SHARE) of the queue (the previous k - 1 dispatches are read from
the runs' `queued_at`): it is what gives every researcher's result its meaning.

Only the head is computed (`head(queue, n)`): the submissions with waiting runs (an index probe
each), the fill-in's first n in one ordered query, and the runs of the few submissions the head
reaches, so a tick costs about the same with 100 or 100,000 runs waiting
(benchmarks/dispatch_tick.py). A tick computes every queue's head at once (`heads`): what all
queues need (the submissions, the re-runs, the last dispatches) is read once for all of them.

The head's queries are written in SQL, one text for SQLite and PostgreSQL but where noted: built
with the ORM, a tick spent as long building them in Python as the database spent running them.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from .models import Rerun, Run, Submission

WAITING = Q(status=Run.Status.QUEUED, queued_at__isnull=True)  # the partial index `run_waiting`
WAITING_SQL = "r.status = 'queued' AND r.queued_at IS NULL"  # the same, for a run `r` in SQL


@dataclass(frozen=True)
class Item:
    """One piece of work waiting in the database."""
    kind: str  # "run" or "rerun"
    pk: int
    queue: str
    benchmark: str
    fill_in: bool  # baselines, reference methods, the platform's re-runs: a bounded share
    user: int | None
    order: tuple  # the order within the user's own work (or within the fill-in)


def fill_in_every() -> int | None:
    """k: the fill-in takes at least one dispatch in every k while researchers' work waits too
    (None: no share, it waits until researchers' work is done)."""
    share = settings.PRUNEBOARD_FILLIN_SHARE
    return int(1 / share + 1e-9) if share > 0 else None


def targets_by_queue() -> dict[str, dict[int, tuple]]:
    """queue -> {benchmark pk: (name, track rank, position)}, every queue in one query (the
    dispatcher's tick reads it once for all its queues)."""
    from leaderboard.models import Benchmark

    out: dict[str, dict[int, tuple]] = defaultdict(dict)
    for pk, queue, name, track, position in Benchmark.objects.values_list("pk", "queue", "name", "track",
                                                                           "position"):
        out[queue][pk] = (name, track_rank(track), position)
    return dict(out)


def head(queue: str, n: int | None = None, targets: dict | None = None) -> list[Item]:
    """The first `n` pieces of work waiting for the queue, in the order they go to the broker
    (None: all of them). `targets`: the queue's entry of `targets_by_queue()`, where the caller
    has read it already."""
    if targets is None:
        targets = targets_by_queue().get(queue, {})
    return heads({queue: n}, {queue: targets}).get(queue, [])


def heads(wanted: dict[str, int | None], targets: dict[str, dict]) -> dict[str, list[Item]]:
    """queue -> its head, for each queue of `wanted` (queue -> n, as `head`'s); `targets`:
    `targets_by_queue()`. What every queue needs is read once for all of them: the submissions
    with waiting runs, the re-runs waiting, the last dispatches."""
    wanted = {queue: n for queue, n in wanted.items() if targets.get(queue) and n != 0}
    if not wanted:
        return {}
    targets = {queue: targets[queue] for queue in wanted}
    queue_of = {pk: queue for queue, here in targets.items() for pk in here}
    subs = _waiting_submissions(targets)
    reruns = defaultdict(list)
    for row in (Rerun.objects.filter(status=Rerun.Status.QUEUED, queued_at__isnull=True,
                                     run__benchmark_id__in=list(queue_of))
                .values_list("pk", "requested_by_id", "created", "run__benchmark_id").order_by("created", "pk")):
        reruns[queue_of[row[3]]].append(row)
    recent = _recent(targets)
    out = {}
    for queue, n in wanted.items():
        here, mine = targets[queue], subs[queue]
        side = _Researchers(queue, here, mine, [r for r in reruns[queue] if r[1] is not None], n)
        fill = _fill_in(queue, here, [pk for pk, (owner, _, _) in mine.items() if owner is None],
                        [r for r in reruns[queue] if r[1] is None], n)
        out[queue] = _merge(side.items(), fill, recent[queue], n)
    return out


def sql_rows(sql: str, params: list) -> list[tuple]:
    """The rows of one SQL query (the dispatcher's tick is written in SQL: see above)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _marks(values) -> str:
    """The placeholders of an `IN (...)` list of the values (at least one)."""
    return ", ".join(["%s"] * len(values))


def _waiting_submissions(targets: dict[str, dict]) -> dict[str, dict[int, tuple]]:
    """queue -> {submission pk: (owner, created, status)}: the submissions, not final, with a run
    waiting on one of the queue's targets. One query, a branch a queue, each an index probe of
    `run_waiting` a submission. The span of the targets' pks bounds each probe: a queue's
    benchmarks are registered together, so the probe of a submission with no run there reads no
    entry, where it read all of the submission's waiting runs (5-9 ms a tick for the `gpu` queue:
    benchmarks/dispatch_tick.py); where queues' pks interleave, it reads what it read before."""
    queues = list(targets)
    branches, params = [], []
    for n, queue in enumerate(queues):
        branches.append(
            f"SELECT {n}, s.id, s.owner_id, s.created, s.status FROM submissions_submission s "
            f"WHERE s.status NOT IN ({_marks(Submission.FINAL)}) AND EXISTS (SELECT 1 FROM submissions_run r "
            f"WHERE r.submission_id = s.id AND {WAITING_SQL} AND r.benchmark_id BETWEEN %s AND %s "
            f"AND r.benchmark_id IN ({_marks(targets[queue])}))")
        params += [*Submission.FINAL, min(targets[queue]), max(targets[queue]), *targets[queue]]
    out = {queue: {} for queue in queues}
    for n, pk, owner, created, status in sql_rows(" UNION ALL ".join(branches), params):
        out[queues[n]][pk] = (owner, _aware(created), status)
    return out


def _aware(when: datetime) -> datetime:
    """A datetime as the ORM reads it (SQLite's rows hold UTC without its zone), so that it sorts
    with those the ORM reads."""
    return when if timezone.is_aware(when) else timezone.make_aware(when, dt_timezone.utc)


def track_rank(track: str) -> int:
    """The fill-in's order of tracks: the default track first, then the others as registered."""
    from evaluator.tracks import DEFAULT_TRACK, TRACKS

    order = [DEFAULT_TRACK, *(t for t in TRACKS if t != DEFAULT_TRACK)]
    return order.index(track) if track in order else len(order)


def fill_in_query(targets: dict, builtins: list[int], limit: int | None) -> tuple[str, list]:
    """The fill-in's waiting runs on the targets, in their order, the first `limit` (None: all),
    as SQL and its parameters (the dispatcher's main query): pk, benchmark, submission, seed,
    compression, track rank, position. The tracks' order and the positions come from `targets`,
    each a CASE of one WHEN a target."""
    case = f"CASE r.benchmark_id {' '.join(['WHEN %s THEN %s'] * len(targets))} END"
    sql = (f"SELECT r.id, r.benchmark_id, r.submission_id, r.seed, r.compression, {case} AS track_rank, "
           f"{case} AS bench_position FROM submissions_run r WHERE {WAITING_SQL} "
           f"AND r.submission_id IN ({_marks(builtins)}) AND r.benchmark_id IN ({_marks(targets)}) "
           "ORDER BY track_rank, r.seed, bench_position, r.submission_id, r.compression, r.id")
    params = [v for i in (1, 2) for pk, t in targets.items() for v in (pk, t[i])] + [*builtins, *targets]
    if limit is not None:
        sql, params = f"{sql} LIMIT %s", [*params, limit]
    return sql, params


def main_queries(queue: str) -> dict:
    """name -> (SQL, parameters) of each query of `head` that reads many rows (for EXPLAIN:
    benchmarks/dispatch_tick.py)."""
    targets = targets_by_queue().get(queue, {})
    builtins = list(Submission.objects.filter(owner__isnull=True).exclude(status__in=Submission.FINAL)
                    .values_list("pk", flat=True))
    researchers = list(Submission.objects.filter(owner__isnull=False).exclude(status__in=Submission.FINAL)
                       .order_by("created", "pk").values_list("pk", flat=True)[:16])
    return {"the researchers' first runs": read_query(researchers, targets, 2),
            "the fill-in's head": fill_in_query(targets, builtins, 16),
            "the last dispatches": _recent_query({queue: targets}, fill_in_every() or 2)}


def _fill_in(queue, targets, builtins, reruns, n) -> Iterator[Item]:
    for pk, _, created, bench in reruns:  # the platform's re-runs (few): before its runs
        yield Item("rerun", pk, queue, targets[bench][0], True, None, (0, created, pk))
    if not builtins:
        return
    for pk, bench, sub, seed, compression, rank, position in sql_rows(*fill_in_query(targets, builtins, n)):
        yield Item("run", pk, queue, targets[bench][0], True, None, (1, rank, seed, position, sub, compression, pk))


def _recent(targets: dict[str, dict]) -> dict[str, list[bool]]:
    """queue -> whether each of its last k - 1 dispatches went to the fill-in, oldest first."""
    k = fill_in_every()
    out = {queue: [] for queue in targets}
    if not k:
        return out
    queue_of = {pk: queue for queue, here in targets.items() for pk in here}
    last = defaultdict(list)
    for bench, at, owner in sorted(sql_rows(*_recent_query(targets, k)), key=lambda row: row[1], reverse=True):
        last[queue_of[bench]].append(owner)
    for queue in targets:
        out[queue] = [owner is None for owner in reversed(last[queue][:k - 1])]
    return out


def _recent_query(targets: dict[str, dict], k: int) -> tuple[str, list]:
    """The last k - 1 dispatches of each target (benchmark, `queued_at`, owner), as SQL and its
    parameters: for each target, a few entries from the end of the index `run_dispatched`. (Over
    all of a queue's targets at once, ordered by `queued_at`, the database walks every queue's
    dispatches, newest first, to find this queue's: all of the history, for a queue with none.)
    On PostgreSQL a LATERAL join, one plan for every target; SQLite has none: a UNION of one
    query a target (which PostgreSQL took 4 to 7 ms to plan for 28 targets)."""
    pks = [pk for here in targets.values() for pk in here]
    last = ("SELECT r.benchmark_id, r.queued_at, r.submission_id FROM submissions_run r WHERE r.benchmark_id = {} "
            "AND r.queued_at IS NOT NULL ORDER BY r.queued_at DESC LIMIT %s")
    if connection.vendor == "postgresql":
        sql = (f"SELECT last.benchmark_id, last.queued_at, s.owner_id FROM leaderboard_benchmark b CROSS JOIN "
               f"LATERAL ({last.format('b.id')}) AS last JOIN submissions_submission s ON s.id = last.submission_id "
               f"WHERE b.id IN ({_marks(pks)})")
        return sql, [k - 1, *pks]
    union = " UNION ALL ".join(f"SELECT * FROM ({last.format('%s')}) AS last_{n}" for n in range(len(pks)))
    sql = (f"SELECT last.benchmark_id, last.queued_at, s.owner_id FROM ({union}) AS last "
           "JOIN submissions_submission s ON s.id = last.submission_id")
    return sql, [v for pk in pks for v in (pk, k - 1)]


def _merge(researchers: Iterator[Item], fill: Iterator[Item], recent: list[bool], n) -> list[Item]:
    """Researchers first; the fill-in when each of the last k - 1 dispatches was a
    researcher's, or when no researcher's work waits."""
    k = fill_in_every()
    last = deque(recent, maxlen=(k or 2) - 1)
    nxt_r, nxt_f = next(researchers, None), next(fill, None)
    out = []
    while (nxt_r or nxt_f) and (n is None or len(out) < n):
        share_due = k is not None and len(last) == k - 1 and not any(last)
        turn = nxt_r is None or (nxt_f is not None and share_due)
        if turn:
            out.append(nxt_f)
            nxt_f = next(fill, None)
        else:
            out.append(nxt_r)
            nxt_r = next(researchers, None)
        last.append(turn)
    return out


class _Researchers:
    """The researchers' side, read lazily: only the submissions the head reaches are read, a
    batch at a time, each only as deep as the head goes."""

    def __init__(self, queue, targets, subs, reruns, n):
        self.queue, self.targets, self.subs = queue, targets, subs
        self.batch = 64 if n is None else max(8, n)
        self.deep = n is None  # the whole order: read every waiting run of a submission at once
        self._untouched: dict[int, bool] = {}
        self._runs: dict[int, list] = {}  # submission: its first waiting runs on the queue, in order
        self._complete: set[int] = set()  # ... all of them
        self.blocks = defaultdict(list)  # user: [(key, "sub" | "rerun", pk)], oldest first
        for pk, (owner, created, _) in subs.items():
            if owner is not None:
                self.blocks[owner].append(((created, pk, 0), "sub", pk))
        self.reruns = {}
        for pk, user, created, bench in reruns:
            self.blocks[user].append(((created, 0, pk), "rerun", pk))
            self.reruns[pk] = (user, created, bench)
        for blocks in self.blocks.values():
            blocks.sort()

    def untouched(self, sub: int) -> bool:
        """None of the submission's runs (on any queue) has been sent or started yet."""
        self._prefetch_untouched([sub])
        return self._untouched[sub]

    def _prefetch_untouched(self, subs) -> None:
        ask = [s for s in subs if s not in self._untouched]
        maybe = [s for s in ask if self.subs[s][2] != Submission.Status.RUNNING]  # one started: touched
        touched = {sub for sub, in sql_rows(f"SELECT DISTINCT r.submission_id FROM submissions_run r WHERE "
                                         f"r.submission_id IN ({_marks(maybe)}) AND NOT ({WAITING_SQL})",
                                         maybe)} if maybe else set()
        self._untouched.update({s: s in maybe and s not in touched for s in ask})

    def _read(self, subs, upto: int) -> None:
        """Hold each submission's first `upto` waiting runs on the queue (all, if it has fewer)."""
        need = [s for s in subs if s not in self._complete and len(self._runs.get(s, ())) < upto]
        if not need:
            return
        limit = None if self.deep else max(upto, 2 * len(self._runs.get(need[0], ())), 4)
        got = defaultdict(list)
        for sub, pk, bench, seed, compression in sql_rows(*read_query(need, self.targets, limit)):
            got[sub].append((self.targets[bench][2], seed, compression, pk, bench))
        for sub in need:
            self._runs[sub] = sorted(got[sub])
            if limit is None or len(got[sub]) < limit:
                self._complete.add(sub)

    def _has(self, sub: int, index: int) -> bool:
        self._read([sub], index + 1)
        return index < len(self._runs[sub])

    def _item(self, sub: int, index: int) -> Item:
        position, seed, compression, pk, bench = self._runs[sub][index]
        owner, created, _ = self.subs[sub]
        return Item("run", pk, self.queue, self.targets[bench][0], False, owner,
                    (created, sub, position, seed, compression, pk))

    def _rerun(self, pk: int) -> Item:
        user, created, bench = self.reruns[pk]
        return Item("rerun", pk, self.queue, self.targets[bench][0], False, user, (created, 0, 0, 0, 0, pk))

    def items(self) -> Iterator[Item]:
        """The quick checks, then round-robin by user."""
        candidates = sorted(((created, pk) for pk, (owner, created, status) in self.subs.items()
                             if owner is not None and status != Submission.Status.RUNNING))
        for start in range(0, len(candidates), self.batch):
            batch = [pk for _, pk in candidates[start:start + self.batch]]
            self._prefetch_untouched(batch)
            self._read([pk for pk in batch if self._untouched[pk]], 1)
            for pk in batch:
                if self._untouched[pk] and self._has(pk, 0):
                    yield self._item(pk, 0)
        yield from self._round_robin()

    def _round_robin(self) -> Iterator[Item]:
        """Round r: every user's r-th piece of work, in the order of those pieces."""
        pointer = {user: (0, 0) for user in self.blocks}  # block, offset in it
        now = [(blocks[0][0], user) for user, blocks in self.blocks.items()]
        heapq.heapify(now)
        later = []
        while now:
            self._read_ahead(now, pointer)
            key, user = heapq.heappop(now)
            b, offset = pointer[user]
            _, kind, pk = self.blocks[user][b]
            if kind == "rerun":
                found, index = offset == 0, 0
            else:
                index = offset + (1 if self.untouched(pk) else 0)  # its first run was the check
                found = self._has(pk, index)
            if found:
                yield self._rerun(pk) if kind == "rerun" else self._item(pk, index)
                pointer[user] = (b, offset + 1)
                heapq.heappush(later, (key, user))
            elif b + 1 < len(self.blocks[user]):  # this block is done: the user's next one, this round
                pointer[user] = (b + 1, 0)
                heapq.heappush(now, (self.blocks[user][b + 1][0], user))
            if not now:
                now, later = later, []

    def _read_ahead(self, heap, pointer) -> None:
        """Read the submissions of the next few users of the round together (one query)."""
        _, user = heap[0]
        b, offset = pointer[user]
        _, kind, pk = self.blocks[user][b]
        if kind != "sub" or pk in self._complete or len(self._runs.get(pk, ())) > offset + 1:
            return
        subs = [self.blocks[u][pointer[u][0]][2] for _, u in heapq.nsmallest(self.batch, heap)
                if self.blocks[u][pointer[u][0]][1] == "sub"]
        self._prefetch_untouched(subs)
        self._read(subs, offset + 2)


def read_query(subs, targets, limit: int | None) -> tuple[str, list]:
    """The waiting runs of the submissions on the targets, each submission's first `limit` (None:
    all), as SQL and its parameters: submission, pk, benchmark, seed, compression, unordered."""
    where = (f"WHERE {WAITING_SQL} AND r.submission_id IN ({_marks(subs)}) "
             f"AND r.benchmark_id IN ({_marks(targets)})")
    params, columns = [*subs, *targets], "r.submission_id, r.id, r.benchmark_id, r.seed, r.compression"
    if limit is None:
        return f"SELECT {columns} FROM submissions_run r {where}", params
    return ("SELECT submission_id, id, benchmark_id, seed, compression FROM (SELECT "
            f"{columns}, ROW_NUMBER() OVER (PARTITION BY r.submission_id "
            "ORDER BY b.position, r.seed, r.compression, r.id) AS nth "
            f"FROM submissions_run r JOIN leaderboard_benchmark b ON b.id = r.benchmark_id {where}) AS firsts "
            "WHERE nth <= %s", [*params, limit])
