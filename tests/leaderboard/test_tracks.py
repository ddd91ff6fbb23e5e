"""A benchmark's tracks on the site: their own pages side by side, the home page's rows, the
upload form and the API entering them, CSVs and JSON carrying the track, and whether a ranking
holds between two finetuning budgets (Kendall's tau)."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from leaderboard.tracks import kendall_tau
from submissions.models import Run, Submission

from tests.factories import make_entry, make_method, make_run, make_submission
from tests.api.test_api import as_user, upload


def post(client, upload, targets):
    return client.post(reverse("submit"), {"file": upload, "name": "Layer magnitude", "public": "on",
                                           "benchmarks": targets})

pytestmark = pytest.mark.django_db
FULL = [1, 2, 4, 8, 16, 32, 64]


def test_each_track_is_a_row_of_its_benchmark(benchmarks):
    init = benchmarks["digits-mlp/init"]
    assert (init.track, init.base, init.track_title) == ("init", "digits-mlp", "at initialization")
    assert benchmarks["digits-mlp"].track == "after" and benchmarks["digits-mlp"].base == "digits-mlp"
    assert benchmarks["mnist1d-cnn/long"].weights_sha256 == benchmarks["mnist1d-cnn"].weights_sha256
    assert init.weights_sha256 != benchmarks["digits-mlp"].weights_sha256
    assert reverse("benchmark", args=[init.name]) == "/b/digits-mlp/init/"


def test_a_track_page_has_its_own_ranking_and_tabs_to_the_others(client, benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], {c: [0.9] for c in FULL})
    make_entry("Beta", benchmarks["digits-mlp/init"], {c: [0.7] for c in FULL})
    html = client.get("/b/digits-mlp/init/").content.decode()
    assert "Beta" in html and "Alpha" not in html
    assert '<strong aria-current="page">at initialization</strong>' in html
    assert '<a href="/b/digits-mlp/">after training</a>' in html
    assert "prunes the pinned initial weights" in html
    after = client.get("/b/digits-mlp/").content.decode()
    assert "Alpha" in after and "Beta" not in after and '<a href="/b/digits-mlp/init/">' in after


def test_a_structured_board_ranks_by_speedup_unless_asked_and_shows_only_its_own_built_ins(client, benchmarks):
    from leaderboard.models import Method

    make_entry("Alpha", benchmarks["digits-cnn/structured"], {c: [0.9] for c in (1, 2, 4, 8, 16, 32)})
    Method.objects.create(name="random", slug="baseline-random", builtin_name="random", is_baseline=True)
    structured = client.get("/b/digits-cnn/structured/")
    assert structured.context["by"] == "speedup" and "Alpha" in structured.content.decode()
    assert "baseline-random" not in {m.slug for m in structured.context["waiting"]}  # refused there
    assert client.get("/b/digits-cnn/structured/?by=compression").context["by"] == "compression"
    after = client.get("/b/digits-cnn/")
    assert after.context["by"] == "compression" and "baseline-random" in {m.slug for m in after.context["waiting"]}


def test_the_speedup_chart_says_which_speedup_it_plots(benchmarks):
    from leaderboard.charts import accuracy_figures
    from leaderboard.selectors import benchmark_curves

    make_entry("Alpha", benchmarks["digits-cnn/structured"], {c: [0.9] for c in (1, 2, 4)})
    curves = benchmark_curves(benchmark=benchmarks["digits-cnn/structured"])
    title = lambda figures: figures["speedup"]["layout"]["xaxis"]["title"]["text"]  # noqa: E731
    assert title(accuracy_figures(curves, measured=True)).startswith("measured speedup")
    assert title(accuracy_figures(curves)).startswith("theoretical speedup")


def test_the_home_page_lists_every_benchmark_on_every_track(client, benchmarks):
    html = client.get("/").content.decode()
    for name in ("digits-mlp/init", "digits-cnn/init", "mnist1d-cnn/init", "mnist1d-cnn/long"):
        assert f'href="/b/{name}/"' in html
    assert "at initialization" in html and "longer finetuning" in html


def test_the_budget_page_shows_whether_the_ranking_holds(client, benchmarks):
    short, long = benchmarks["mnist1d-cnn"], benchmarks["mnist1d-cnn/long"]
    for name, a, b in (("A", 0.9, 0.6), ("B", 0.8, 0.7), ("C", 0.7, 0.8)):  # reversed on long
        method = make_method(name)
        submission = make_submission(method)
        for bench, value in ((short, a), (long, b)):
            for c in FULL:
                make_run(submission, bench, c, 0, top1=value)
    response = client.get("/b/mnist1d-cnn/")
    rows = {a["benchmark"].track: a for a in response.context["agreement"]}
    assert rows["long"]["tau"] == pytest.approx(-1.0) and rows["long"]["n"] == 3
    assert rows["init"]["tau"] is None and rows["init"]["n"] == 0
    assert "Kendall τ" in response.content.decode() and "-1.00" in response.content.decode()


def test_the_other_tracks_scores_are_cached_for_the_tau_and_read_again_when_expired(client, benchmarks):
    from django.core.cache import cache

    short, long = benchmarks["mnist1d-cnn"], benchmarks["mnist1d-cnn/long"]
    subs = {name: make_submission(make_method(name)) for name in "ABC"}
    for name, a, b in (("A", 0.9, 0.9), ("B", 0.8, 0.8), ("C", 0.7, 0.7)):
        for bench, value in ((short, a), (long, b)):
            for c in FULL:
                make_run(subs[name], bench, c, 0, top1=value)
    tau = lambda: {a["benchmark"].track: a for a in client.get("/b/mnist1d-cnn/").context["agreement"]}["long"]  # noqa: E731
    assert tau()["tau"] == pytest.approx(1.0)
    Run.objects.filter(benchmark=long, submission=subs["A"]).update(top1=0.1)  # A last on long now
    assert tau()["tau"] == pytest.approx(1.0)  # within PRUNEBOARD_TAU_CACHE_SECONDS
    cache.clear()  # expired
    assert tau()["tau"] == pytest.approx(-1 / 3)


def test_the_tau_compares_the_boards_own_scores_and_ranks(benchmarks):
    from leaderboard.selectors import benchmark_ranking

    long = benchmarks["mnist1d-cnn/long"]
    for name, value, seeds in (("A", 0.9, [0]), ("B", 0.8, [0, 1, 2]), ("C", 0.85, [0, 1])):
        submission = make_submission(make_method(name))
        for c in FULL:
            for seed in seeds:
                make_run(submission, long, c, seed, top1=value - 0.01 * seed)
    keys = ("method_id", "score", "rank", "band", "complete")
    assert ([{k: getattr(r, k) for k in keys} for r in benchmark_ranking(benchmark=long, scores_only=True)]
            == [{k: getattr(r, k) for k in keys} for r in benchmark_ranking(benchmark=long)])


def test_kendall_tau_is_one_for_the_same_order_and_refuses_unpaired_scores():
    assert kendall_tau([0.9, 0.8, 0.7], [0.5, 0.4, 0.1])[0] == pytest.approx(1.0)
    assert kendall_tau([0.9, 0.8, 0.7, 0.6], [0.5, 0.6, 0.4, 0.3])[0] == pytest.approx(4 / 6)
    assert kendall_tau([0.9], [0.5]) == (None, None)
    with pytest.raises(ValueError, match="paired scores: 2 and 1"):
        kendall_tau([0.9, 0.8], [0.5])


def test_the_csv_and_the_json_carry_the_track(client, benchmarks):
    make_entry("Beta", benchmarks["digits-mlp/init"], {2: [0.7]})
    response = client.get("/b/digits-mlp/init.csv")
    assert 'filename="digits-mlp-init.csv"' in response["Content-Disposition"]
    header, row = b"".join(response.streaming_content).decode().splitlines()[:2]
    assert row.split(",")[header.split(",").index("track")] == "init"
    run = client.get("/api/runs/?benchmark=digits-mlp/init").json()["results"][0]
    assert run["track"] == "init" and run["record"]["track"] == "init"
    detail = client.get("/api/benchmarks/digits-mlp/init/").json()
    assert (detail["track"], detail["base"]) == ("init", "digits-mlp")


def test_a_run_from_before_tracks_reads_as_after_training_in_the_csv(client, benchmarks):
    make_entry("Old", benchmarks["digits-mlp"], {2: [0.9]})
    record = Run.objects.get().record
    record.pop("track")
    Run.objects.update(record=record)
    header, row = b"".join(client.get("/b/digits-mlp.csv").streaming_content).decode().splitlines()[:2]
    assert row.split(",")[header.split(",").index("track")] == "after"


def test_an_api_upload_enters_the_tracks_it_names(benchmarks, alice, strategy_upload):
    body = upload(as_user(alice), strategy_upload, benchmarks="digits-mlp,digits-cnn", tracks="after,init").json()
    assert body["benchmarks"] == ["digits-mlp", "digits-mlp/init", "digits-cnn", "digits-cnn/init"]
    assert {r["track"] for r in body["runs"]} == {"after", "init"} and body["progress"]["total"] == 84


def test_an_api_upload_may_name_a_target_directly(benchmarks, alice, strategy_upload):
    body = upload(as_user(alice), strategy_upload, benchmarks="mnist1d-cnn/long").json()
    assert body["benchmarks"] == ["mnist1d-cnn/long"]


def test_an_unknown_track_is_400_listing_the_known_ones(benchmarks, alice, strategy_upload):
    response = upload(as_user(alice), strategy_upload, tracks="after,late")
    assert response.status_code == 400
    assert response.json() == {"tracks": ["unknown track 'late'; known: after, init, long, structured, nm24"]}
    response = upload(as_user(alice), strategy_upload, benchmarks="digits-mlp", tracks="long")
    assert response.json() == {"tracks": ["benchmark 'digits-mlp' has no track 'long'; its tracks: after, init, nm24"]}
    assert not Submission.objects.exists()


def test_the_form_ticks_after_training_and_takes_any_track(client, alice, benchmarks, strategy_upload):
    client.force_login(alice)
    form = client.get(reverse("submit")).context["form"]
    ticked = {b.name for b in form.fields["benchmarks"].queryset if b.pk in form.fields["benchmarks"].initial}
    assert ticked == {"digits-mlp", "digits-cnn", "mnist1d-cnn"}
    assert "digits-mlp/init (digits_mlp on digits, at initialization" in client.get(reverse("submit")).content.decode()
    post(client, strategy_upload(), [benchmarks["digits-mlp/init"].pk])
    assert set(Run.objects.values_list("benchmark__name", flat=True)) == {"digits-mlp/init"}


def test_the_form_refuses_a_target_that_does_not_exist_naming_the_known_ones(client, alice, benchmarks,
                                                                             strategy_upload):
    client.force_login(alice)
    for value in ("99999", "digits-mlp/late"):
        response = post(client, strategy_upload(), [value])
        errors = response.context["form"].errors["benchmarks"][0]
        assert f"{value} is not a benchmark and track of this site; known: digits-mlp, digits-mlp/init" in errors
    assert not Submission.objects.exists()


def test_seeding_fills_every_track_of_the_embedded_benchmarks_with_its_own_built_ins(benchmarks, monkeypatch):
    from evaluator.benchmarks import get_benchmark
    from evaluator.pruning import BASELINES
    from evaluator.tracks import get_track

    queued = []
    monkeypatch.setattr("leaderboard.management.commands.seed_baselines.runs_enqueue", queued.extend)
    call_command("seed_baselines")
    masked = ["digits-mlp", "digits-mlp/init", "digits-cnn", "digits-cnn/init", "mnist1d-cnn",
              "mnist1d-cnn/init", "mnist1d-cnn/long"]
    per_target = {n: Run.objects.filter(benchmark__name=n).count() for n in masked}
    assert per_target == dict.fromkeys(masked, 21 * 12)
    for name in ["digits-mlp/nm24", "digits-cnn/structured", "digits-cnn/nm24", "mnist1d-cnn/structured"]:
        target = get_benchmark(name)
        shown = set(get_track(target.track).builtin_names(target))
        runs = Run.objects.filter(benchmark__name=name)
        assert set(runs.values_list("submission__baseline", flat=True)) == shown
        assert not shown & set(BASELINES)  # the unstructured baselines would be refused there
        assert runs.count() == len(shown) * len(target.compressions) * len(target.seeds)
    assert len(queued) == Run.objects.count()


def test_an_uploaded_strategy_runs_unchanged_on_the_init_track_in_the_worker(benchmarks, alice, strategy_upload):
    from evaluator.benchmarks import get_benchmark
    from submissions.tasks import run_evaluate

    body = upload(as_user(alice), strategy_upload, benchmarks="digits-mlp", tracks="init").json()
    run = Run.objects.get(submission_id=body["id"], compression=4.0, seed=0)
    run_evaluate(run.pk)  # the real evaluator, the file in its sandbox
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error
    assert (run.record["benchmark"], run.record["track"]) == ("digits-mlp/init", "init")
    assert run.record["weights_sha256"] == get_benchmark("digits-mlp/init").weights_sha256
    assert run.record["epochs_run"] == 20 and run.top1 > run.pre_top1
