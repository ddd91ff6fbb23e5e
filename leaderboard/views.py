"""Leaderboard pages and CSV downloads. The logic is in selectors.py (reads), charts.py
(figures) and downloads.py (streamed CSV); each view fetches, then renders."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from submissions.models import Run

from . import selectors
from .charts import accuracy_figures, initially_shown
from .downloads import csv_response
from .models import Benchmark
from .tracks import benchmark_tracks, track_agreement


def home(request):
    return render(request, "leaderboard/home.html",
                  {"benchmarks": selectors.benchmark_summaries()})


def benchmark_detail(request, name):
    benchmark = get_object_or_404(Benchmark, name=name)
    curves = selectors.benchmark_curves(benchmark=benchmark)
    ranking = selectors.benchmark_ranking(benchmark=benchmark, curves=curves)
    done, total = selectors.benchmark_progress(benchmark=benchmark)
    dense = selectors.benchmark_dense_top1(benchmark=benchmark)
    figures = accuracy_figures(curves, shown=initially_shown(ranking), reference_top1=dense["value"])
    by = "speedup" if request.GET.get("by") == "speedup" else "compression"
    table = selectors.benchmark_speedup_ranking(ranking=ranking) if by == "speedup" else ranking
    tracks = benchmark_tracks(benchmark=benchmark)
    return render(request, "leaderboard/benchmark.html", {
        "tracks": tracks, "agreement": track_agreement(benchmark=benchmark, ranking=ranking, tracks=tracks),
        "benchmark": benchmark, "ranking": table, "by": by, "figures": figures, "dense": dense,
        "compressions": benchmark.compressions, "done": done, "total": total,
        "entries": sum(r["tier"] == "entry" for r in ranking),
    })


def benchmark_csv(request, name):
    benchmark = get_object_or_404(Benchmark, name=name)
    return csv_response(selectors.benchmark_listed_runs(benchmark=benchmark),
                        filename=f"{benchmark.name.replace('/', '-')}.csv")


def submission_csv(request, pk):
    submission = get_object_or_404(selectors.submissions_visible_to(user=request.user), pk=pk)
    return csv_response(submission.runs.all(), filename=f"submission-{submission.pk}.csv")


def run_csv(request, pk):
    run = get_object_or_404(selectors.runs_visible_to(user=request.user), pk=pk)
    return csv_response(Run.objects.filter(pk=run.pk), filename=f"run-{run.pk}.csv")


def method_detail(request, slug):
    method = get_object_or_404(selectors.methods_visible_to(user=request.user), slug=slug)
    submission = selectors.method_latest_submission(method=method)
    charts = [{"benchmark": b, "figures": accuracy_figures(curves, reference_top1=b.reference_top1)}
              for b, curves in selectors.method_curves(method=method)]
    runs = list(selectors.method_runs(method=method))
    return render(request, "leaderboard/method.html", {
        "method": method, "submission": submission,
        "code": selectors.method_code(submission=submission), "charts": charts, "runs": runs,
        "done": sum(1 for r in runs if r.status in Run.FINAL), "total": len(runs),
        "is_owner": request.user.is_authenticated and method.owner_id == request.user.pk,
        "archived": list(selectors.method_archived(method=method)),
    })


def method_code(request, slug):
    """The latest submission's file as plain text: shown, never executed by the browser."""
    method = get_object_or_404(selectors.methods_visible_to(user=request.user), slug=slug)
    code = selectors.method_code(submission=selectors.method_latest_submission(method=method))
    if code is None:
        raise Http404("this method has no uploaded file")
    response = HttpResponse(code, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{method.slug}.py"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
