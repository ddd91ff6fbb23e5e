"""Methods with versions: a new file under one's method name is its next version, the same file
again enters more benchmarks, a method is entered on more benchmarks later, and each board
counts a method's newest finished version. alice owns the method, bob does not."""

from unittest import mock

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leaderboard import selectors
from leaderboard.models import Method
from submissions import services
from submissions.models import Run, Submission

from tests.django_fixtures import STRATEGY
from tests.factories import make_method, make_run, make_submission

FULL = [1, 2, 4, 8, 16, 32, 64]


@pytest.fixture
def apply_async(settings):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 1000  # the broker may take every run at once
    with mock.patch("submissions.tasks.run_evaluate.apply_async") as patched:
        yield patched


def upload(user, benchmarks, strategy_upload, *names, name="Layer magnitude", code=STRATEGY):
    return services.submission_create(user=user, upload=strategy_upload(code), name=name,
                                      benchmarks=[benchmarks[n] for n in names])


def api_as(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


# Versions

def test_a_new_file_under_the_owners_method_name_is_its_next_version(alice, benchmarks, strategy_upload):
    first, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp")
    second, created = upload(alice, benchmarks, strategy_upload, "digits-mlp", name=" layer MAGNITUDE ",
                             code=STRATEGY + b"# tuned\n")
    assert created and second.method == first.method
    assert (first.version, second.version) == (1, 2)
    assert Method.objects.count() == 1 and second.runs.count() == 21


def test_another_users_method_name_gives_them_a_method_of_their_own(alice, bob, benchmarks, strategy_upload):
    alices, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp")
    bobs, created = upload(bob, benchmarks, strategy_upload, "digits-mlp", code=STRATEGY + b"# bob\n")
    assert created and bobs.method != alices.method and bobs.method.owner == bob
    assert (bobs.method.name, bobs.method.slug, bobs.version) == ("Layer magnitude", "layer-magnitude-2", 1)
    assert list(alices.method.submissions.all()) == [alices]


def test_the_same_file_with_another_benchmark_enters_it_there_and_queues_only_those_runs(
        client, alice, benchmarks, strategy_upload, apply_async, django_capture_on_commit_callbacks):
    client.force_login(alice)
    form = {"name": "Layer magnitude", "description": "", "paper_url": "", "code_url": "", "public": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("submit"), {**form, "file": strategy_upload(), "benchmarks": [benchmarks["digits-mlp"].pk]})
    submission = Submission.objects.get()
    apply_async.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("submit"), {**form, "file": strategy_upload(),
                                                "benchmarks": [benchmarks["digits-mlp"].pk, benchmarks["digits-cnn"].pk]},
                            follow=True)
    assert again.redirect_chain[-1][0] == submission.get_absolute_url()
    assert "it is now also entered on digits-cnn" in again.content.decode()
    new_runs = set(submission.runs.filter(benchmark__name="digits-cnn").values_list("pk", flat=True))
    assert len(new_runs) == 21 and submission.runs.count() == 42
    assert {c.kwargs["args"][0] for c in apply_async.call_args_list} == new_runs
    assert Submission.objects.count() == 1
    assert set(submission.benchmarks.values_list("name", flat=True)) == {"digits-mlp", "digits-cnn"}


def test_entering_a_finished_submission_on_another_benchmark_makes_it_wait_again(alice, benchmarks, strategy_upload):
    first, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp")
    Submission.objects.filter(pk=first.pk).update(status=Submission.Status.FINISHED)
    again, _ = upload(alice, benchmarks, strategy_upload, "digits-cnn")
    again.refresh_from_db()
    assert (again.status, again.finished) == (Submission.Status.QUEUED, None)


def test_the_same_file_and_benchmarks_again_queue_nothing(alice, benchmarks, strategy_upload):
    first, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp")
    again, created = upload(alice, benchmarks, strategy_upload, "digits-mlp", name="Another name")
    assert (again, created, again.added_benchmarks) == (first, False, [])
    assert Run.objects.count() == 21


def test_a_moderator_cancelled_submission_is_not_entered_again(alice, benchmarks, strategy_upload):
    first, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp")
    services.submission_cancel(first)
    with pytest.raises(services.UploadRejected, match="cancelled by a moderator"):
        upload(alice, benchmarks, strategy_upload, "digits-mlp", "digits-cnn")
    assert Run.objects.filter(benchmark__name="digits-cnn").count() == 0


