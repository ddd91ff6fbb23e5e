"""Leaderboard pages and CSV downloads. The logic is in selectors/ (reads), charts.py
(figures) and downloads.py (streamed CSV); each view fetches, then renders."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from submissions import services as submission_services
from submissions.capabilities import availability
from submissions.models import MasksBlob, Run, Submission

from . import selectors, services, tables
from .charts import accuracy_figures, board_figures
from .downloads import csv_response
from .forms import EnterBenchmarksForm, MethodEditForm
from .metadata import TAG_AXES
from .models import Benchmark, Method
from .ranking import parse_point, rank_points
from .tracks import benchmark_tracks, track_agreement


def _search(request) -> dict:
    """The page's search (GET q, tag, author, keyword) and what the form shows."""
    search, errors = selectors.search_params(request.GET)
    return {"search": search, "search_errors": errors, "searching": selectors.search_active(search),
            "tag_axes": TAG_AXES}


def home(request):
    ctx = {"benchmarks": selectors.benchmark_summaries(), **_search(request)}
    found = availability()
    fill = selectors.builtin_fill_in(benchmarks=[b["benchmark"] for b in ctx["benchmarks"]], scored_only=False)
    for b in ctx["benchmarks"]:
        b["availability"] = found.get(b["name"])
        b["fill_in"] = fill[b["benchmark"].pk]
    if ctx["searching"]:
        s = ctx["search"]
        ctx["found"] = list(selectors.methods_search(
            methods=Method.objects.visible_to(request.user).select_related("owner"),
            q=s["q"], tags=s["tags"], author=s["author"], keyword=s["keyword"]).order_by("name", "id")[:100])
    return render(request, "leaderboard/home.html", ctx)


def benchmark_detail(request, name):
    """?by=compression|speedup picks the ranking; ?at=<point> ranks at one compression (or
    speedup bucket) instead; a point the benchmark does not have is a 400 naming the choices.
    The table shows one screen of rows (?page=N, ?all=1: selectors/paging.py)."""
    benchmark = get_object_or_404(Benchmark, name=name)
    # the counted versions, runs done/total and latency machines, cached with the ranking
    state = selectors.board_state(benchmark=benchmark)
    counted = dict(state.counted)
    ranking = selectors.board_ranking(benchmark=benchmark, state=state)
    dense = selectors.benchmark_dense_top1(benchmark=benchmark)
    frontier = selectors.benchmark_frontier(benchmark=benchmark)
    chosen, unknown = tables.compared(request.GET, ranking)
    # a board whose track's axis is measured speedup (structured) ranks by speedup unless asked
    by = request.GET.get("by") or ("speedup" if selectors.board_axis(benchmark) == "measured_speedup" else "compression")
    by = "speedup" if by == "speedup" else "compression"
    # every baseline and reference method is drawn and listed, "no results yet" when it has none
    waiting = selectors.builtin_methods_without_results(benchmark=benchmark, ranked_ids=[r.method_id for r in ranking])
    measured = selectors.speedup_column(benchmark) == "measured_speedup"
    table = selectors.benchmark_speedup_ranking(ranking=ranking) if by == "speedup" else ranking
    search = _search(request)
    if search["searching"]:  # the rows that match, with their ranks on the whole board
        s = search["search"]
        matching = set(selectors.methods_search(
            methods=Method.objects.visible_to(request.user), q=s["q"], tags=s["tags"],
            author=s["author"], keyword=s["keyword"]).values_list("pk", flat=True))
        table = [r for r in table if r.method_id in matching]
    column, descending = tables.sort_state(request.GET, benchmark.compressions)
    page = selectors.table_page(tables.sort_ranking(table, column, descending, benchmark.compressions, by=by),
                                request.GET)
    charted, shown = selectors.charted_methods(ranking, page.rows, chosen)
    machines = state.machine_rows()
    # the frontier on the measured chart: as timed on the machine most of the board's runs were
    frontier_timing = (selectors.frontier_timing(benchmark=benchmark, machine=machines[0]["machine"])
                       if frontier is not None and machines else None)
    figures = board_figures(benchmark=benchmark, ranking_key=state.ranking_key, charted=charted, counted=counted,
                            shown=shown, reference_top1=dense["value"], waiting=() if chosen else waiting,
                            measured=measured, frontier=frontier, frontier_timing=frontier_timing)
    points = rank_points(benchmark, by)
    at, at_rows, at_error = None, None, None
    if request.GET.get("at"):
        try:
            at = parse_point(request.GET["at"], points, by)
            at_rows = selectors.benchmark_rank_at(benchmark=benchmark, **{by: at})
        except ValueError as exc:
            at_error = str(exc)
    # the points the ranking compares: every compression by speedup, those above 1x by
    # compression, or the one compression ranked at
    fill_in = selectors.builtin_fill_in(benchmarks=[benchmark], scored_only=by == "compression",
                                        compressions=[at] if at is not None and by == "compression" else None)[benchmark.pk]
    tracks = benchmark_tracks(benchmark=benchmark)
    carried = tables.carried(request.GET)
    return render(request, "leaderboard/benchmark.html", {
        "tracks": tracks, "agreement": track_agreement(benchmark=benchmark, ranking=ranking, tracks=tracks),
        "benchmark": benchmark, "ranking": page.rows, "page": page, "matched": len(table),
        "speedup_buckets": ranking[0].speedup_buckets if ranking else (),
        "by": by, "figures": figures, "dense": dense,
        "compressions": benchmark.compressions, "done": state.done, "total": state.total,
        "entries": sum(r.tier == "entry" for r in ranking), "ranked": len(ranking), **search,
        "compare": {"chosen": chosen, "slugs": {r.slug for r in chosen}, "unknown": unknown,
                    "methods": selectors.compare_choices(ranking, page.rows, chosen),
                    "kept": carried["compare"], "every": carried["every"]},
        "sort": tables.sort_links(request.GET, benchmark.compressions, column, descending),
        "sort_columns": [f"c{float(c):g}" for c in benchmark.compressions],
        "points": points, "at": at, "at_rows": at_rows, "at_error": at_error,
        "fill_in": fill_in, "waiting": waiting, "frontier": frontier, "frontier_columns": 2 if frontier else 0,
        "distances": selectors.frontier_distances(benchmark=benchmark, counted=counted, frontier=frontier,
                                                  methods=[r.method_id for r in page.rows],
                                                  ranking_key=state.ranking_key) if frontier else {},
        "machines": machines,
        "by_links": carried["by"], "at_kept": carried["at"],
    }, status=400 if at_error else 200)


