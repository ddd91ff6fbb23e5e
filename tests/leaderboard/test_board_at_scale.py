"""The board at scale: its ranking cached on a fingerprint of what it reads and never stale, and
a table shown one screen at a time, with charts that carry only a bounded set of methods."""

import re
from unittest import mock

import pytest

from leaderboard.models import Method
from leaderboard.selectors import rankings
from submissions import services
from submissions.models import Run, Submission
from tests.factories import make_entry, make_method, make_record, make_run, make_submission

FULL = [2, 4, 8, 16, 32, 64]


def ranked_slugs(client, url="/b/digits-mlp/") -> list[str]:
    html = client.get(url).content.decode()
    table = html.split('<table class="table ranking"')[1].split("</table>")[0]
    return re.findall(r'<td class="method"><a href="/m/([^/]+)/">', table)


def alpha_and_beta_one_run_short(bench) -> Run:
    """Alpha's complete version, and Beta's with every run finished (0.95) but its last, which
    waits: returned."""
    make_entry("Alpha", bench, {c: [0.90, 0.91, 0.92] for c in FULL})
    beta = make_submission(make_method("Beta"))
    for c in FULL:
        for seed in range(3):
            if (c, seed) != (64, 2):
                make_run(beta, bench, c, seed, top1=0.95)
    return make_run(beta, bench, 64, 2, status=Run.Status.QUEUED)


@pytest.fixture
def counted_rankings():
    """How many times the board's ranking is computed (not read from the cache)."""
    with mock.patch.object(rankings, "benchmark_ranking", wraps=rankings.benchmark_ranking) as ranked:
        yield ranked


@pytest.mark.django_db
def test_a_run_that_finishes_is_on_the_very_next_request(client, benchmarks, counted_rankings):
    bench = benchmarks["digits-mlp"]
    last = alpha_and_beta_one_run_short(bench)
    assert ranked_slugs(client) == ["alpha"]  # Beta's version is not complete yet
    assert ranked_slugs(client) == ["alpha"] and counted_rankings.call_count == 1  # the second from the cache
    services.run_record_result(run=last, record=make_record(benchmark=bench.name, compression=64.0, seed=2,
                                                            top1=0.95, strategy="beta"))
    assert ranked_slugs(client) == ["beta", "alpha"] and counted_rankings.call_count == 2
    api = client.get("/api/benchmarks/digits-mlp/ranking/").json()["results"]
    assert [r["method"] for r in api] == ["beta", "alpha"] and api[0]["score"] == pytest.approx(0.95)


