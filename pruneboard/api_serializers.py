"""The JSON shapes of the public API (docs/api.md describes every field)."""

from __future__ import annotations

import math

from django.core.validators import URLValidator
from django.urls import NoReverseMatch, reverse
from rest_framework import serializers

from leaderboard.models import Benchmark, Method
from leaderboard.models import cap
from submissions import capabilities
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

    def to_representation(self, b):
        """Plus `runnable` (a submission may name it now) and `missing` (why not, or "")."""
        data = super().to_representation(b)
        if "availability" not in self.context:  # one look at the workers per response
            self.context["availability"] = capabilities.availability()
        found = self.context["availability"].get(b.name) or capabilities.Availability(False, "unknown")
        data.update(runnable=found.runnable, missing=found.missing)
        return data

    def get_urls(self, b):
        return {"leaderboard": site_url(self.context, "benchmark", b.name),
                "csv": site_url(self.context, "benchmark-csv", b.name)}


def ranking_rows(rows: list, by: str = "compression") -> list[dict]:
    """Ranked rows (leaderboard.selectors RankedMethod, ranked `by` compression or speedup, or
    RankedAt) in the API's shape: accuracies as fractions, `interval` [low, high] or null."""
    return [ranking_row(r, r.by(by)) for r in rows]


def ranking_row(about, score) -> dict:
    """One method (`about`: selectors.MethodAbout) and its place in a ranking (ranking.Score)."""
    return finite({
        "rank": score.rank, "band": score.band, "method": about.slug, "name": about.method,
        "tier": about.tier, "score": score.score,
        "interval": list(score.interval) if score.interval is not None else None,
        "half_width": score.half_width, "n": score.n, "complete": score.complete,
        "missing": list(score.missing)})


class MethodSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()
    tags = serializers.ListField(read_only=True)
    keywords = serializers.ListField(source="keyword_list", read_only=True)

    class Meta:
        model = Method
        fields = ["name", "slug", "description", "paper_url", "code_url", "is_baseline", "is_reference",
                  "owner", "created", "url", "title", "authors", "venue", "year", "bibtex", "tags",
                  "keywords", "counted_version", "code_public"]

    def get_url(self, m):
        return site_url(self.context, "method", m.slug)


class MethodDetailSerializer(MethodSerializer):
    """A method with its versions, newest first; `counted_on`: the benchmarks whose boards
    count that version (leaderboard.selectors.counted_versions)."""

    versions = serializers.SerializerMethodField()

    class Meta(MethodSerializer.Meta):
        fields = [*MethodSerializer.Meta.fields, "versions"]

    def get_versions(self, m):
        from submissions.selectors import method_versions

        return [{"version": s.version, "submission": s.pk, "submitted": s.created.isoformat(),
                 "status": s.status, "filename": s.filename, "sha256": s.sha256,
                 "benchmarks": [b.name for b in s.benchmarks.all()], "counted_on": s.counted_on,
                 "url": site_url(self.context, "method-version", m.slug, s.version)}
                for s in method_versions(method=m)]


def capped(field: str, **kwargs) -> serializers.CharField:
    """A method's text field, capped at the model's max_length, whose too-long error names the
    field and the cap ("description is too long: at most 20000 characters")."""
    return serializers.CharField(max_length=cap(field), error_messages={
        "max_length": f"{field.replace('_', ' ')} is too long: at most {{max_length}} characters"}, **kwargs)