def overview(request):
    by = "speedup" if request.GET.get("by") == "speedup" else "compression"
    return render(request, "leaderboard/overview.html",
                  {"by": by, **selectors.benchmarks_overview(by=by, provisional=True)})


def benchmark_csv(request, name):
    benchmark = get_object_or_404(Benchmark, name=name)
    return csv_response(selectors.benchmark_listed_runs(benchmark=benchmark),
                        filename=f"{benchmark.name.replace('/', '-')}.csv")


def submission_csv(request, pk):
    submission = get_object_or_404(Submission.objects.visible_to(request.user), pk=pk)
    return csv_response(submission.runs.all(), filename=f"submission-{submission.pk}.csv")


def run_detail(request, pk):
    """One run: its metrics in the site's notation, its per-layer sparsity as a bar chart with
    the collapsed layers named, and a link to its CSV row."""
    run = get_object_or_404(Run.objects.visible_to(request.user)
                            .select_related("benchmark", "submission__method"), pk=pk)
    layers = selectors.run_layers(run=run)
    source = submission_services.shared_source(run=run)
    return render(request, "leaderboard/run.html", {
        "run": run, "submission": run.submission, "method": run.submission.method,
        "record": run.record or {}, "layers": layers,
        "collapsed": [bar for bar in layers if bar["collapsed"]],
        "shared_from": source if source and Run.objects.visible_to(request.user).filter(pk=source.pk).exists() else None,
        "masks_kept": bool(run.masks_sha256) and MasksBlob.objects.filter(sha256=run.masks_sha256).exists(),
    })