@pytest.mark.django_db
def test_a_method_hidden_renamed_or_withdrawn_leaves_the_cached_ranking_at_once(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    alpha = make_entry("Alpha", bench, {c: [0.90] for c in FULL})
    beta = make_entry("Beta", bench, {c: [0.80] for c in FULL})
    assert ranked_slugs(client) == ["alpha", "beta"]
    Method.objects.filter(pk=beta.pk).update(name="Beta two")  # no signal: an update in bulk
    assert "Beta two" in client.get("/b/digits-mlp/").content.decode()
    Method.objects.filter(pk=alpha.pk).update(is_hidden=True)  # a moderator's bulk action
    assert ranked_slugs(client) == ["beta"]
    beta.submissions.update(withdrawn=True)
    assert ranked_slugs(client) == []


@pytest.mark.django_db
def test_the_table_shows_one_screen_and_links_the_others(client, benchmarks, monkeypatch):
    monkeypatch.setattr("leaderboard.selectors.paging.PAGE_ROWS", 3)
    bench = benchmarks["digits-mlp"]
    for i in range(7):
        make_entry(f"Entry {i}", bench, {c: [0.9 - i / 100] for c in FULL})
    assert ranked_slugs(client) == ["entry-0", "entry-1", "entry-2"]
    html = client.get("/b/digits-mlp/").content.decode()
    assert "Rows 1–3 of 7" in html and 'href="?page=2#ranking"' in html and 'href="?all=1#ranking"' in html
    assert ranked_slugs(client, "/b/digits-mlp/?page=3") == ["entry-6"]
    assert ranked_slugs(client, "/b/digits-mlp/?all=1") == [f"entry-{i}" for i in range(7)]
    # a page the table lacks shows the nearest screen, never an error
    for page, first in (("abc", "entry-0"), ("-1", "entry-6"), ("9" * 40, "entry-6"), ("", "entry-0")):
        assert ranked_slugs(client, f"/b/digits-mlp/?page={page}")[0] == first
    # sorting and search come before the screens, and the links keep them
    assert ranked_slugs(client, "/b/digits-mlp/?sort=score&dir=asc")[0] == "entry-6"
    sorted_html = client.get("/b/digits-mlp/?sort=score&dir=asc").content.decode()
    assert 'href="?sort=score&amp;dir=asc&amp;page=2#ranking"' in sorted_html


@pytest.mark.django_db
def test_the_charts_and_compare_form_carry_a_bounded_set_of_methods(client, benchmarks, monkeypatch):
    monkeypatch.setattr("leaderboard.selectors.paging.PAGE_ROWS", 12)
    bench = benchmarks["digits-mlp"]
    for i in range(25):
        make_entry(f"Entry {i}", bench, {c: [0.9 - i / 1000] for c in FULL})
    page = client.get("/b/digits-mlp/")
    traces = {t["meta"]: t for t in page.context["figures"]["compression"]["data"]}
    entries = sorted(slug for slug in traces if slug.startswith("entry-"))
    assert entries == sorted(f"entry-{i}" for i in range(12))  # the screen's 12 rows, not all 25
    assert [s for s, t in traces.items() if s.startswith("entry-") and "visible" not in t] == [
        f"entry-{i}" for i in range(10)]  # the top 10 drawn, the rest of the screen in the legend
    offered = {r.slug for r in page.context["compare"]["methods"] if not r.is_baseline}
    assert offered == {f"entry-{i}" for i in range(12)}
    chosen = client.get("/b/digits-mlp/?compare=entry-24")
    drawn = [t["meta"] for t in chosen.context["figures"]["compression"]["data"]]
    assert [m for m in drawn if m != "dense-frontier"] == ["entry-24"]  # and the dense frontier
    assert "entry-24" in {r.slug for r in chosen.context["compare"]["methods"]}


@pytest.mark.django_db
def test_the_latency_machines_beside_the_cached_ranking_follow_a_run_that_finishes(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.90] for c in FULL})
    assert [m["machine"] for m in client.get("/b/digits-mlp/").context["machines"]] == ["AMD EPYC 7763 (cpu)"]
    beta = make_submission(make_method("Beta"))
    runs = [make_run(beta, bench, c, 0, status=Run.Status.QUEUED) for c in FULL]
    for run in runs:
        services.run_record_result(run=run, record={**make_record(benchmark=bench.name, compression=run.compression,
                                                                  seed=0, top1=0.95, strategy="beta"),
                                                    "latency_device": "Intel Xeon (cpu)"})
    machines = client.get("/b/digits-mlp/").context["machines"]
    assert machines == [{"machine": "AMD EPYC 7763 (cpu)", "runs": len(FULL)},
                        {"machine": "Intel Xeon (cpu)", "runs": len(FULL)}]
    Submission.objects.filter(pk=beta.pk).update(withdrawn=True)  # its runs leave the board, and their machine
    assert [m["machine"] for m in client.get("/b/digits-mlp/").context["machines"]] == ["AMD EPYC 7763 (cpu)"]


@pytest.mark.django_db
def test_the_frontier_distances_are_those_of_the_screen_s_rows_as_the_whole_board_computes_them(
        client, benchmarks, monkeypatch):
    from leaderboard.selectors import frontier_distances

    monkeypatch.setattr("leaderboard.selectors.paging.PAGE_ROWS", 3)
    bench = benchmarks["digits-mlp"]  # the sync stores its frontier
    methods = [make_entry(f"Entry {i}", bench, {c: [0.9 - i / 100] for c in FULL}) for i in range(7)]
    whole = frontier_distances(benchmark=bench)
    assert set(whole) == {m.pk for m in methods}
    for url, shown in (("/b/digits-mlp/", methods[:3]), ("/b/digits-mlp/?page=3", methods[6:]),
                       ("/b/digits-mlp/?all=1", methods)):
        distances = client.get(url).context["distances"]
        assert distances == {m.pk: whole[m.pk] for m in shown}


