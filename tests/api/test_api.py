"""The JSON API: public reads, token uploads, tokens. alice owns entries, bob does not."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.columns import COLUMNS
from leaderboard.models import Method
from submissions import services
from submissions.models import Run, Submission

from tests.django_fixtures import STRATEGY


@pytest.fixture
def api():
    return APIClient()


def as_user(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def queued(monkeypatch, settings):
    """The run ids handed to Celery, in order."""
    settings.PRUNEBOARD_DISPATCH_AHEAD = 100  # the broker may take every run at once (dispatch: a few per worker)
    calls = []
    monkeypatch.setattr("submissions.tasks.run_evaluate.apply_async",
                        lambda args, queue, **limits: calls.append((args[0], queue)))
    return calls


def record() -> dict:
    """An evaluator record: every column, a few of them with values."""
    return dict.fromkeys(COLUMNS, 0.0) | dict(top1=0.9, top5=0.99, pre_top1=0.5, compression=2.0,
                                              compression_error=0.0, speedup=1.8)


@pytest.fixture
def entry(benchmarks, strategy_upload):
    """A submission on digits-mlp whose first run finished; `hidden` as a moderator leaves it."""
    def make(user, name, *, public=True, hidden=False):
        upload = strategy_upload(STRATEGY + f"# {name}\n".encode())
        submission, _ = services.submission_create(user=user, upload=upload, name=name,
                                                   benchmarks=[benchmarks["digits-mlp"]], is_public=public)
        Method.objects.filter(pk=submission.method_id).update(is_hidden=hidden)
        services.run_record_result(run=submission.runs.first(), record=record())
        return submission
    return make


@pytest.fixture
def board(entry, alice, bob):
    return {"public": entry(alice, "Public one"), "private": entry(alice, "Private one", public=False),
            "hidden": entry(alice, "Hidden one", hidden=True), "bobs": entry(bob, "Bob's")}


def slugs(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row.get("slug") or row.get("method") for row in response.json()["results"]}


def upload(client, strategy_upload, **fields):
    fields.setdefault("file", strategy_upload())
    fields.setdefault("name", "My method")
    return client.post("/api/submissions/", fields, format="multipart")


# Reads

def test_benchmarks_list_every_benchmark_with_its_protocol(api, benchmarks):
    rows = api.get("/api/benchmarks/").json()["results"]
    assert [r["name"] for r in rows] == list(benchmarks)
    assert rows[0]["compressions"] == [1, 2, 4, 8, 16, 32, 64] and rows[0]["protocol_hash"]
    assert set(rows[0]["urls"]) == {"leaderboard", "csv"}


def test_a_benchmark_is_found_by_name(api, benchmarks):
    assert api.get("/api/benchmarks/digits-mlp/").json()["model"] == benchmarks["digits-mlp"].model
    assert api.get("/api/benchmarks/nope/").status_code == 404


def test_methods_lists_baselines_and_public_entries_to_everyone(api, board, benchmarks):
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    assert slugs(api.get("/api/methods/")) == {"baseline-random", "public-one", "bobs"}


def test_the_owner_also_sees_their_private_and_hidden_methods(board, alice, bob):
    assert slugs(as_user(alice).get("/api/methods/")) == {"public-one", "private-one", "hidden-one", "bobs"}
    assert slugs(as_user(bob).get("/api/methods/")) == {"public-one", "bobs"}


def test_staff_see_every_method(board, moderator):
    assert slugs(as_user(moderator).get("/api/methods/")) == {"public-one", "private-one", "hidden-one", "bobs"}


def test_a_private_method_is_404_for_others(api, board, alice):
    assert api.get("/api/methods/private-one/").status_code == 404
    assert as_user(alice).get("/api/methods/private-one/").json()["owner"] == "alice"


def test_runs_are_the_finished_runs_of_listed_methods(api, board):
    rows = api.get("/api/runs/").json()["results"]
    assert {r["method"] for r in rows} == {"public-one", "bobs"}
    assert {r["status"] for r in rows} == {"finished"}


def test_the_owner_sees_runs_of_their_private_methods(board, alice):
    assert "private-one" in slugs(as_user(alice).get("/api/runs/"))


def test_runs_filter_by_method_benchmark_and_status(api, board):
    assert slugs(api.get("/api/runs/?method=bobs")) == {"bobs"}
    assert api.get("/api/runs/?benchmark=digits-cnn").json()["count"] == 0
    assert api.get("/api/runs/?status=queued&method=bobs").json()["count"] == 20
    assert api.get("/api/runs/?status=all&method=bobs").json()["count"] == 21


def test_an_unknown_run_filter_says_what_is_known(api, board):
    response = api.get("/api/runs/?benchmark=cifar11")
    assert response.status_code == 400 and "known: digits-mlp" in response.json()["benchmark"][0]
    assert "finished" in api.get("/api/runs/?status=done").json()["status"][0]


def test_listing_runs_costs_three_queries_however_many_there_are(api, board, django_assert_num_queries):
    with django_assert_num_queries(3):  # the count, the page, the re-runs of the page
        assert api.get("/api/runs/?status=all").json()["count"] == 42


def test_a_run_carries_every_evaluator_column(api, board):
    run = board["public"].runs.get(status="finished")
    row = api.get(f"/api/runs/{run.pk}/").json()
    assert list(row["record"]) == COLUMNS
    assert (row["top1"], row["method"], row["submission"]) == (0.9, "public-one", board["public"].pk)
    assert "error" not in row


def test_an_infinite_speedup_reads_as_null(api, board):
    run = board["public"].runs.get(status="finished")
    Run.objects.filter(pk=run.pk).update(speedup=float("inf"))
    assert api.get(f"/api/runs/{run.pk}/").json()["speedup"] is None


def test_a_submission_shows_progress_and_its_errors_to_the_owner_only(api, board, alice):
    submission = board["public"]
    run = submission.runs.filter(status="queued").first()
    services.run_record_failure(run=run, message="masks of the wrong shape", traceback="line 3")
    public = api.get(f"/api/submissions/{submission.pk}/").json()
    assert public["progress"] == {"done": 2, "total": 21, "queued": 19, "running": 0,
                                  "finished": 1, "failed": 1, "cancelled": 0}
    assert len(public["runs"]) == 21
    assert "error" not in public and "traceback" not in public["runs"][0]
    own = as_user(alice).get(f"/api/submissions/{submission.pk}/").json()
    assert {"masks of the wrong shape"} == {r["error"] for r in own["runs"] if r["status"] == "failed"}


def test_a_private_submission_is_404_for_others_but_not_for_staff(board, bob, moderator):
    url = f"/api/submissions/{board['private'].pk}/"
    assert as_user(bob).get(url).status_code == 404
    assert as_user(moderator).get(url).json()["error"] == ""


# Uploads

def test_an_upload_creates_a_submission_whose_runs_are_queued_after_commit(
        benchmarks, alice, strategy_upload, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(as_user(alice), strategy_upload, benchmarks="digits-mlp", public="false",
                          paper_url="https://arxiv.org/abs/2003.03033")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] is True and body["benchmarks"] == ["digits-mlp"] and body["owner"] == "alice"
    submission = Submission.objects.get(pk=body["id"])
    assert not submission.method.is_public and submission.method.paper_url.startswith("https://")
    assert sorted(queued) == sorted((r.pk, "cpu") for r in submission.runs.all())
    assert len(queued) == body["progress"]["total"] == 21


def test_benchmarks_may_be_repeated_or_comma_separated_and_default_to_the_embedded(
        benchmarks, alice, strategy_upload):
    client = as_user(alice)
    both = upload(client, strategy_upload, benchmarks=["digits-mlp,digits-cnn", "digits-mlp"]).json()
    assert both["benchmarks"] == ["digits-mlp", "digits-cnn"]
    default = upload(client, strategy_upload, file=strategy_upload(STRATEGY + b"# 2\n")).json()
    assert default["benchmarks"] == [b.name for b in benchmarks.values() if b.embedded and b.track == "after"]
    assert Method.objects.get(slug=default["method"]).is_public


def test_a_bad_upload_is_400_with_the_reason_and_creates_nothing(benchmarks, alice, strategy_upload):
    response = upload(as_user(alice), strategy_upload, file=strategy_upload(b"def f(:\n"))
    assert response.status_code == 400
    assert response.json() == {"file": ["the file does not parse as Python: line 1: invalid syntax"]}
    assert not Submission.objects.exists() and not Method.objects.exists() and not Run.objects.exists()


def test_an_unknown_benchmark_is_400_listing_the_known_ones(benchmarks, alice, strategy_upload):
    response = upload(as_user(alice), strategy_upload, benchmarks="digits-mlp,cifar11")
    assert response.status_code == 400
    assert response.json()["benchmarks"][0].startswith("unknown benchmark 'cifar11'; known: digits-mlp, ")
    assert not Submission.objects.exists()


def test_only_http_urls_are_accepted(benchmarks, alice, strategy_upload):
    response = upload(as_user(alice), strategy_upload, code_url="javascript:alert(1)",
                      paper_url="ftp://example.org/paper.pdf")
    assert response.status_code == 400
    assert response.json() == {"code_url": ["enter an http:// or https:// URL"],
                               "paper_url": ["enter an http:// or https:// URL"]}


def test_the_same_file_again_returns_the_existing_submission(benchmarks, alice, strategy_upload):
    client = as_user(alice)
    first = upload(client, strategy_upload).json()
    again = upload(client, strategy_upload, name="Renamed")
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["created"]) == (first["id"], False)
    assert Submission.objects.count() == 1


def test_an_anonymous_upload_is_401(api, benchmarks, strategy_upload):
    assert upload(api, strategy_upload).status_code == 401
    assert not Submission.objects.exists()


def test_a_session_post_without_csrf_is_refused_while_a_token_post_works(
        benchmarks, alice, strategy_upload):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post("/api/submissions/", {"file": strategy_upload(), "name": "x"})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert upload(as_user(alice), strategy_upload).status_code == 201


# Tokens

def test_the_right_password_gets_the_same_token_each_time(api, alice):
    credentials = {"username": "alice", "password": "correct horse 42"}
    first = api.post("/api/token/", credentials).json()["token"]
    assert api.post("/api/token/", credentials).json()["token"] == first == Token.objects.get(user=alice).key


def test_a_wrong_password_gets_no_token(api, alice):
    assert api.post("/api/token/", {"username": "alice", "password": "guess"}).status_code == 400
    assert not Token.objects.exists()


def test_a_revoked_token_is_401(benchmarks, alice, strategy_upload):
    client = as_user(alice)
    assert client.delete("/api/token/").status_code == 204
    assert not Token.objects.exists()
    assert upload(client, strategy_upload).status_code == 401
    assert client.get("/api/benchmarks/").status_code == 401
