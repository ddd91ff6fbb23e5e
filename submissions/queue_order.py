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

from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, Value, When

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


def head(queue: str, n: int | None = None) -> list[Item]:
    """The first `n` pieces of work waiting for the queue, in the order they go to the broker
    (None: all of them)."""
    from leaderboard.models import Benchmark

    targets = {pk: (name, track_rank(track), position) for pk, name, track, position in
               Benchmark.objects.filter(queue=queue).values_list("pk", "name", "track", "position")}
    if not targets or n == 0:
        return []
    counts = dict(Run.objects.filter(WAITING, benchmark_id__in=list(targets)).order_by()
                  .values_list("submission_id").annotate(n=Count("id")))
    subs = {pk: (owner, created, status) for pk, owner, created, status in
            Submission.objects.filter(pk__in=list(counts)).exclude(status=Submission.Status.CANCELLED)
            .values_list("pk", "owner_id", "created", "status")}
    reruns = list(Rerun.objects.filter(status=Rerun.Status.QUEUED, queued_at__isnull=True,
                                       run__benchmark_id__in=list(targets))
                  .values_list("pk", "requested_by_id", "created", "run__benchmark_id").order_by("created", "pk"))
    side = _Researchers(queue, targets, counts, subs, [r for r in reruns if r[1] is not None])
    fill = _fill_in(queue, targets, [pk for pk, (owner, _, _) in subs.items() if owner is None],
                    [r for r in reruns if r[1] is None], n)
    picked = _merge(side.items(), fill, _recent(queue, targets), n)
    return side.materialize(picked)


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
    owners = (Run.objects.filter(queued_at__isnull=False, benchmark_id__in=list(targets))
              .order_by("-queued_at", "-pk").values_list("submission__owner_id", flat=True)[:k - 1])
    return [owner is None for owner in reversed(owners)]


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
    """The researchers' side, computed lazily: a submission's runs are only read once the head
    reaches them (`materialize`)."""

    def __init__(self, queue, targets, counts, subs, reruns):
        self.queue, self.targets, self.counts, self.subs = queue, targets, counts, subs
        self._untouched: dict[int, bool] = {}
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
        if sub not in self._untouched:
            self._prefetch([sub])
        return self._untouched[sub]

    def _prefetch(self, subs) -> None:
        ask = [s for s in subs if s not in self._untouched]
        maybe = [s for s in ask if self.subs[s][2] != Submission.Status.RUNNING]  # one started: touched
        touched = set(Run.objects.filter(submission_id__in=maybe).exclude(WAITING).order_by()
                      .values_list("submission_id", flat=True).distinct()) if maybe else set()
        self._untouched.update({s: s in maybe and s not in touched for s in ask})

    def items(self) -> Iterator[tuple]:
        """("check", sub) / ("run", sub, offset) / ("rerun", pk) in order; materialized later."""
        candidates = sorted(((created, pk) for pk, (owner, created, status) in self.subs.items()
                             if owner is not None and status != Submission.Status.RUNNING))
        for start in range(0, len(candidates), 64):
            batch = candidates[start:start + 64]
            self._prefetch([pk for _, pk in batch])
            for _, pk in batch:
                if self._untouched[pk]:
                    yield ("check", pk)
        pointers = {user: [0, 0] for user in self.blocks}  # block index, offset in it
        while pointers:
            here = []
            for user, (b, offset) in list(pointers.items()):
                blocks = self.blocks[user]
                while b < len(blocks) and self._exhausted(blocks[b], offset):
                    b, offset = b + 1, 0
                if b == len(blocks):
                    del pointers[user]
                    continue
                pointers[user] = [b, offset + 1]
                here.append((blocks[b], offset))
            for (key, kind, pk), offset in sorted(here):
                yield ("rerun", pk) if kind == "rerun" else ("run", pk, offset)

    def _exhausted(self, block, offset: int) -> bool:
        _, kind, pk = block
        if kind == "rerun":
            return offset >= 1
        count = self.counts[pk]
        return offset >= count or (offset == count - 1 and self.untouched(pk))  # its first is the check

    def materialize(self, picked: list) -> list[Item]:
        """The picked descriptors (and fill-in Items) as Items, reading the runs they name."""
        subs = {p[1] for p in picked if isinstance(p, tuple) and p[0] in ("check", "run")}
        self._prefetch(list(subs))
        runs = defaultdict(list)
        for row in (Run.objects.filter(WAITING, submission_id__in=list(subs), benchmark_id__in=list(self.targets))
                    .order_by("submission_id", "benchmark__position", "seed", "compression", "pk")
                    .values_list("submission_id", "pk", "benchmark_id", "seed", "compression")):
            runs[row[0]].append(row)
        out = []
        for p in picked:
            if isinstance(p, Item):
                out.append(p)
            elif p[0] == "rerun":
                user, created, bench = self.reruns[p[1]]
                out.append(Item("rerun", p[1], self.queue, self.targets[bench][0], False, user,
                                (created, 0, 0, 0, 0, p[1])))
            else:
                sub = p[1]
                index = 0 if p[0] == "check" else p[2] + (1 if self._untouched[sub] else 0)
                _, pk, bench, seed, compression = runs[sub][index]
                owner, created, _ = self.subs[sub]
                out.append(Item("run", pk, self.queue, self.targets[bench][0], False, owner,
                                (created, sub, self.targets[bench][2], seed, compression, pk)))
        return out