def test_the_owner_enters_the_latest_version_on_more_benchmarks_from_its_page(
        client, alice, benchmarks, strategy_upload, apply_async):
    upload(alice, benchmarks, strategy_upload, "digits-mlp")
    latest, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp", code=STRATEGY + b"# v2\n")
    client.force_login(alice)
    page = client.get(latest.method.get_absolute_url()).content.decode()
    assert "Enter version 2 on more benchmarks" in page
    assert "on more benchmarks" not in client.get(f"/m/{latest.method.slug}/v/1/").content.decode()
    mine = client.get(reverse("my-submissions")).content.decode()
    assert 'href="/m/layer-magnitude/v/1/">v1</a>' in mine and 'href="/m/layer-magnitude/v/2/">v2</a>' in mine
    response = client.post(reverse("method-enter", args=[latest.method.slug]),
                           {"benchmarks": [benchmarks["mnist1d-cnn"].pk]}, follow=True)
    assert response.redirect_chain[-1][0] == latest.get_absolute_url()
    assert "Version 2 entered on mnist1d-cnn: 21 runs queued." in response.content.decode()
    assert latest.runs.filter(benchmark__name="mnist1d-cnn").count() == 21
    assert not Submission.objects.filter(version=1, runs__benchmark__name="mnist1d-cnn").exists()


def test_only_the_owner_may_enter_a_method(client, alice, bob, benchmarks, strategy_upload):
    submission, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp")
    url = reverse("method-enter", args=[submission.method.slug])
    client.force_login(bob)
    assert client.post(url, {"benchmarks": [benchmarks["digits-cnn"].pk]}).status_code == 403
    assert "Enter version" not in client.get(submission.method.get_absolute_url()).content.decode()
    response = api_as(bob).post(f"/api/methods/{submission.method.slug}/benchmarks/", {"benchmarks": "digits-cnn"})
    assert response.status_code == 403
    assert Run.objects.filter(benchmark__name="digits-cnn").count() == 0


def test_the_api_enters_a_method_on_more_benchmarks(alice, benchmarks, strategy_upload):
    submission, _ = upload(alice, benchmarks, strategy_upload, "digits-mlp")
    url = f"/api/methods/{submission.method.slug}/benchmarks/"
    response = api_as(alice).post(url, {"benchmarks": "digits-cnn,digits-mlp"})
    assert response.status_code == 202
    assert response.json() == {"submission": submission.pk, "version": 1, "added": ["digits-cnn"]}
    assert api_as(alice).post(url, {"benchmarks": "cifar11"}).json()["benchmarks"][0].startswith(
        "unknown benchmark 'cifar11'; known: ")
    assert api_as(alice).post(url, {}).status_code == 400


def test_the_api_upload_says_which_benchmarks_it_added(alice, benchmarks, strategy_upload):
    client = api_as(alice)
    client.post("/api/submissions/", {"file": strategy_upload(), "name": "M", "benchmarks": "digits-mlp"},
                format="multipart")
    again = client.post("/api/submissions/", {"file": strategy_upload(), "name": "M",
                                               "benchmarks": "digits-mlp,digits-cnn"}, format="multipart")
    assert again.status_code == 200
    body = again.json()
    assert (body["created"], body["added_benchmarks"], body["version"]) == (False, ["digits-cnn"], 1)
    assert body["progress"]["total"] == 42


# Which version the board counts

def finished_version(method, benchmark, top1, *, pending=0, status=Submission.Status.FINISHED):
    """A version with a finished run at every compression (seed 0) and `pending` queued runs."""
    submission = make_submission(method, status=status)
    for c in FULL:
        make_run(submission, benchmark, c, 0, top1=top1)
    for seed in range(1, pending + 1):
        make_run(submission, benchmark, 2, seed, status=Run.Status.QUEUED)
    return submission


def score_of(benchmark, method):
    return next(r.score for r in selectors.benchmark_ranking(benchmark=benchmark) if r.method_id == method.pk)


