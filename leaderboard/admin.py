from django.contrib import admin, messages

from .models import Benchmark, FrontierLatency, Method


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    """Benchmarks mirror the evaluator's registry (`manage.py sync_benchmarks`): what defines a
    result is read-only here; only the description and the position on the home page change."""

    list_display = ["name", "dataset", "model", "embedded", "queue", "reference_top1", "position"]
    list_editable = ["position"]
    search_fields = ["name", "dataset", "model"]
    readonly_fields = ["name", "dataset", "model", "embedded", "queue", "reference_top1",
                       "weights_sha256", "compressions", "seeds", "protocol_version", "protocol_hash"]
    actions = ["requeue_every_entry"]

    @admin.action(description="Re-queue every entry under the current protocol (old results stay visible)")
    def requeue_every_entry(self, request, queryset):
        from submissions.services import benchmark_requeue

        runs = sum(benchmark_requeue(benchmark=b) for b in queryset)
        self.message_user(request, f"Archived the finished results and queued {runs} run(s) again.")


@admin.register(FrontierLatency)
class FrontierLatencyAdmin(admin.ModelAdmin):
    """The dense frontier timed by each worker machine at start (submissions.services.frontier_timing):
    read-only; delete a machine's rows and restart its worker to time it again."""

    list_display = ["network", "machine", "threads", "torch_version", "ms_b1", "ms_b64", "dense_ms_b64", "measured"]
    list_filter = ["benchmark", "machine"]
    readonly_fields = [f.name for f in FrontierLatency._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Method)
class MethodAdmin(admin.ModelAdmin):
    """An entry's slug and name may not be a built-in's (Method.clean, with the error shown on
    the field); a built-in's registry name is read-only."""

    list_display = ["name", "slug", "owner", "is_baseline", "is_reference", "builtin_name", "is_public",
                    "is_hidden", "created"]
    list_filter = ["is_baseline", "is_reference", "is_public", "is_hidden"]
    search_fields = ["name", "slug", "owner__username", "description"]
    readonly_fields = ["builtin_name", "created"]
    raw_id_fields = ["owner"]
    actions = ["hide", "unhide"]

    @admin.action(description="Hide from the leaderboard (moderation)")
    def hide(self, request, queryset):
        n = queryset.filter(is_baseline=False).update(is_hidden=True)
        self.message_user(request, f"{n} method(s) hidden; baselines are always shown.",
                          messages.SUCCESS)

    @admin.action(description="Unhide (show on the leaderboard again)")
    def unhide(self, request, queryset):
        n = queryset.update(is_hidden=False)
        self.message_user(request, f"{n} method(s) unhidden.", messages.SUCCESS)
