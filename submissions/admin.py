from django.contrib import admin
from django.utils.text import Truncator

from . import services
from .capabilities import BenchmarkUnavailable
from .models import ResultCheck, Run, Submission, WorkerHeartbeat


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "method", "owner", "status", "withdrawn", "created")
    list_filter = ("status", "withdrawn")
    search_fields = ("method__name", "owner__username", "sha256", "filename")
    list_select_related = ("method", "owner")
    readonly_fields = ("sha256", "baseline", "filename", "status", "error",
                       "created", "updated", "finished")
    raw_id_fields = ("method", "owner")
    actions = ("cancel_selected", "rerun_selected")

    @admin.action(description="Cancel selected submissions")
    def cancel_selected(self, request, queryset):
        runs = sum(services.submission_cancel(s) for s in queryset)
        self.message_user(request, f"Cancelled {len(queryset)} submission(s), {runs} unfinished run(s).")

    @admin.action(description="Re-run selected submissions")
    def rerun_selected(self, request, queryset):
        runs = sum(services.submission_rerun(s) for s in queryset)
        self.message_user(request, f"Queued {runs} run(s) of {len(queryset)} submission(s) again.")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Read-mostly: runs are written by workers; moderators act on whole submissions."""

    list_display = ("id", "submission", "benchmark", "compression", "seed", "status", "attempt",
                    "worker_host", "limit_hit", "sandbox", "error_excerpt")
    list_filter = ("status", "limit_hit", "sandbox", "user_error", "benchmark")
    list_select_related = ("submission__method", "benchmark")
    search_fields = ("error", "worker_host")
    readonly_fields = [f.name for f in Run._meta.fields]
    actions = ("check_reproducibility",)

    @admin.action(description="Re-run to check reproducibility (shown beside the original)")
    def check_reproducibility(self, request, queryset):
        """Staff are exempt from the queued-runs limit, but a run with a re-run still pending
        is skipped like an unfinished one: a second one would only repeat it."""
        queued = unfinished = pending = 0
        unavailable = []
        for run in queryset.select_related("benchmark"):
            try:
                services.rerun_request(run=run, user=request.user)
            except services.RerunPending:
                pending += 1
            except BenchmarkUnavailable as exc:
                unavailable.append(str(exc))
            except ValueError:
                unfinished += 1
            else:
                queued += 1
        self.message_user(request, f"Queued {queued} reproducibility re-run(s); skipped "
                                   f"{unfinished} unfinished run(s) and {pending} run(s) whose "
                                   f"re-run is still pending."
                          + (f" Skipped {len(unavailable)} on benchmarks this server cannot run now: "
                             f"{'; '.join(sorted(set(unavailable)))}." if unavailable else ""))

    @admin.display(description="error")
    def error_excerpt(self, run):
        return Truncator(run.error).chars(80)

    def has_add_permission(self, request):
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """What each worker reported: its queues, device, and per benchmark what it is missing."""

    list_display = ("hostname", "queues", "device", "started", "last_seen")
    readonly_fields = ("hostname", "queues", "device", "capabilities", "started", "last_seen")


@admin.register(ResultCheck)
class ResultCheckAdmin(admin.ModelAdmin):
    """Would-be-shared runs computed anyway (PRUNEBOARD_VERIFY_SHARED): a row with differences
    is a mismatch, the run kept its computed record."""

    list_display = ("id", "run", "original", "identical", "differences", "created")
    list_select_related = ("run__benchmark", "original__benchmark")
    readonly_fields = ("run", "original", "result_key", "differences", "created")

    @admin.display(boolean=True)
    def identical(self, check):
        return not check.differences

    def has_add_permission(self, request):
        return False
