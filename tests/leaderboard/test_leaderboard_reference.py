"""Reference methods on the site: seeded and run like the baselines, a tier of their own, always shown."""

import json
import re

import pytest
from django.core.management import call_command

from evaluator.columns import COLUMNS
from evaluator.pruning import REFERENCES
from leaderboard.charts import accuracy_figures, initially_shown
from leaderboard.models import Method
from leaderboard.selectors import benchmark_curves, benchmark_ranking, benchmark_summaries
from submissions import services
from submissions.models import Run
from submissions.tasks import run_evaluate

from tests.factories import make_entry

pytestmark = pytest.mark.django_db
FULL = [2, 4, 8, 16, 32, 64]


def full(value):
    return {c: [value] for c in FULL}


def test_seeding_creates_every_reference_method_with_a_full_sweep_once(benchmarks, monkeypatch):
    queued = []
    monkeypatch.setattr("leaderboard.management.commands.seed_baselines.runs_enqueue", queued.extend)
    call_command("seed_baselines", "--benchmarks", "digits-mlp")
    references = Method.objects.filter(is_reference=True).order_by("slug")
    assert sorted(m.name for m in references) == sorted(REFERENCES)
    assert all(not m.is_baseline and m.owner is None and m.listed for m in references)
    for method in references:
        assert method.slug == f"reference-{method.name}" and method.tier == "reference"
        assert Run.objects.filter(submission__method=method).count() == 21
    assert len(queued) == 21 * 12
    call_command("seed_baselines", "--benchmarks", "digits-mlp")
    assert len(queued) == 21 * 12 and Run.objects.count() == 21 * 12


def test_the_worker_runs_a_reference_method_through_the_trusted_path(benchmarks):
    submission, _ = services.baseline_ensure("synflow", [benchmarks["digits-mlp"]])
    run = submission.runs.get(compression=64, seed=0)
    submission.runs.exclude(pk=run.pk).delete()  # this run alone (a batch would score its 20 siblings too)
    run_evaluate(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error
    assert list(run.record) == COLUMNS
    assert (run.record["strategy"], run.record["sandbox"], run.record["layer_collapse"]) == ("synflow", "trusted", False)


def test_reference_methods_are_their_own_tier_always_drawn_and_badged(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    for i in range(12):
        make_entry(f"Entry {i}", bench, full(0.5 + i / 100))
    make_entry("random", bench, full(0.1), is_baseline=True)
    make_entry("synflow", bench, full(0.2), is_reference=True, is_public=False, is_hidden=True)
    ranking = benchmark_ranking(benchmark=bench)
    tiers = {r.method: r.tier for r in ranking}
    assert (tiers["random"], tiers["synflow"], tiers["Entry 0"]) == ("baseline", "reference", "entry")
    figures = accuracy_figures(benchmark_curves(benchmark=bench), shown=initially_shown(ranking))
    traces = {t["meta"]: t for t in figures["compression"]["data"]}
    assert traces["synflow"]["name"] == "synflow (reference)" and "visible" not in traces["synflow"]
    assert "dash" not in traces["synflow"]["line"] and traces["random"]["line"]["dash"]
    assert traces["entry-1"]["visible"] == "legendonly"  # 10 entries drawn besides the built-ins
    html = client.get("/b/digits-mlp/").content.decode()
    assert re.search(r'<a href="/m/synflow/">synflow</a>\s*<span class="badge badge-reference"', html)
    row = {r["name"]: r for r in benchmark_summaries()}["digits-mlp"]
    assert row["baselines"] == 2  # the built-ins: one baseline, one reference method


def test_a_method_page_draws_the_reference_methods_beside_it(client, benchmarks, alice):
    bench = benchmarks["digits-mlp"]
    make_entry("Mine", bench, full(0.9), owner=alice)
    make_entry("lamp", bench, full(0.8), is_reference=True)
    html = client.get("/m/mine/").content.decode()
    match = re.search(r'<script id="m-digits-mlp-compression-data" type="application/json">(.*?)</script>', html, re.S)
    names = {t["name"] for t in json.loads(match.group(1))["data"]}
    assert names == {"Mine", "lamp (reference)"}
    assert "A built-in reference method" in client.get("/m/lamp/").content.decode()


def test_each_reference_method_carries_its_paper_tags_and_bibtex(client, benchmarks, monkeypatch):
    monkeypatch.setattr("leaderboard.management.commands.seed_baselines.runs_enqueue", lambda runs: None)
    call_command("seed_baselines", "--benchmarks", "digits-mlp")
    expected = {"snip": ("SNIP: Single-shot Network Pruning based on Connection Sensitivity", "ICLR 2019",
                         "https://arxiv.org/abs/1810.02340", ["unstructured", "data-driven", "one-shot"]),
                "grasp": ("Picking Winning Tickets Before Training by Preserving Gradient Flow", "ICLR 2020",
                          "https://arxiv.org/abs/2002.07376", ["unstructured", "data-driven", "one-shot"]),
                "synflow": ("Pruning neural networks without any data by iteratively conserving synaptic flow",
                            "NeurIPS 2020", "https://arxiv.org/abs/2006.05467",
                            ["unstructured", "data-free", "iterative"]),
                "lamp": ("Layer-adaptive Sparsity for the Magnitude-based Pruning", "ICLR 2021",
                         "https://arxiv.org/abs/2010.07611", ["unstructured", "data-free", "one-shot"]),
                "l1-filter": ("Pruning Filters for Efficient ConvNets", "ICLR 2017",
                              "https://arxiv.org/abs/1608.08710", ["structured", "data-free", "one-shot"])}
    assert set(expected) == set(REFERENCES)
    for name, (title, venue_year, url, tags) in expected.items():
        method = Method.objects.get(slug=f"reference-{name}")
        assert (method.title, f"{method.venue} {method.year}", method.paper_url, method.tags) == (title, venue_year, url, tags)
        assert method.authors.count(",") >= 1 and method.bibtex.startswith("@inproceedings{")
        html = client.get(f"/m/reference-{name}/").content.decode()
        assert f'<strong>{title}</strong>' in html and venue_year in html and method.authors in html
        assert f'href="{url}"' in html and 'id="copy-bibtex"' in html
        assert all(f'href="/?tag={tag}"' in html for tag in tags)
    data_free = client.get("/?tag=data-free&tag=iterative").context["found"]
    assert [m.slug for m in data_free] == ["reference-synflow"]
    assert "reference-synflow" in [m.slug for m in client.get("/?tag=data-free").context["found"]]
    # a moderator's correction stays: only empty fields are filled
    Method.objects.filter(slug="reference-lamp").update(venue="ICLR (poster)")
    call_command("seed_baselines", "--benchmarks", "digits-mlp")
    assert Method.objects.get(slug="reference-lamp").venue == "ICLR (poster)"