@pytest.fixture
def computed_states():
    """How many times a board's run aggregates are computed (not read from the cache)."""
    from leaderboard.selectors import boardstate

    with mock.patch.object(boardstate, "counted_submissions", wraps=boardstate.counted_submissions) as computed:
        yield computed


def progress(client) -> tuple[int, int]:
    context = client.get("/b/digits-mlp/").context
    return context["done"], context["total"]


@pytest.mark.django_db
def test_the_runs_done_and_total_follow_a_run_that_starts_fails_or_is_withdrawn(
        client, benchmarks, computed_states, counted_rankings):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.90] for c in FULL})
    beta = make_submission(make_method("Beta"))
    queued = [make_run(beta, bench, c, 0, status=Run.Status.QUEUED) for c in (2, 4)]
    assert progress(client) == (6, 8)
    assert progress(client) == (6, 8) and computed_states.call_count == 1  # the second from the cache
    Run.objects.filter(pk=queued[0].pk).update(status=Run.Status.RUNNING)  # no signal: an update in bulk
    assert progress(client) == (6, 8) and computed_states.call_count == 2
    assert counted_rankings.call_count == 1  # a run that starts leaves the ranking as it was
    Run.objects.filter(pk=queued[0].pk).update(status=Run.Status.FAILED)
    assert progress(client) == (7, 8)
    Submission.objects.filter(pk=beta.pk).update(withdrawn=True)  # the owner withdraws the version
    assert progress(client) == (6, 6)
    Method.objects.filter(slug="alpha").update(is_hidden=True)  # a moderator hides the method
    assert progress(client) == (0, 0)


@pytest.mark.django_db
def test_the_version_the_owner_chooses_is_counted_on_the_next_request(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    alpha = make_entry("Alpha", bench, {c: [0.80] for c in FULL})
    make_entry("Beta", bench, {c: [0.85] for c in FULL})
    second = make_submission(alpha)
    for c in FULL:
        make_run(second, bench, c, 0, top1=0.90)
    assert ranked_slugs(client) == ["alpha", "beta"]  # the latest complete version, at 0.90
    Method.objects.filter(pk=alpha.pk).update(counted_version=1)
    assert ranked_slugs(client) == ["beta", "alpha"]
    assert client.get("/b/digits-mlp/").context["ranking"][1].score == pytest.approx(0.80)


@pytest.mark.django_db
def test_the_screen_s_frontier_distances_follow_a_run_that_finishes(client, benchmarks):
    from leaderboard.selectors import frontier_distances

    bench = benchmarks["digits-mlp"]
    alpha = make_entry("Alpha", bench, {c: [0.90] for c in FULL})
    before = client.get("/b/digits-mlp/").context["distances"][alpha.pk]
    assert client.get("/b/digits-mlp/").context["distances"][alpha.pk] == before  # kept
    run = make_run(alpha.submissions.get(), bench, 2, 1, status=Run.Status.QUEUED)
    services.run_record_result(run=run, record=make_record(benchmark=bench.name, compression=2.0, seed=1,
                                                           top1=0.50, strategy="alpha"))
    after = client.get("/b/digits-mlp/").context["distances"][alpha.pk]
    assert after != before and after == frontier_distances(benchmark=bench)[alpha.pk]


@pytest.mark.django_db
def test_the_charts_are_drawn_once_and_follow_a_run_that_finishes_on_the_next_request(client, benchmarks):
    """The charts are kept per process under the ranking's key: the same board is not drawn
    again, and a finished run is in the next page's chart data."""
    from leaderboard import charts, selectors

    def chart_data():
        html = client.get("/b/digits-mlp/").content.decode()
        return html.split('id="benchmark-compression-data"')[1].split("</script>")[0]

    bench = benchmarks["digits-mlp"]
    last = alpha_and_beta_one_run_short(bench)
    charts._FIGURES.clear()
    with mock.patch.object(selectors, "benchmark_curves", wraps=selectors.benchmark_curves) as drawn:
        before = chart_data()
        assert chart_data() == before and drawn.call_count == 1  # the second from the process's copy
        assert "Beta" not in before  # its version is not complete yet
        services.run_record_result(run=last, record=make_record(benchmark=bench.name, compression=64.0, seed=2,
                                                                top1=0.95, strategy="beta"))
        after = chart_data()
    assert drawn.call_count == 2 and "Beta" in after