def test_the_board_counts_the_newest_version_whose_runs_are_all_done(alice, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_method("Mine", owner=alice)
    v1 = finished_version(method, bench, 0.5)
    assert score_of(bench, method) == pytest.approx(0.5)
    v2 = finished_version(method, bench, 0.9, pending=1, status=Submission.Status.RUNNING)
    assert score_of(bench, method) == pytest.approx(0.5)  # v2 still running: the board stays on v1
    v2.runs.filter(status=Run.Status.QUEUED).update(status=Run.Status.FAILED)
    assert score_of(bench, method) == pytest.approx(0.9)
    v3 = make_submission(method)
    make_run(v3, bench, 2, 0, status=Run.Status.FAILED)  # a version whose runs all failed
    assert score_of(bench, method) == pytest.approx(0.9)
    assert selectors.counted_submissions(benchmark=bench) == {method.pk: v2.pk}
    assert [len(selectors.benchmark_ranking(benchmark=bench))] == [1]  # one row, not one per version
    assert v1.version == 1


def test_a_version_counts_on_a_benchmark_only_when_it_is_complete_there(alice, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_method("Mine", owner=alice)
    v1 = finished_version(method, bench, 0.7, pending=2, status=Submission.Status.RUNNING)
    assert method.pk not in {r.method_id for r in selectors.benchmark_ranking(benchmark=bench)}
    v1.runs.filter(status=Run.Status.QUEUED).update(status=Run.Status.FINISHED, top1=0.7)
    assert score_of(bench, method) == pytest.approx(0.7)


def test_each_benchmark_counts_its_own_newest_finished_version(alice, benchmarks):
    mlp, cnn = benchmarks["digits-mlp"], benchmarks["digits-cnn"]
    method = make_method("Mine", owner=alice)
    v1 = make_submission(method)
    for bench in (mlp, cnn):
        for c in FULL:
            make_run(v1, bench, c, 0, top1=0.5)
    v2 = finished_version(method, mlp, 0.8)  # v2 entered on digits-mlp only
    assert (score_of(mlp, method), score_of(cnn, method)) == (pytest.approx(0.8), pytest.approx(0.5))
    versions = {s.version: s.counted_on for s in selectors.method_versions(method=method)}
    assert versions == {2: ["digits-mlp"], 1: ["digits-cnn"]}
    assert v2.version == 2


def test_the_method_page_lists_its_versions_and_shows_an_earlier_one(client, alice, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_method("Mine", owner=alice)
    v1 = finished_version(method, bench, 0.5)
    v2 = finished_version(method, bench, 0.9)
    html = client.get(method.get_absolute_url()).content.decode()
    assert 'href="/m/mine/v/1/"' in html and 'href="/m/mine/v/2/"' in html
    assert f"/s/{v2.pk}.csv" in html and f"/s/{v1.pk}.csv" not in html
    old = client.get("/m/mine/v/1/")
    assert "You are looking at version 1." in old.content.decode()
    assert [r.submission_id for r in old.context["runs"]] == [v1.pk] * 7
    assert client.get("/m/mine/v/9/").status_code == 404


def test_each_versions_plain_text_link_serves_that_versions_file(client, alice, benchmarks):
    """The page of v1 says "version 1 · SHA-256 …": its plain-text link must give v1's bytes."""
    import hashlib
    import re

    method = make_method("Mine", owner=alice)
    files = {1: "# version one\n", 2: "# version two\n"}
    subs = {v: make_submission(method, code=code) for v, code in files.items()}
    for version, page in [(1, "/m/mine/v/1/"), (2, "/m/mine/v/2/"), (2, "/m/mine/")]:
        html = client.get(page).content.decode()
        link = re.search(r'<a href="([^"]+)" id="code-link">plain text</a>', html).group(1)
        served = client.get(link)
        assert served.status_code == 200 and served["Content-Type"] == "text/plain; charset=utf-8"
        digest = hashlib.sha256(served.content).hexdigest()
        assert digest == subs[version].sha256 == hashlib.sha256(files[version].encode()).hexdigest()
        assert f"SHA-256 <code>{digest[:12]}</code>" in html
    assert client.get("/m/mine/v/3/code.py").status_code == 404


def test_the_api_gives_a_methods_versions_and_which_boards_count_them(client, alice, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_method("Mine", owner=alice)
    finished_version(method, bench, 0.5)
    v2 = finished_version(method, bench, 0.9)
    body = client.get("/api/methods/mine/").json()
    assert [(v["version"], v["submission"], v["counted_on"]) for v in body["versions"]] == [
        (2, v2.pk, ["digits-mlp"]), (1, v2.pk - 1, [])]
    runs = client.get("/api/runs/?method=mine&version=2").json()["results"]
    assert len(runs) == 7 and {r["version"] for r in runs} == {2}
    assert client.get("/api/runs/?version=latest").status_code == 400
