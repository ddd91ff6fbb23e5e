"""What a board's page reads about its runs besides the ranking, computed together and cached
under a fingerprint of everything it reads: the version counted for each method, the runs
done/total and the machines the latencies were timed on (docs/rankings.md, "Caching").

The fingerprint (`board_fingerprint`) is three cheap queries: the benchmark's runs of every
status grouped by status (how many, the sum and the highest of their ids, the latest finished
and updated times: the index run_board_finished answers it alone), every method's listing, tier
and chosen version, and the withdrawn versions. A run queued, started, finished, failed,
cancelled, re-queued, deleted or saved with another record (Run.updated), a method hidden or made
private, a version withdrawn or chosen: each changes it, so the next request computes the state
again and is never stale. (A bulk .update() of runs does not stamp `updated`; those the services
make change a status, which the counts and id sums follow.) The ranking's own key (`BoardState.ranking_key`) follows only what the ranking
reads (the finished runs, the counted versions, the methods), so a run that starts leaves the
ranking cached."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Sum

from submissions.models import Run, Submission
from submissions.selectors.versions import counted_submissions

from ..models import Benchmark, Method
from .board import FINISHED, benchmark_latency_machines, benchmark_progress

# Bump when BoardState's fields or how they are computed change: states of the old shape are
# then never read (the ranking's own is rankings.RANKING_CACHE_VERSION).
STATE_CACHE_VERSION = 1


@dataclass(frozen=True)
class BoardState:
    """A board's run aggregates as of one fingerprint (`board_state`)."""

    key: str  # the cache key of this state (its fingerprint)
    ranking_key: str  # the fingerprint of what the ranking reads (rankings.board_ranking)
    counted: dict  # method id -> the submission id the board counts (counted_submissions); read-only
    done: int  # listed runs in a final state (benchmark_progress)
    total: int  # listed runs
    machines: tuple[tuple[str, int], ...]  # (machine, finished runs timed there), most first

    def machine_rows(self) -> list[dict]:
        """benchmark_latency_machines's rows: [{"machine", "runs"}], a fresh list."""
        return [{"machine": machine, "runs": n} for machine, n in self.machines]


def board_fingerprint(*, benchmark: Benchmark) -> tuple[str, tuple, list[tuple]]:
    """(the state's fingerprint, the finished runs' (count, latest finished, highest id, latest
    updated), the methods (`_methods`)) from three queries, none with a list of ids."""
    by_status = sorted(
        (status, n, ids, top, str(last), str(updated)) for status, n, ids, top, last, updated in
        Run.objects.filter(benchmark=benchmark).order_by().values_list("status")
        .annotate(n=Count("id"), ids=Sum("id"), top=Max("id"), last=Max("finished"), updated=Max("updated")))
    finished = next(((n, last, top, updated) for status, n, _, top, last, updated in by_status
                     if status == FINISHED), (0, "None", None, "None"))
    methods = _methods()
    text = repr((STATE_CACHE_VERSION, benchmark.pk, benchmark.protocol_hash, list(benchmark.compressions),
                 list(benchmark.seeds), by_status, methods,
                 list(Submission.objects.filter(withdrawn=True).order_by("pk").values_list("pk", flat=True))))
    return hashlib.sha256(text.encode()).hexdigest(), finished, methods


def _methods() -> list[tuple]:
    """Every method's name, slug, tier, listing and chosen version (a method renamed, hidden,
    made private or given another counted version changes the list); every method, not only
    the board's: a query without a list of thousands of ids."""
    return list(Method.objects.order_by("pk").values_list(
        "pk", "name", "slug", "is_baseline", "is_reference", "is_public", "is_hidden", "counted_version"))


# This process's newest state per benchmark id: a request whose fingerprint is unchanged skips
# the shared cache too.
_LOCAL: dict[int, BoardState] = {}


def board_state(*, benchmark: Benchmark) -> BoardState:
    """The board's BoardState, from this process's memory or Django's cache while its
    fingerprint holds, else computed (three grouped queries over the benchmark's runs) and
    cached."""
    from .rankings import ranking_key  # rankings reads board_state: imported when called

    fingerprint, finished, methods = board_fingerprint(benchmark=benchmark)
    key = f"pruneboard:board:{benchmark.pk}:{fingerprint}"
    local = _LOCAL.get(benchmark.pk)
    if local is not None and local.key == key:
        return local
    state = cache.get(key)
    if state is None:
        counted = counted_submissions(benchmark=benchmark)
        done, total = benchmark_progress(benchmark=benchmark)
        machines = benchmark_latency_machines(benchmark=benchmark, submissions=counted.values())
        state = BoardState(key=key, counted=counted, done=done, total=total,
                           ranking_key=ranking_key(benchmark=benchmark, counted=counted, finished=finished,
                                                   methods=methods),
                           machines=tuple((m["machine"], m["runs"]) for m in machines))
        cache.set(key, state, settings.PRUNEBOARD_RANKING_CACHE_SECONDS)
    _LOCAL[benchmark.pk] = state
    return state
