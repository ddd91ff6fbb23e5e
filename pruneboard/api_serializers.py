"""The JSON shapes of the public API (docs/api.md describes every field)."""

from __future__ import annotations

import math

from django.core.validators import URLValidator
from django.urls import NoReverseMatch, reverse
from rest_framework import serializers

from leaderboard.models import Benchmark, Method
from submissions.models import Run, Submission
from submissions.selectors import submission_errors_visible


def finite(value):
    """JSON has no inf or NaN (an all-pruned model has an infinite speedup): they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def site_url(context, name: str, *args) -> str | None:
    """The absolute address of a site page, or None while the page's route does not exist."""
    try:
        path = reverse(name, args=args)
    except NoReverseMatch:
        return None
    request = context.get("request")
    return request.build_absolute_uri(path) if request else path


def privileged(context, submission: Submission) -> bool:
    """The requester may see errors and tracebacks: the owner, or staff."""
    request = context.get("request")
    return request is not None and submission_errors_visible(submission=submission, user=request.user)


class BenchmarkSerializer(serializers.ModelSerializer):
    urls = serializers.SerializerMethodField()

    class Meta:
        model = Benchmark
        fields = ["name", "track", "base", "dataset", "model", "description", "embedded", "queue", "reference_top1",
                  "weights_sha256", "compressions", "seeds", "protocol_version", "protocol_hash",
                  "urls"]

    def get_urls(self, b):
        return {"leaderboard": site_url(self.context, "benchmark", b.name),
                "csv": site_url(self.context, "benchmark-csv", b.name)}


class MethodSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Method
        fields = ["name", "slug", "description", "paper_url", "code_url", "is_baseline", "owner",
                  "created", "url"]

    def get_url(self, m):
        return site_url(self.context, "method", m.slug)


class RunSerializer(serializers.ModelSerializer):
    """A run with every evaluator column in `record`; error and traceback for owner and staff."""

    method = serializers.CharField(source="submission.method.slug")
    benchmark = serializers.CharField(source="benchmark.name")
    track = serializers.CharField(source="benchmark.track", read_only=True)

    class Meta:
        model = Run
        fields = ["id", "method", "submission", "benchmark", "track", "compression", "seed", "status",
                  "attempt", "top1", "top5", "pre_top1", "actual_compression", "compression_error",
                  "speedup", "created", "finished", "record"]

    def to_representation(self, run):
        data = super().to_representation(run)
        data["csv"] = site_url(self.context, "run-csv", run.pk) if run.status == Run.Status.FINISHED else None
        data["reruns"] = [{"id": r.pk, "status": r.status, "masks_identical": r.masks_identical,
                           "differences": r.differences, "created": r.created.isoformat()}
                          for r in run.reruns.all()]
        if privileged(self.context, run.submission):
            data.update(error=run.error, traceback=run.traceback, user_error=run.user_error)
        return finite(data)


class SubmissionSerializer(serializers.ModelSerializer):
    """A submission's state and a summary of its runs. `submitted` is its creation time (a POST
    answer's `created` says whether the upload made it)."""

    method = serializers.CharField(source="method.slug")
    method_name = serializers.CharField(source="method.name")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    submitted = serializers.DateTimeField(source="created")
    benchmarks = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Submission
        fields = ["id", "method", "method_name", "owner", "filename", "sha256", "baseline",
                  "status", "submitted", "updated", "finished", "benchmarks"]

    def to_representation(self, submission):
        data = super().to_representation(submission)
        runs = list(submission.runs.select_related("benchmark").order_by(*Run._meta.ordering, "id"))
        counts = {s: 0 for s in Run.Status.values}
        for run in runs:
            counts[run.status] += 1
        full = privileged(self.context, submission)
        data["progress"] = {"done": sum(counts[s] for s in Run.FINAL), "total": len(runs), **counts}
        data["runs"] = [self._run(run, full) for run in runs]
        if full:
            data["error"] = submission.error
        data["url"] = site_url(self.context, "submission", submission.pk)
        return finite(data)

    @staticmethod
    def _run(run: Run, full: bool) -> dict:
        row = {"id": run.pk, "benchmark": run.benchmark.name, "track": run.benchmark.track,
               "compression": run.compression, "seed": run.seed, "status": run.status, "attempt": run.attempt, "top1": run.top1,
               "actual_compression": run.actual_compression, "speedup": run.speedup}
        if full:
            row.update(error=run.error, traceback=run.traceback, user_error=run.user_error)
        return row


_http_url = URLValidator(schemes=["http", "https"], message="enter an http:// or https:// URL")


class SubmissionCreateSerializer(serializers.Serializer):
    """The multipart upload. `benchmarks` is repeated, comma-separated, or both; absent means
    the embedded benchmarks. `tracks` (the same forms; absent: after) enters each named benchmark
    on each track ("digits-mlp" + "init" = the target "digits-mlp/init"); a benchmark may also be
    named by its target. Resolved to Benchmark rows in `validated_data["benchmarks"]`."""

    file = serializers.FileField()
    name = serializers.CharField(max_length=Method._meta.get_field("name").max_length)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    paper_url = serializers.CharField(required=False, allow_blank=True, default="",
                                      max_length=200, validators=[_http_url])
    code_url = serializers.CharField(required=False, allow_blank=True, default="",
                                     max_length=200, validators=[_http_url])
    benchmarks = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    tracks = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    public = serializers.BooleanField(default=True)

    def validate_benchmarks(self, value):
        names = list(dict.fromkeys(n.strip() for item in value for n in item.split(",") if n.strip()))
        known = {b.name: b for b in Benchmark.objects.all()}
        if not names:
            return [b for b in known.values() if b.embedded and b.track == "after"]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise serializers.ValidationError(
                f"unknown benchmark {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
        return [known[n] for n in names]

    def validate_tracks(self, value):
        from evaluator.tracks import get_track

        names = list(dict.fromkeys(n.strip() for item in value for n in item.split(",") if n.strip()))
        for name in names:
            try:
                get_track(name)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None
        return names

    def validate(self, attrs):
        if "benchmarks" not in attrs:
            attrs["benchmarks"] = self.validate_benchmarks([])
        tracks = attrs.pop("tracks", None)
        if tracks:
            attrs["benchmarks"] = self._on_tracks(attrs["benchmarks"], tracks)
        return attrs

    @staticmethod
    def _on_tracks(benchmarks, tracks):
        """Each benchmark's target on each track; a benchmark without one of them is an error
        that names the tracks it has."""
        targets, missing = [], []
        for b in benchmarks:
            offered = {row.track: row for row in Benchmark.objects.filter(base=b.base)}
            for track in tracks:
                if track in offered:
                    targets.append(offered[track])
                else:
                    missing.append(f"benchmark {b.base!r} has no track {track!r}; its tracks: "
                                   f"{', '.join(offered)}")
        if missing:
            raise serializers.ValidationError({"tracks": missing})
        return list(dict.fromkeys(targets))