def run_masks(request, pk):
    """The run's masks file (evaluator/maskfile.py), for `python -m evaluator replay`; only where
    the run itself may be seen."""
    run = get_object_or_404(Run.objects.visible_to(request.user), pk=pk, status=Run.Status.FINISHED)
    blob = MasksBlob.objects.filter(sha256=run.masks_sha256).first() if run.masks_sha256 else None
    if blob is None:
        raise Http404("this run's masks were not kept")
    response = HttpResponse(bytes(blob.data), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-{blob.sha256[:12]}.masks"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def run_csv(request, pk):
    run = get_object_or_404(Run.objects.visible_to(request.user), pk=pk)
    return csv_response(Run.objects.filter(pk=run.pk), filename=f"run-{run.pk}.csv")


def method_detail(request, slug, version=None):
    """The method: its paper, tags, versions and, for the latest version (or `version`), its
    code, curves and runs."""
    method = get_object_or_404(Method.objects.visible_to(request.user), slug=slug)
    is_owner = request.user.is_authenticated and method.owner_id == request.user.pk
    privileged = is_owner or request.user.is_staff  # sees withdrawn versions and private code
    versions = selectors.method_versions(method=method, with_withdrawn=privileged)
    if version is None:
        submission = versions[0] if versions else None
    else:
        submission = next((v for v in versions if v.version == version), None)
        if submission is None:
            raise Http404(f"{method.name} has no version {version}")
    charts = [{"benchmark": b, "figures": accuracy_figures(curves, reference_top1=b.reference_top1),
               "machines": selectors.benchmark_latency_machines(benchmark=b)}
              for b, curves in selectors.method_curves(method=method, submission=submission if version else None)]
    runs = list(selectors.method_runs(method=method, submission=submission, with_withdrawn=privileged))
    twins = selectors.run_mask_twins(runs=runs)
    for run in runs:
        run.twins = twins.get(run.pk, [])
    code_visible = selectors.code_visible(method=method, user=request.user)
    return render(request, "leaderboard/method.html", {
        "method": method, "submission": submission, "versions": versions, "version": version,
        "code": selectors.method_code(submission=submission) if code_visible else None,
        "code_hidden": not code_visible, "charts": charts, "runs": runs,
        "twins": selectors.mask_twin_lines(summary=selectors.mask_twin_summary(twins=twins)),
        "done": sum(1 for r in runs if r.status in Run.FINAL), "total": len(runs),
        "is_owner": is_owner,
        # the form enters the latest version: offered on the method's page, not an older version's
        "enter_form": (EnterBenchmarksForm(entered=submission.benchmarks.all())
                       if is_owner and submission and version is None else None),
        "archived": list(selectors.method_archived(method=method)),
    })


def _own_method(request, slug):
    """The method, if the user may see it (404 otherwise) and owns it (403 otherwise)."""
    method = get_object_or_404(Method.objects.visible_to(request.user), slug=slug)
    if method.owner_id is None or method.owner_id != request.user.pk:
        raise PermissionDenied("only the method's owner may change it")
    return method


@login_required
def method_edit(request, slug):
    method = _own_method(request, slug)
    form = MethodEditForm(request.POST or None, instance=method)
    if request.method == "POST" and form.is_valid():
        services.method_update(method=method, user=request.user,
                               data={f: form.cleaned_data[f] for f in form.Meta.fields})
        messages.success(request, "Saved.")
        return redirect(method)
    return render(request, "leaderboard/method_edit.html", {"method": method, "form": form})


@login_required
@require_POST
def method_enter(request, slug):
    """Enter the method's latest version on more benchmarks (the form on its page)."""
    method = _own_method(request, slug)
    latest = selectors.method_latest_submission(method=method)
    form = EnterBenchmarksForm(request.POST, entered=latest.benchmarks.all() if latest else ())
    if not form.is_valid():
        messages.error(request, "Choose at least one benchmark it is not on yet, among those offered"
                                f" ({' '.join(form.errors['benchmarks'])}).")
        return redirect(method)
    try:
        submission, added = submission_services.method_enter(method=method, user=request.user,
                                                             benchmarks=form.cleaned_data["benchmarks"])
    except submission_services.UploadRejected as exc:  # LimitExceeded included
        messages.error(request, str(exc))
        return redirect(method)
    runs = sum(len(b.compressions) * len(b.seeds) for b in added)
    messages.success(request, f"Version {submission.version} entered on {', '.join(b.name for b in added)}: "
                              f"{runs} runs queued.")
    return redirect(submission)


@login_required
@require_POST
def method_count(request, slug):
    """The owner chooses the version the leaderboards count: POST version=<n>, or "latest"."""
    method = _own_method(request, slug)
    choice = request.POST.get("version", "latest")
    try:
        version = None if choice == "latest" else int(choice)
        services.method_count_version(method=method, user=request.user, version=version)
    except ValueError as exc:
        messages.error(request, str(exc) if choice.isdigit() or choice == "latest"
                       else f"{choice[:20]!r} is not a version: choose one of the list, or the latest complete one.")
        return redirect(_safe_next(request) or method.get_absolute_url())
    messages.success(request, "The leaderboards now count " + (
        "the latest complete version." if version is None else
        f"version {version} on each benchmark where it is complete (elsewhere the latest complete version)."))
    return redirect(_safe_next(request) or method.get_absolute_url())


def _safe_next(request) -> str | None:
    """A `next` that stays on this site (a path), else None."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return target if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else None


def method_code(request, slug, version=None):
    """The file of the latest version (or of `version`) as plain text: shown, never executed by
    the browser."""
    method = get_object_or_404(Method.objects.visible_to(request.user), slug=slug)
    if not selectors.code_visible(method=method, user=request.user):
        raise Http404("its owner keeps this method's code private")
    submissions = method.submissions.all()
    if not (request.user.is_staff or request.user.is_authenticated and method.owner_id == request.user.pk):
        submissions = submissions.filter(withdrawn=False)
    submission = (submissions.order_by("-version", "-created", "-id").first() if version is None
                  else submissions.filter(version=version).first())
    code = selectors.method_code(submission=submission)
    if code is None:
        raise Http404("this method has no uploaded file" if version is None else f"{method.name} has no file of version {version}")
    response = HttpResponse(code, content_type="text/plain; charset=utf-8")
    name = method.slug if version is None else f"{method.slug}-v{version}"
    response["Content-Disposition"] = f'inline; filename="{name}.py"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
