"""The owner chooses which version the leaderboards count: the latest complete one (the
default) or a chosen one, counted on each benchmark where it is complete. Re-uploading v1's
file leads to v1, which the owner can then count again. The method page overlays the versions'
curves. alice owns the method, bob does not."""

import json
import re

from leaderboard import selectors
from leaderboard.models import Method
from submissions.models import Run

from tests.factories import make_method, make_run, make_submission

FULL = (1, 2, 4, 8, 16, 32, 64)


def version(method, bench, top1, *, queued=False):
    submission = make_submission(method, code=f"# {method.slug} {top1}\n")
    for c in FULL:
        make_run(submission, bench, c, 0, top1=top1)
    if queued:
        make_run(submission, bench, 2, 1, status=Run.Status.QUEUED)
    return submission


def board_score(client, slug="mine"):
    rows = client.get("/b/digits-mlp/").context["ranking"]
    return next(r.score for r in rows if r.slug == slug)


def test_the_owner_pins_a_version_and_returns_to_the_latest(client, alice, benchmarks):
    bench = benchmarks["digits-mlp"]
    method = make_method("Mine", owner=alice)
    version(method, bench, 0.9)
    version(method, bench, 0.5)
    assert round(board_score(client), 3) == 0.5  # the default: the latest complete version
    client.force_login(alice)
    page = client.get("/m/mine/").content.decode()
    assert 'id="count-form"' in page and '<option value="latest" selected>' in page
    response = client.post("/m/mine/count/", {"version": "1"}, follow=True)
    assert "now count version 1" in response.content.decode()
    assert round(board_score(client), 3) == 0.9
    assert "<strong>version 1</strong>, chosen by the owner" in client.get("/m/mine/").content.decode()
    assert [s.counted_on for s in selectors.method_versions(method=method)] == [[], ["digits-mlp"]]
    client.post("/m/mine/count/", {"version": "latest"})
    assert round(board_score(client), 3) == 0.5
    assert client.post("/m/mine/count/", {"version": "7"}, follow=True).content.decode().count("has no version 7") == 1


def test_a_chosen_version_counts_only_where_it_is_complete(client, alice, benchmarks):
    mlp, cnn = benchmarks["digits-mlp"], benchmarks["digits-cnn"]
    method = make_method("Mine", owner=alice, counted_version=2)
    v1 = version(method, mlp, 0.9)
    for c in FULL:
        make_run(v1, cnn, c, 0, top1=0.8)
    v2 = version(method, mlp, 0.5, queued=True)  # chosen, but still running on digits-mlp
    assert selectors.counted_submissions(benchmark=mlp)[method.pk] == v1.pk
    v2.runs.filter(status=Run.Status.QUEUED).update(status=Run.Status.FINISHED, top1=0.5)
    assert selectors.counted_submissions(benchmark=mlp)[method.pk] == v2.pk
    assert selectors.counted_submissions(benchmark=cnn)[method.pk] == v1.pk  # v2 is not there


def test_only_the_owner_chooses(client, alice, bob, benchmarks):
    method = make_method("Mine", owner=alice)
    version(method, benchmarks["digits-mlp"], 0.9)
    version(method, benchmarks["digits-mlp"], 0.5)
    client.force_login(bob)
    assert client.post("/m/mine/count/", {"version": "1"}).status_code == 403
    assert 'id="count-form"' not in client.get("/m/mine/").content.decode()
    method.refresh_from_db()
    assert method.counted_version is None


def test_re_uploading_v1s_file_lets_the_owner_count_v1_again(client, alice, benchmarks, strategy_upload):
    from tests.django_fixtures import STRATEGY

    client.force_login(alice)
    form = {"name": "Mine", "benchmarks": [benchmarks["digits-mlp"].pk], "public": "on", "description": "",
            "paper_url": "", "code_url": ""}
    client.post("/submit/", {**form, "file": strategy_upload(STRATEGY)})
    client.post("/submit/", {**form, "file": strategy_upload(STRATEGY + b"# v2\n")})
    method = Method.objects.get(name="Mine")
    v1, v2 = method.submissions.order_by("version")
    Run.objects.filter(submission__method=method).update(status=Run.Status.FINISHED, top1=0.9)
    Run.objects.filter(submission=v2).update(top1=0.4)
    assert selectors.counted_submissions(benchmark=benchmarks["digits-mlp"])[method.pk] == v2.pk
    again = client.post("/submit/", {**form, "file": strategy_upload(STRATEGY)}, follow=True)
    assert again.redirect_chain[-1][0] == f"/s/{v1.pk}/"
    html = again.content.decode()
    assert "To have the leaderboards count it" in html
    button = re.search(r'<input type="hidden" name="version" value="(\d+)"><button type="submit">Count this version', html)
    assert button.group(1) == "1"
    response = client.post("/m/mine/count/", {"version": "1", "next": f"/s/{v1.pk}/"})
    assert response.url == f"/s/{v1.pk}/"
    assert selectors.counted_submissions(benchmark=benchmarks["digits-mlp"])[method.pk] == v1.pk
    assert "The leaderboards count this version (your choice)" in client.get(f"/s/{v1.pk}/").content.decode()
    assert client.post("/m/mine/count/", {"version": "1", "next": "https://evil.example/"}).url == "/m/mine/"


def test_the_method_page_overlays_its_versions_curves(client, alice, benchmarks):
    method = make_method("Mine", owner=alice)
    version(method, benchmarks["digits-mlp"], 0.9)
    version(method, benchmarks["digits-mlp"], 0.5)
    html = client.get("/m/mine/").content.decode()
    traces = json.loads(re.search(r'<script id="m-digits-mlp-compression-data" type="application/json">(.*?)</script>',
                                  html, re.S).group(1))["data"]
    mine = {t["name"]: t["y"] for t in traces if t["meta"].startswith("mine")}
    assert mine == {"Mine v1": [90.0] * 7, "Mine v2 (counted)": [50.0] * 7}
    looks = {(t["line"]["color"], t["marker"]["symbol"]) for t in traces if t["meta"].startswith("mine")}
    assert len(looks) == 2


def test_the_api_chooses_the_counted_version(alice, bob, benchmarks):
    from tests.api.test_api import as_user

    method = make_method("Mine", owner=alice)
    version(method, benchmarks["digits-mlp"], 0.9)
    v2 = version(method, benchmarks["digits-mlp"], 0.5)
    response = as_user(alice).patch("/api/methods/mine/", {"counted_version": 1}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["counted_version"] == 1
    assert [(v["version"], v["counted_on"]) for v in body["versions"]] == [(2, []), (1, ["digits-mlp"])]
    assert as_user(alice).patch("/api/methods/mine/", {"counted_version": 9}, format="json").status_code == 400
    assert as_user(bob).patch("/api/methods/mine/", {"counted_version": 2}, format="json").status_code == 403
    form = as_user(alice).patch("/api/methods/mine/", "counted_version=latest",
                                content_type="application/x-www-form-urlencoded")
    assert form.json()["counted_version"] is None
    assert selectors.counted_submissions(benchmark=benchmarks["digits-mlp"])[method.pk] == v2.pk
