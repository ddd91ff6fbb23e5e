"""The JSON API (docs/api.md): public reads of benchmarks, methods and runs; token-authenticated
uploads. Visibility is the site's own (leaderboard.selectors): listed methods (baselines, and
public ones not hidden by a moderator) for everyone, plus the user's own; staff see everything."""

from __future__ import annotations

from dataclasses import asdict

from rest_framework import generics, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from leaderboard.models import Benchmark, Method
from leaderboard.ranking import parse_point, rank_points
from leaderboard.selectors import (benchmark_rank_at, benchmark_speedup_ranking, board_ranking,
                                   benchmarks_overview, methods_search, search_params)
from leaderboard.services import method_count_version, method_update
from submissions import services
from submissions.models import Run, Submission

from .api_serializers import (BenchmarkSerializer, EnterSerializer, MethodDetailSerializer, MethodSerializer,
                              MethodUpdateSerializer, RunSerializer, SubmissionCreateSerializer,
                              SubmissionSerializer, ranking_rows)
from .throttles import LoginThrottle, login_succeeded


class BenchmarkList(generics.ListAPIView):
    queryset = Benchmark.objects.all()
    serializer_class = BenchmarkSerializer


class BenchmarkDetail(generics.RetrieveAPIView):
    """The benchmark, and `rankings`: its listed methods ranked by compression and by speedup."""

    queryset = Benchmark.objects.all()
    serializer_class = BenchmarkSerializer
    lookup_field = "name"

    def retrieve(self, request, *args, **kwargs):
        benchmark = self.get_object()
        rows = board_ranking(benchmark=benchmark)
        return Response({**self.get_serializer(benchmark).data, "rankings": {
            "compression": ranking_rows(rows),
            "speedup": ranking_rows(benchmark_speedup_ranking(ranking=rows), by="speedup"),
            "speedup_buckets": list(rows[0].speedup_buckets) if rows else []}})


def _by(request) -> str:
    by = request.query_params.get("by", "compression")
    if by not in ("compression", "speedup"):
        raise ValidationError({"by": [f"unknown ranking {by[:40]!r}; known: compression, speedup"]})
    return by


class BenchmarkRanking(APIView):
    """?by=compression|speedup (default compression); ?at=<compression or speedup bucket>: rank
    at that one point instead (an unknown point is 400 naming the choices)."""

    def get(self, request, name):
        benchmark = get_object_or_404(Benchmark, name=name)
        by, at = _by(request), request.query_params.get("at")
        if at:
            try:
                point = parse_point(at, rank_points(benchmark, by), by)
            except ValueError as exc:
                raise ValidationError({"at": [str(exc)]}) from None
            rows = ranking_rows(benchmark_rank_at(benchmark=benchmark, **{by: point}))
        else:
            point, rows = None, board_ranking(benchmark=benchmark)
            rows = ranking_rows(benchmark_speedup_ranking(ranking=rows) if by == "speedup" else rows, by=by)
        return Response({"benchmark": benchmark.name, "by": by, "at": point, "results": rows})


class Overview(APIView):
    """Every listed method's rank on every benchmark and its mean rank (?by=compression|speedup)."""

    def get(self, request):
        by = _by(request)
        overview = benchmarks_overview(by=by)
        names = [b.name for b in overview["benchmarks"]]
        return Response({"by": by, "benchmarks": names, "results": [
            {"method": r.slug, "name": r.method, "tier": r.tier,
             "ranks": {name: asdict(place) if place else None for name, place in zip(names, r.ranks)},
             "mean_rank": r.mean_rank, "benchmarks_full": r.benchmarks_full} for r in overview["rows"]]})


class MethodList(generics.ListAPIView):
    """?q=&tag=&author=&keyword=: the site's search (leaderboard.selectors.methods_search)."""

    serializer_class = MethodSerializer

    def get_queryset(self):
        return Method.objects.visible_to(self.request.user).select_related("owner").order_by("created", "id")

    def filter_queryset(self, qs):
        search, errors = search_params(self.request.query_params)
        if errors:
            raise ValidationError({"tag": errors})
        return methods_search(methods=qs, q=search["q"], tags=search["tags"], author=search["author"],
                              keyword=search["keyword"])


class MethodDetail(generics.RetrieveAPIView):
    """GET: the method with its versions. PATCH (its owner): the paper, tags, keywords and
    `public` (MethodUpdateSerializer); others get 403 (404 when they cannot see it)."""

    serializer_class = MethodDetailSerializer
    lookup_field = "slug"
    get_queryset = MethodList.get_queryset

    def patch(self, request, slug):
        method = self.get_object()
        if method.owner_id is None or method.owner_id != request.user.pk:
            return Response({"detail": "only the method's owner may edit it"}, status=403)
        form = MethodUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.fields_to_save()
        if "counted_version" in data:
            try:
                method_count_version(method=method, user=request.user, version=data.pop("counted_version"))
            except ValueError as exc:
                return Response({"counted_version": [str(exc)]}, status=400)
        if data:
            method_update(method=method, user=request.user, data=data)
        return Response(MethodDetailSerializer(method, context={"request": request}).data)


