"""Code is published with public results, and the submit form says so plainly; an owner can
keep the code private while the results are public, and can withdraw a submission: its runs
leave the board and the CSVs. alice owns the method, bob does not."""

import io

import pandas as pd

from leaderboard.models import Method
from submissions.models import Run, Submission

from tests.django_fixtures import STRATEGY

FULL = (1, 2, 4, 8, 16, 32, 64)


def submit(client, benchmarks, strategy_upload, content=STRATEGY, **fields):
    data = {"file": strategy_upload(content), "name": "Mine", "description": "", "paper_url": "", "code_url": "",
            "public": "on", "code_public": "on", "benchmarks": [benchmarks["digits-mlp"].pk]}
    data.update(fields)
    return client.post("/submit/", {k: v for k, v in data.items() if v is not None})


def finish(submission):
    Run.objects.filter(submission=submission).update(status=Run.Status.FINISHED, top1=0.9, masks_sha256="")
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.FINISHED)


def board_csv(client) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(b"".join(client.get("/b/digits-mlp.csv").streaming_content).decode()))


def test_the_submit_form_says_the_code_is_published_with_the_results(client, alice, benchmarks):
    client.force_login(alice)
    html = client.get("/submit/").content.decode()
    assert "Your code is published with your results:" in html
    assert 'name="code_public"' in html and "Publish the code with the results" in html


def test_an_owner_keeps_the_code_private_while_the_results_are_public(client, alice, bob, benchmarks, strategy_upload):
    client.force_login(alice)
    submit(client, benchmarks, strategy_upload, code_public=None)
    method = Method.objects.get(name="Mine")
    finish(method.submissions.get())
    assert (method.is_public, method.code_public) == (True, False)
    assert "Keeps the largest weights of each layer" in client.get("/m/mine/").content.decode()  # the owner reads it
    assert client.get("/m/mine/code.py").status_code == 200
    for who in (bob, None):
        client.logout()
        if who:
            client.force_login(who)
        page = client.get("/m/mine/").content.decode()
        assert "Keeps the largest weights of each layer" not in page and "the code is private" in page
        assert client.get("/m/mine/code.py").status_code == 404
        assert client.get("/m/mine/v/1/code.py").status_code == 404
        assert "mine" in {r.slug for r in client.get("/b/digits-mlp/").context["ranking"]}  # results public
    client.force_login(alice)
    edit = {"title": "", "authors": "", "venue": "", "year": "", "bibtex": "", "paper_url": "", "code_url": "",
            "description": "", "granularity": "", "data_use": "", "schedule": "", "keywords": "",
            "is_public": "on", "code_public": "on"}
    assert client.post("/m/mine/edit/", edit).status_code == 302
    client.force_login(bob)
    assert "Keeps the largest weights of each layer" in client.get("/m/mine/").content.decode()


def test_a_withdrawn_submission_leaves_the_board_and_the_csvs(client, alice, bob, benchmarks, strategy_upload):
    client.force_login(alice)
    submit(client, benchmarks, strategy_upload)
    submit(client, benchmarks, strategy_upload, content=STRATEGY + b"# v2\n")
    method = Method.objects.get(name="Mine")
    v1, v2 = method.submissions.order_by("version")
    finish(v1)
    Run.objects.filter(submission=v2, compression__gt=8).update(status=Run.Status.FINISHED, top1=0.5)
    assert set(board_csv(client).submission_id) == {v1.pk, v2.pk}
    response = client.post(f"/s/{v2.pk}/withdraw/", {"withdraw": "1"}, follow=True)
    assert "Withdrawn: its runs are off the leaderboards and the CSVs" in response.content.decode()
    assert v2.runs.filter(status=Run.Status.QUEUED).count() == 0  # its queued runs are cancelled
    assert set(board_csv(client).submission_id) == {v1.pk}
    client.force_login(bob)
    assert client.get(f"/s/{v2.pk}/").status_code == 404
    assert client.get(f"/s/{v2.pk}.csv").status_code == 404
    assert client.get(f"/api/submissions/{v2.pk}/").status_code == 404
    assert client.get("/m/mine/v/2/").status_code == 404
    assert client.post(f"/s/{v1.pk}/withdraw/", {"withdraw": "1"}).status_code == 403
    client.force_login(alice)
    client.post(f"/s/{v1.pk}/withdraw/", {"withdraw": "1"})
    assert "mine" not in {r.slug for r in client.get("/b/digits-mlp/").context["ranking"]}
    assert "mine" not in set(board_csv(client).method_slug)
    assert 'id="withdrawn"' in client.get(f"/s/{v1.pk}/").content.decode()  # its owner still sees it
    client.post(f"/s/{v1.pk}/withdraw/", {"withdraw": "0"})
    assert "mine" in {r.slug for r in client.get("/b/digits-mlp/").context["ranking"]}
