"""Which version of a method the leaderboards count, benchmark by benchmark."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from leaderboard.models import Benchmark, Method

from ..models import Run, Submission

FINISHED = Run.Status.FINISHED



# --- versions --------------------------------------------------------------------------------
# A method's submissions are its versions (Submission.version). On each benchmark the board
# counts one version per method, and only a version that is complete there: its runs there all
# final (none queued or running) with at least one finished. Which one: the version its owner
# chose (Method.counted_version) where that one is complete, else the latest complete version
# (the default). A newer version still queued or running leaves the board on the previous one,
# and one whose runs all failed never replaces it; a first version joins the board when it is
# complete (its page and status page show its runs meanwhile). The baselines and reference
# methods (one built-in version each) fill in as their runs finish, and the rankings say
# "provisional" until they are complete (builtin_fill_in).

def counted_versions(*, runs: QuerySet[Run]) -> dict[tuple[int, int], int]:
    """(benchmark id, method id) -> the id of the submission the board counts there, from
    `runs` (any statuses: pending ones decide whether a version is complete). A withdrawn
    submission is never counted."""
    rows = (runs.filter(submission__withdrawn=False).order_by()
            .values_list("benchmark_id", "submission__method_id", "submission_id", "submission__version",
                         "submission__method__counted_version", "submission__method__is_baseline",
                         "submission__method__is_reference")
            .annotate(finished=Count("id", filter=Q(status=FINISHED, top1__isnull=False)),
                      pending=Count("id", filter=Q(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]))))
    best: dict[tuple[int, int], tuple[tuple[bool, int], int]] = {}
    for benchmark_id, method_id, submission_id, version, chosen, baseline, reference, finished, pending in rows:
        # not complete here; the built-ins (one version each) fill in as their runs finish, and
        # the ranks against them say "provisional" meanwhile (builtin_fill_in)
        if not finished or pending and not (baseline or reference):
            continue
        key, rank = (benchmark_id, method_id), (version == chosen, version)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, submission_id)
    return {key: submission_id for key, (_, submission_id) in best.items()}


def counted_submissions(*, benchmark: Benchmark) -> dict[int, int]:
    """method id -> the id of its submission (version) the board counts on the benchmark."""
    return {method_id: sub for (_, method_id), sub in
            counted_versions(runs=Run.objects.filter(benchmark=benchmark)).items()}


def method_versions(*, method: Method, with_withdrawn: bool = False) -> list[Submission]:
    """The method's submissions, newest version first, each with `counted_on`: the benchmarks
    on which the board counts that version. Withdrawn ones only `with_withdrawn` (its owner and
    staff)."""
    counted = counted_versions(runs=Run.objects.filter(submission__method=method))
    versions = method.submissions.order_by("-version").prefetch_related("benchmarks")
    versions = list(versions if with_withdrawn else versions.filter(withdrawn=False))
    names = dict(Benchmark.objects.filter(pk__in={b for b, _ in counted}).values_list("pk", "name"))
    for submission in versions:
        submission.counted_on = sorted(names[b] for (b, _), sub in counted.items() if sub == submission.pk)
    return versions
