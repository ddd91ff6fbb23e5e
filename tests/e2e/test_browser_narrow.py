"""Every page type fits a phone (390 px wide) in a real browser (Playwright driving Debian's
chromium): the document is never wider than the screen, so nothing needs a sideways scroll of
the whole page (a wide table scrolls inside its own box). Screenshots go to out/screenshots/.

The site runs in this process (pytest-django's live_server, rows made by tests/factories.py):
no worker or broker is needed."""

import json

import pytest

from leaderboard.models import Method

from tests.e2e.test_browser import browser  # noqa: F401 - the fixture: chromium, or a skip
from tests.e2e.test_browser_compare import SCREENSHOTS, curve, sync_database_calls_beside_playwright  # noqa: F401
from tests.factories import make_entry, make_method, make_run, make_submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = 390


@pytest.fixture
def site(settings, django_user_model):
    from leaderboard.services import benchmarks_sync

    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    benchmarks = {b.name: b for b in benchmarks_sync()}
    bench = benchmarks["digits-mlp"]
    for i, name in enumerate(["random", "global-mag-weight", "layer-mag-weight", "global-mag-grad",
                              "layer-mag-grad", "global-mag-act", "layer-mag-act"]):
        make_entry(name, bench, curve(0.5 + 0.03 * i), is_baseline=True, slug=f"baseline-{name}")
    for i, name in enumerate(["snip", "grasp", "synflow", "lamp", "l1-filter"]):
        make_entry(name, bench, curve(0.7 + 0.02 * i), is_reference=True, slug=f"reference-{name}")
    from submissions.models import Run
    random = Method.objects.get(slug="baseline-random").submissions.get()
    for seed in (3, 4):  # the built-ins still filling in: provisional ranks, a time to go
        make_run(random, bench, 64, seed, status=Run.Status.QUEUED)
    alice = django_user_model.objects.create_user("alice", "alice@example.org", "correct horse 42")
    method = make_method("Layerwise magnitude with a rather long name", owner=alice,
                         title="A long paper title about pruning neural networks at initialization",
                         authors="Ada Lovelace, Charles Babbage, Grace Hopper")
    submission = make_submission(method, code="import numpy as np\n" + "# " + "x" * 300 + "\n")
    run = None
    for c in (1, 2, 4, 8, 16, 32, 64):
        for seed in (0, 1, 2):
            run = make_run(submission, bench, c, seed, top1=0.9 - 0.01 * c ** 0.5)
    run.record = {**run.record, "size": 151306, "size_nz": 4731,
                  "layer_sparsity": json.dumps({"features.0.weight": 0.97, "classifier.fc2.weight": 1.0})}
    run.save()
    return {"alice": alice, "method": method, "submission": submission, "run": run}


def test_every_page_type_fits_a_phone(live_server, site, browser, client):  # noqa: F811
    client.force_login(site["alice"])
    page = browser.new_page(viewport={"width": PHONE, "height": 844})
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    page.set_default_timeout(20_000)
    slug, submission, run = site["method"].slug, site["submission"], site["run"]
    pages = {"home": "/", "overview": "/overview/", "benchmark": "/b/digits-mlp/",
             "compare": "/b/digits-mlp/?compare=reference-snip,baseline-random",
             "speedup": "/b/digits-mlp/?by=speedup&at=4", "method": f"/m/{slug}/",
             "version": f"/m/{slug}/v/1/", "edit": f"/m/{slug}/edit/", "run": f"/r/{run.pk}/",
             "status": f"/s/{submission.pk}/", "submit": "/submit/", "mine": "/accounts/", "token": "/accounts/token/",
             "builtin": "/m/baseline-random/"}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widths, wide = {}, {}
    for name, url in pages.items():
        response = page.goto(live_server.url + url)
        assert response.status == 200, (name, response.status)
        page.wait_for_load_state("load")
        if page.locator(".plot").count():
            page.wait_for_selector(".js-plotly-plot .main-svg")
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        if widths[name] > PHONE:  # what sticks out, for the failure's message
            wide[name] = page.evaluate(f"""Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > {PHONE + 1}).slice(0, 5)
                .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
        page.screenshot(path=str(SCREENSHOTS / f"narrow-{name}.png"), full_page=True)
    page.context.clear_cookies()
    for name, url in {"login": "/accounts/login/", "signup": "/accounts/signup/"}.items():
        page.goto(live_server.url + url)
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
    assert {name: w for name, w in widths.items() if w > PHONE} == {}, wide