class KeywordsField(serializers.Field):
    """Keywords as a JSON list or a comma-separated string; from a form or multipart body, the
    field's value as sent ("a, b"), or its values when repeated (a JSONField would parse the
    form's text as JSON and refuse "a, b")."""

    def get_value(self, dictionary):
        from rest_framework.fields import empty
        from rest_framework.utils import html

        if html.is_html_input(dictionary):
            if self.field_name not in dictionary:
                return empty
            values = dictionary.getlist(self.field_name)
            return values[0] if len(values) == 1 else values
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class MethodUpdateSerializer(serializers.Serializer):
    """PATCH /api/methods/<slug>/ (its owner): any of these fields; `tags` a list of the fixed
    vocabulary (one per axis; [] clears them), `keywords` a list or a comma-separated string."""

    title = capped("title", required=False, allow_blank=True)
    authors = capped("authors", required=False, allow_blank=True)
    venue = capped("venue", required=False, allow_blank=True)
    year = serializers.IntegerField(required=False, allow_null=True, min_value=1950, max_value=2100)
    bibtex = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)
    paper_url = capped("paper_url", required=False, allow_blank=True, validators=[])
    code_url = capped("code_url", required=False, allow_blank=True, validators=[])
    description = capped("description", required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    keywords = KeywordsField(required=False)
    public = serializers.BooleanField(required=False)
    code_public = serializers.BooleanField(required=False)  # the uploaded files shown with public results
    # the version the boards count (where complete): a number, or "latest" / null for the default
    counted_version = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    def validate_counted_version(self, value):
        if value in (None, "", "latest"):
            return None
        if not str(value).isdigit():
            raise serializers.ValidationError('a version number, or "latest"')
        return int(value)

    def validate_bibtex(self, value):
        from leaderboard.metadata import validate_bibtex

        return validate_bibtex(value)

    def validate_paper_url(self, value):
        if value:
            _http_url(value)
        return value

    validate_code_url = validate_paper_url

    def validate_tags(self, value):
        from leaderboard.metadata import TAG_AXES, validate_tags

        chosen = validate_tags(value)
        return {axis: chosen.get(axis, "") for axis in TAG_AXES}

    def validate_keywords(self, value):
        from leaderboard.metadata import normalize_keywords

        if not isinstance(value, (str, list)):
            raise serializers.ValidationError("a list of keywords or a comma-separated string")
        return normalize_keywords(value)

    def fields_to_save(self) -> dict:
        data = dict(self.validated_data)
        data.update(data.pop("tags", {}))
        if "public" in data:
            data["is_public"] = data.pop("public")
        return data


class RunSerializer(serializers.ModelSerializer):
    """A run with every evaluator column in `record`; error and traceback for owner and staff."""

    method = serializers.CharField(source="submission.method.slug")
    version = serializers.IntegerField(source="submission.version")
    benchmark = serializers.CharField(source="benchmark.name")
    track = serializers.CharField(source="benchmark.track", read_only=True)

    class Meta:
        model = Run
        fields = ["id", "method", "submission", "version", "benchmark", "track", "compression", "seed", "status",
                  "attempt", "top1", "top5", "pre_top1", "actual_compression", "compression_error",
                  "speedup", "measured_speedup", "latency_device", "created", "finished", "record"]

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
        fields = ["id", "method", "method_name", "version", "owner", "filename", "sha256", "baseline",
                  "status", "submitted", "updated", "finished", "benchmarks"]

    def to_representation(self, submission):
        from submissions.selectors import mask_twin_summary, run_mask_twins

        data = super().to_representation(submission)
        data["masks_identical_to"] = mask_twin_summary(twins=run_mask_twins(runs=submission.runs.all()))
        runs = list(submission.runs.select_related("benchmark").order_by(*Run._meta.ordering, "id"))
        counts = {s: 0 for s in Run.Status.values}
        for run in runs:
            counts[run.status] += 1
        full = privileged(self.context, submission)
        data["progress"] = {"done": sum(counts[s] for s in Run.FINAL), "total": len(runs), **counts}
        from submissions.dispatch import queue_position  # what the status page shows

        data["queue_position"] = queue_position(submission)
        data["runs"] = [self._run(run, full) for run in runs]
        if full:
            data["error"] = submission.error
        data["url"] = site_url(self.context, "submission", submission.pk)
        return finite(data)

    @staticmethod
    def _run(run: Run, full: bool) -> dict:
        row = {"id": run.pk, "benchmark": run.benchmark.name, "track": run.benchmark.track,
               "compression": run.compression, "seed": run.seed, "status": run.status, "attempt": run.attempt, "top1": run.top1,
               "actual_compression": run.actual_compression, "speedup": run.speedup,
               "measured_speedup": run.measured_speedup, "latency_device": run.latency_device}
        if full:
            row.update(error=run.error, traceback=run.traceback, user_error=run.user_error)
        return row


_http_url = URLValidator(schemes=["http", "https"], message="enter an http:// or https:// URL")


def _names(value: list[str]) -> list[str]:
    """Names given repeated or comma-separated (or both), in order, each once."""
    return list(dict.fromkeys(n.strip() for item in value for n in item.split(",") if n.strip()))


class SubmissionCreateSerializer(serializers.Serializer):
    """The multipart upload. `benchmarks` is repeated, comma-separated, or both; absent means
    the embedded benchmarks. `tracks` (the same forms; absent: after) enters each named benchmark
    on each track ("digits-mlp" + "init" = the target "digits-mlp/init"); a benchmark may also be
    named by its target. Resolved to Benchmark rows in `validated_data["benchmarks"]`."""

    file = serializers.FileField()
    name = capped("name")
    description = capped("description", required=False, allow_blank=True, default="")
    paper_url = capped("paper_url", required=False, allow_blank=True, default="", validators=[_http_url])
    code_url = capped("code_url", required=False, allow_blank=True, default="", validators=[_http_url])
    benchmarks = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    tracks = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    public = serializers.BooleanField(default=True)

    def validate_name(self, value):
        from leaderboard.metadata import validate_method_name

        return validate_method_name(value)

    def validate_benchmarks(self, value):
        names = _names(value)
        known = {b.name: b for b in Benchmark.objects.all()}
        found = capabilities.availability()
        if not names:  # the embedded benchmarks this server can run now
            chosen = [b for b in known.values() if b.embedded and b.track == "after" and found[b.name].runnable]
            if not chosen:
                waiting = [a.missing for a in found.values() if a.waiting]
                raise serializers.ValidationError(
                    "no embedded benchmark is available on this server now"
                    + (f": {waiting[0]}" if waiting else "; name one with benchmarks="))
            return chosen
        unknown = [n for n in names if n not in known]
        if unknown:
            raise serializers.ValidationError(
                f"unknown benchmark {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
        chosen = [known[n] for n in names]
        try:
            capabilities.require_runnable(chosen, found)
        except capabilities.BenchmarkUnavailable as exc:
            raise serializers.ValidationError(str(exc)) from None
        return chosen

    def validate_tracks(self, value):
        from evaluator.tracks import get_track

        names = _names(value)
        for name in names:
            try:
                get_track(name)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None
        return names

    def validate(self, attrs):
        if "benchmarks" not in attrs:
            try:
                attrs["benchmarks"] = self.validate_benchmarks([])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"benchmarks": exc.detail}) from None
        tracks = attrs.pop("tracks", None)
        if tracks:
            attrs["benchmarks"] = self._on_tracks(attrs["benchmarks"], tracks)
        return attrs

    @staticmethod
    def _on_tracks(benchmarks, tracks):
        """Each benchmark's target on each track; a benchmark without one of them, or a target
        this server cannot run, is an error that says which."""
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
        targets = list(dict.fromkeys(targets))
        try:
            capabilities.require_runnable(targets, capabilities.availability())
        except capabilities.BenchmarkUnavailable as exc:
            raise serializers.ValidationError({"tracks": [str(exc)]}) from None
        return targets


class EnterSerializer(serializers.Serializer):
    """POST /api/methods/<slug>/benchmarks/: `benchmarks`, repeated or comma-separated (required)."""

    benchmarks = serializers.ListField(child=serializers.CharField(allow_blank=True))

    def validate_benchmarks(self, value):
        if not any(n.strip() for item in value for n in item.split(",")):
            raise serializers.ValidationError("name at least one benchmark")
        return SubmissionCreateSerializer.validate_benchmarks(self, value)
