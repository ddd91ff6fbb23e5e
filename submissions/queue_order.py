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

Only the head is computed (`head(queue, n)`): a count of the waiting runs by submission, the
fill-in's first n in one ordered query, and the runs of the few submissions the head reaches,
so a tick costs about the same with 100 or 100,000 runs waiting (benchmarks/dispatch_tick.py).
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Value, When, Window
from django.db.models.functions import RowNumber

from .models import Rerun, Run, Submission

WAITING = Q(status=Run.Status.QUEUED, queued_at__isnull=True)  # the partial index `run_waiting`


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
    if not targets or n == 0:
        return []
    here = Run.objects.filter(WAITING, submission_id=OuterRef("pk"), benchmark_id__in=list(targets))
    subs = {pk: (owner, created, status) for pk, owner, created, status in  # a waiting run: not final
            Submission.objects.exclude(status__in=Submission.FINAL).filter(Exists(here))
            .values_list("pk", "owner_id", "created", "status")}
    reruns = list(Rerun.objects.filter(status=Rerun.Status.QUEUED, queued_at__isnull=True,
                                       run__benchmark_id__in=list(targets))
                  .values_list("pk", "requested_by_id", "created", "run__benchmark_id").order_by("created", "pk"))
    side = _Researchers(queue, targets, subs, [r for r in reruns if r[1] is not None], n)
    fill = _fill_in(queue, targets, [pk for pk, (owner, _, _) in subs.items() if owner is None],
                    [r for r in reruns if r[1] is None], n)
    return _merge(side.items(), fill, _recent(queue, targets), n)


def track_rank(track: str) -> int:
    """The fill-in's order of tracks: the default track first, then the others as registered."""
    from evaluator.tracks import DEFAULT_TRACK, TRACKS

    order = [DEFAULT_TRACK, *(t for t in TRACKS if t != DEFAULT_TRACK)]
    return order.index(track) if track in order else len(order)


def fill_in_query(queue: str, targets: dict, builtins: list[int]):
    """The fill-in's waiting runs of the queue, in their order (the dispatcher's main query)."""
    by = lambda i: Case(*[When(benchmark_id=pk, then=Value(t[i])) for pk, t in targets.items()],  # noqa: E731
                        output_field=IntegerField())
    return (Run.objects.filter(WAITING, submission_id__in=builtins, benchmark_id__in=list(targets))
            .annotate(track_rank=by(1), bench_position=by(2))
            .order_by("track_rank", "seed", "bench_position", "submission_id", "compression", "pk"))


def main_queries(queue: str) -> dict:
    """name -> the queryset of each query of `head` that reads many rows (for EXPLAIN:
    benchmarks/dispatch_tick.py)."""
    targets = targets_by_queue().get(queue, {})
    builtins = list(Submission.objects.filter(owner__isnull=True).exclude(status__in=Submission.FINAL)
                    .values_list("pk", flat=True))
    researchers = list(Submission.objects.filter(owner__isnull=False).exclude(status__in=Submission.FINAL)
                       .order_by("created", "pk").values_list("pk", flat=True)[:16])
    return {"the researchers' first runs": read_query(researchers, targets, 2).values_list("pk"),
            "the fill-in's head": fill_in_query(queue, targets, builtins).values_list("pk")[:16]}


def _fill_in(queue, targets, builtins, reruns, n) -> Iterator[Item]:
    for pk, _, created, bench in reruns:  # the platform's re-runs (few): before its runs
        yield Item("rerun", pk, queue, targets[bench][0], True, None, (0, created, pk))
    if not builtins:
        return
    rows = fill_in_query(queue, targets, builtins).values_list(
        "pk", "benchmark_id", "submission_id", "seed", "compression", "track_rank", "bench_position")
    for pk, bench, sub, seed, compression, rank, position in (rows if n is None else rows[:n]):
        yield Item("run", pk, queue, targets[bench][0], True, None, (1, rank, seed, position, sub, compression, pk))


def _recent(queue, targets) -> list[bool]:
    """Whether each of the queue's last k - 1 dispatches went to the fill-in, oldest first."""
    k = fill_in_every()
    if not k:
        return []
    last = list(Run.objects.filter(queued_at__isnull=False, benchmark_id__in=list(targets))
                .order_by("-queued_at").values_list("submission__owner_id", flat=True)[:k - 1])
    return [owner is None for owner in reversed(last)]


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
        touched = set(Run.objects.filter(submission_id__in=maybe).exclude(WAITING).order_by()
                      .values_list("submission_id", flat=True).distinct()) if maybe else set()
        self._untouched.update({s: s in maybe and s not in touched for s in ask})

    def _read(self, subs, upto: int) -> None:
        """Hold each submission's first `upto` waiting runs on the queue (all, if it has fewer)."""
        need = [s for s in subs if s not in self._complete and len(self._runs.get(s, ())) < upto]
        if not need:
            return
        limit = None if self.deep else max(upto, 2 * len(self._runs.get(need[0], ())), 4)
        rows = read_query(need, list(self.targets), limit).values_list(
            "submission_id", "pk", "benchmark_id", "seed", "compression")
        got = defaultdict(list)
        for sub, pk, bench, seed, compression in rows:
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


def read_query(subs, targets, limit: int | None):
    """The waiting runs of the submissions on the targets, each submission's first `limit`."""
    runs = Run.objects.filter(WAITING, submission_id__in=list(subs), benchmark_id__in=list(targets))
    if limit is None:
        return runs
    return runs.annotate(nth=Window(RowNumber(), partition_by=[F("submission_id")],
                                    order_by=[F("benchmark__position"), F("seed"), F("compression"), F("pk")])
                         ).filter(nth__lte=limit)
