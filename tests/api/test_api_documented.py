"""The API answers what docs/api.md says: the fields it lists are the fields a real answer has,
form and multipart PATCHes take keywords as the docs promise, the submission says its queue
position as its page does, and a logged-in user can see and renew their token on the site."""

import csv
import io
import re
from pathlib import Path

from rest_framework.authtoken.models import Token

from submissions.models import Run, Submission

from tests.factories import make_method, make_run, make_submission
from tests.api.test_api import as_user

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()


def documented(start: str, end: str) -> set[str]:
    """The `field` names of the docs between two phrases."""
    text = DOCS[DOCS.index(start):]
    return set(re.findall(r"`(\w+)`", text[:text.index(end)]))


def test_a_forms_and_a_multiparts_keywords_are_a_comma_separated_string(alice):
    mine = make_method("Mine", owner=alice)
    client = as_user(alice)
    response = client.patch("/api/methods/mine/", "keywords=Saliency,%20lottery%20ticket",
                            content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    assert response.json()["keywords"] == ["saliency", "lottery ticket"]
    response = client.patch("/api/methods/mine/", {"keywords": "a, b", "title": "T"}, format="multipart")
    assert response.status_code == 200, response.content
    mine.refresh_from_db()
    assert (mine.keyword_list, mine.title) == (["a", "b"], "T")
    assert client.patch("/api/methods/mine/", {"keywords": ["c", "d"]}, format="json").json()["keywords"] == ["c", "d"]
    assert client.patch("/api/methods/mine/", {"keywords": 3}, format="json").status_code == 400


def test_a_runs_documented_fields_are_its_fields_and_its_csv_is_its_row(client, benchmarks):
    run = make_run(make_submission(make_method("Alpha")), benchmarks["digits-mlp"], 4, 0)
    body = client.get(f"/api/runs/{run.pk}/").json()
    assert set(body) == documented("Each run: `id`", "The owner and") - {"error", "traceback", "user_error"}
    assert body["csv"] == f"http://testserver/r/{run.pk}.csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(body["csv"]).streaming_content).decode())))
    assert len(rows) == 1 and rows[0]["run_pk"] == str(run.pk) and rows[0]["top1"] == str(body["top1"])
    queued = make_run(run.submission, benchmarks["digits-mlp"], 8, 0, status=Run.Status.QUEUED)
    assert client.get(f"/api/runs/{queued.pk}/").json()["csv"] is None


def test_a_submissions_documented_fields_are_its_fields_with_its_queue_position(client, benchmarks, alice):
    submission = make_submission(make_method("Mine", owner=alice))
    make_run(submission, benchmarks["digits-mlp"], 2, 0)
    body = client.get(f"/api/submissions/{submission.pk}/").json()
    assert set(body) == documented("`GET /api/submissions/<id>/`: `id`", "`progress` is") - {"error"}
    assert body["queue_position"] is None  # nothing of it is queued
    make_run(submission, benchmarks["digits-mlp"], 4, 0, status=Run.Status.QUEUED)
    submission.status = Submission.Status.QUEUED  # as a run queued again makes it (services)
    submission.save(update_fields=["status"])
    body = client.get(f"/api/submissions/{submission.pk}/").json()
    client.force_login(alice)
    page = client.get(f"/s/{submission.pk}/").context["progress"]["queue_position"]
    assert body["queue_position"] == page is not None


def test_a_user_sees_and_renews_their_token_on_the_site(client, alice, bob):
    assert client.get("/accounts/token/").status_code == 302  # log in first
    client.force_login(alice)
    html = client.get("/accounts/token/").content.decode()
    key = Token.objects.get(user=alice).key
    assert f'<span id="api-token">{key}</span>' in html and 'href="/accounts/token/"' in html
    assert as_user(alice).get("/api/submissions/").status_code in (200, 404, 405)
    response = client.post("/accounts/token/", follow=True)
    new = Token.objects.get(user=alice).key
    assert new != key and f'<span id="api-token">{new}</span>' in response.content.decode()
    stale = as_user(bob)
    stale.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert stale.get("/api/methods/").status_code == 401  # the old token no longer works
    assert Token.objects.get(user=bob).key not in client.get("/accounts/token/").content.decode()


def test_a_methods_documented_fields_are_its_fields(client, alice, benchmarks):
    make_method("Mine", owner=alice)
    listed = client.get("/api/methods/").json()["results"][0]
    assert set(listed) == documented("`/api/methods/`, `/api/methods/<slug>/`: `name`", "`/api/methods/<slug>/` adds")
    detail = client.get("/api/methods/mine/").json()
    assert set(detail) - set(listed) == {"versions"}
