"""The status page follows its submission live: in a real browser (Playwright driving Debian's
chromium) the queue position and the run states change on the page as they change in the
database, with no reload. The script is the site's own (static/js), nothing from a CDN."""

import os
import re

import pytest
from django.contrib.staticfiles import finders

from submissions import dispatch, services
from submissions.models import Run
from tests.e2e.test_browser import browser  # noqa: F401 - the module's chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def sync_playwright_beside_django():
    """Playwright's sync API keeps an event loop in this thread, which Django takes for an async
    context; the test's database calls are plain synchronous ones (Django's documented switch)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def test_the_status_page_loads_its_poller_from_the_site_itself(client, alice, benchmarks, strategy_upload):
    submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                               benchmarks=[benchmarks["digits-mlp"]])
    html = client.get(submission.get_absolute_url()).content.decode()
    assert '<script src="/static/js/submission-status.js" defer></script>' in html
    assert not re.search(r'<script[^>]+src="(https?:)?//', html)  # no CDN
    script = open(finders.find("js/submission-status.js")).read()
    assert "queue_position" in script and "http" not in script


@pytest.mark.django_db(transaction=True)
def test_the_queue_position_and_run_states_update_without_a_reload(
        live_server, browser, alice, bob, benchmarks, strategy_upload, settings, monkeypatch):  # noqa: F811
    settings.PRUNEBOARD_DISPATCH_AHEAD = 2
    monkeypatch.setattr("submissions.tasks.run_evaluate.apply_async", lambda *a, **k: None)
    monkeypatch.setattr(dispatch, "broker_count", lambda queue: 0)
    alices, _ = services.submission_create(user=alice, upload=strategy_upload(), name="First",
                                           benchmarks=[benchmarks["digits-mlp"]])
    dispatch.runs_dispatch()  # two of alice's runs are in the broker
    bobs, _ = services.submission_create(user=bob, upload=strategy_upload(b"# bob\n" + strategy_upload().read()),
                                         name="Second", benchmarks=[benchmarks["digits-mlp"]])
    page = browser.new_page()
    try:
        page.goto(live_server.url + bobs.get_absolute_url())
        position = page.locator("#queue-position")
        # bob's first run is a quick check: behind only the two in the broker
        assert position.inner_text() == "2 runs ahead of yours in the queue."
        page.evaluate("window.notReloaded = true")

        Run.objects.filter(submission=alices, queued_at__isnull=False).update(status=Run.Status.RUNNING)
        page.wait_for_function("!document.getElementById('queue-position').textContent.startsWith('2 runs ahead')",
                               timeout=15_000)  # nothing ahead of its check now
        first = bobs.runs.order_by("seed", "compression").first()
        Run.objects.filter(pk=first.pk).update(status=Run.Status.RUNNING, attempt=1)
        row = page.locator(f"#run-{first.pk} [data-field=status]")
        page.wait_for_function(f"document.querySelector('#run-{first.pk} [data-field=status]').textContent === 'running'",
                               timeout=15_000)
        assert row.get_attribute("class") == "status status-running"
        Run.objects.filter(submission=bobs).exclude(pk=first.pk).update(status=Run.Status.RUNNING)
        position.wait_for(state="hidden", timeout=15_000)  # none of bob's runs waits any more
        assert page.evaluate("window.notReloaded") is True
    finally:
        page.close()