class MethodEnter(APIView):
    """POST `benchmarks`: enter the method's latest version on them (its owner). 202 with the
    benchmarks added (empty when it was on all of them); 429 over the queued-runs limit."""

    permission_classes = [IsAuthenticated]

    def post(self, request, slug):
        method = get_object_or_404(Method.objects.visible_to(request.user), slug=slug)
        form = EnterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            submission, added = services.method_enter(method=method, user=request.user,
                                                      benchmarks=form.validated_data["benchmarks"])
        except PermissionDenied as exc:
            return Response({"detail": str(exc)}, status=403)
        except services.LimitExceeded as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        except services.UploadRejected as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"submission": submission.pk, "version": submission.version,
                         "added": [b.name for b in added]}, status=202)


class RunList(generics.ListAPIView):
    """Finished runs by default; ?benchmark=<name>&method=<slug>&status=<status or all>."""

    serializer_class = RunSerializer

    def get_queryset(self):
        return (Run.objects.visible_to(self.request.user)
                .select_related("benchmark", "submission__method").prefetch_related("reruns")
                .order_by("id"))

    def filter_queryset(self, qs):
        params = self.request.query_params
        wanted = params.get("status", Run.Status.FINISHED)
        if wanted != "all":
            if wanted not in Run.Status.values:
                raise ValidationError({"status": [f"unknown status {wanted!r}; known: "
                                                  f"{', '.join(Run.Status.values)}, all"]})
            qs = qs.filter(status=wanted)
        if "benchmark" in params:
            name = params["benchmark"]
            if not Benchmark.objects.filter(name=name).exists():
                known = ", ".join(Benchmark.objects.values_list("name", flat=True))
                raise ValidationError({"benchmark": [f"unknown benchmark {name!r}; known: {known}"]})
            qs = qs.filter(benchmark__name=name)
        if "method" in params:
            qs = qs.filter(submission__method__slug=params["method"])
        if "version" in params:
            if not params["version"].isdigit():
                raise ValidationError({"version": ["a version number: 1, 2, ..."]})
            qs = qs.filter(submission__version=int(params["version"]))
        return qs


class RunDetail(generics.RetrieveAPIView):
    """Any run of a visible method, whatever its status."""

    serializer_class = RunSerializer

    def get_queryset(self):
        return (Run.objects.visible_to(self.request.user)
                .select_related("benchmark", "submission__method").prefetch_related("reruns"))


class RunRerun(APIView):
    """POST: queue a reproducibility re-run of a finished run (its owner or staff). 409 while a
    re-run of the run is pending; 429 when it would take the requester past their queued-runs
    limit (re-runs count as runs); 400 for a run that is not finished."""

    permission_classes = [IsAuthenticated]

    def post(self, request, pk):
        run = get_object_or_404(Run.objects.visible_to(request.user).select_related("submission", "benchmark"), pk=pk)
        if not (request.user.is_staff or run.submission.owner_id == request.user.pk):
            return Response({"detail": "only the run's owner or staff may re-run it"}, status=403)
        try:
            rerun = services.rerun_request(run=run, user=request.user)
        except services.LimitExceeded as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        except services.RerunPending as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"rerun": rerun.pk, "status": rerun.status}, status=202)


class SubmissionDetail(generics.RetrieveAPIView):
    serializer_class = SubmissionSerializer

    def get_queryset(self):
        return (Submission.objects.visible_to(self.request.user)
                .select_related("method", "owner").prefetch_related("benchmarks"))


class SubmissionCreate(APIView):
    """POST a strategy file (multipart). 201 for a new submission; 200 and the existing one when
    the owner uploads the same file again; 429 when a per-user limit refuses a new one (413 for
    an oversized request comes from pruneboard.middleware)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    def post(self, request):
        form = SubmissionCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        d = form.validated_data
        try:
            submission, created = services.submission_create(
                user=request.user, upload=d["file"], name=d["name"], benchmarks=d["benchmarks"],
                description=d["description"], paper_url=d["paper_url"], code_url=d["code_url"],
                is_public=d["public"])
        except services.LimitExceeded as exc:
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            return Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers=headers)
        except services.UploadRejected as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        data = SubmissionSerializer(submission, context={"request": request}).data
        added = [b.name for b in submission.added_benchmarks]
        return Response({**data, "created": created, "added_benchmarks": added},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class TokenView(APIView):
    """POST username and password: the user's token (made on first use). DELETE with the token:
    revoke it. Only token authentication here, so no session or CSRF is involved.

    POSTs are throttled (pruneboard.throttles): PRUNEBOARD_TOKEN_RATE per client address, right
    password or wrong, and the log-in forms' failure counts (per address; per username from the
    addresses that failed for it); past them, 429 with Retry-After."""

    authentication_classes = [TokenAuthentication]
    throttle_scope = "token"

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "DELETE" else [AllowAny()]

    def get_throttles(self):
        return [] if self.request.method == "DELETE" else [ScopedRateThrottle(), LoginThrottle()]

    def check_throttles(self, request):
        # The first throttle that refuses ends it: one over its rate records nothing in the
        # next, so a refused address cannot fill the cache with usernames.
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())

    def post(self, request):
        form = AuthTokenSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)  # a wrong password raises here, and stays counted
        login_succeeded(request, request.login_username)
        token, _ = Token.objects.get_or_create(user=form.validated_data["user"])
        return Response({"token": token.key})

    def delete(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
