"""A researcher growing a method in a real browser (Playwright driving Debian's chromium), at a
desktop width (1366 px) and a phone width (390 px): create a method, upload a second version
under the same name, enter it on another benchmark, edit its paper metadata and tags, copy its
BibTeX, find it with the search. Screenshots of the method page and the search are saved under
out/screenshots/ (methods-*.png).

The site runs in this process (pytest-django's live_server on the test database). The runs the
uploads queue wait in the database (the dispatcher is switched off): no worker or broker is
needed, so this test takes seconds."""

import os
from pathlib import Path
from unittest import mock

import pytest

from tests.e2e.test_browser import browser  # noqa: F401 - the fixture: chromium, or a skip
from tests.django_fixtures import STRATEGY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
BIBTEX = "@inproceedings{erin2026,\n  title={Saliency <em>at</em> Scale},\n  author={Erin, A.},\n  year={2026}\n}"


@pytest.fixture(scope="module", autouse=True)
def sync_database_calls_beside_playwright():
    """Playwright's sync API keeps an asyncio loop in this thread (module-scoped `browser`, made
    before the function-scoped fixtures), and Django then refuses database calls here, the test
    database's setup and flush included. They are plain blocking calls between Playwright's, never
    inside a coroutine: Django's documented switch lets them through."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def site(settings, tmp_path, django_user_model):
    from leaderboard.services import benchmarks_sync

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # live_server serves static files through the finders, by name (no collectstatic here).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    benchmarks_sync()
    # a worker that has just reported it can run the embedded benchmarks: the form offers them
    from evaluator.benchmarks import list_benchmarks
    from submissions.capabilities import worker_heartbeat
    worker_heartbeat(hostname="tests@localhost", queues=["cpu"], device="cpu",
                     capabilities={b.name: {"weights": "", "data": "", "weights_sha256": b.weights_sha256 or ""}
                                   for b in list_benchmarks() if b.queue == "cpu"})
    django_user_model.objects.create_user("erin", "erin@example.org", "a long passphrase 7")
    with mock.patch("submissions.dispatch.dispatch_soon"):  # queued runs wait in the database
        yield tmp_path


def upload(page, url, path: Path, name: str, benchmark: str):
    page.goto(url + "/submit/")
    page.fill("input[name=name]", name)
    page.set_input_files("input[name=file]", str(path))
    for box in page.locator("#field-benchmarks .choice").all():
        box.locator("input").set_checked(box.locator("label").inner_text().startswith(benchmark + " "))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/s/*/")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_researcher_grows_a_method_and_finds_it(live_server, site, browser, width):  # noqa: F811
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(60_000)  # a loaded 2-core machine: the first page took 7 s
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live_server.url, "data:")) else None)

    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password]", "a long passphrase 7")
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    page.wait_for_load_state()

    # Create the method, then upload an edited file under the same name: version 2 of it.
    first, second = site / "erin_v1.py", site / "erin_v2.py"
    first.write_bytes(STRATEGY)
    second.write_bytes(STRATEGY + b"# v2: tuned\n")
    upload(page, live_server.url, first, "Erin saliency", "digits-mlp")
    expect(page.locator(".messages")).to_contain_text("Uploaded as version 1 of Erin saliency.")
    upload(page, live_server.url, second, "Erin saliency", "digits-mlp")
    expect(page.locator(".messages")).to_contain_text("Uploaded as version 2 of Erin saliency.")

    # Its page lists both versions; enter version 2 on digits-cnn.
    page.get_by_role("link", name="Method page").click()
    page.wait_for_url("**/m/erin-saliency/")
    expect(page.locator("table.versions tbody tr")).to_have_count(2)
    choices = [c for c in page.locator("#enter-form .choice").all()
               if c.locator("label").inner_text().startswith("digits-cnn ")]  # after training
    assert len(choices) == 1
    choices[0].locator("input").check()
    page.get_by_role("button", name="Enter").click()
    page.wait_for_url("**/s/*/")
    expect(page.locator(".messages")).to_contain_text("Version 2 entered on digits-cnn: 21 runs queued.")

    # Edit its paper metadata and tags.
    page.goto(live_server.url + "/m/erin-saliency/")
    page.get_by_role("link", name="Edit the paper, tags and visibility").click()
    page.fill("input[name=title]", "Saliency at Scale")
    page.fill("input[name=authors]", "Erin, A. and Doe, J.")
    page.fill("input[name=venue]", "ICML")
    page.fill("input[name=year]", "2026")
    page.fill("textarea[name=bibtex]", "@article{broken, title={no closing brace")
    page.select_option("select[name=granularity]", "unstructured")
    page.select_option("select[name=schedule]", "one-shot")
    page.fill("input[name=keywords]", "saliency, second order")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-bibtex .errors")).to_contain_text("not valid BibTeX")
    page.fill("textarea[name=bibtex]", BIBTEX)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/m/erin-saliency/")
    expect(page.locator("#paper")).to_contain_text("Saliency at Scale")
    expect(page.locator("#paper")).to_contain_text("ICML 2026")
    expect(page.locator("#bibtex")).to_have_text(BIBTEX)  # the markup in it shown as text
    page.get_by_role("button", name="Copy BibTeX").click()
    expect(page.locator("#copy-bibtex-done")).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == BIBTEX
    page.screenshot(path=str(SCREENSHOTS / f"methods-method-{width}.png"), full_page=True)

    # Find it: by a word of its title and a tag, from the home page's search form.
    page.goto(live_server.url + "/")
    page.fill("#search input[name=q]", "scale")
    page.check("#search input[value=one-shot]")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=scale**")
    expect(page.locator("#search-results tbody tr")).to_have_count(1)
    expect(page.locator("#search-results")).to_contain_text("Erin saliency")
    page.screenshot(path=str(SCREENSHOTS / f"methods-search-{width}.png"), full_page=False)
    page.goto(live_server.url + "/?q=scale&tag=iterative")
    expect(page.locator("#search-results")).to_contain_text("No method matches.")
    page.goto(live_server.url + "/?keyword=second+order")
    page.locator("#search-results a", has_text="Erin saliency").click()
    page.wait_for_url("**/m/erin-saliency/")
    assert outside == [], f"the pages fetched something from outside: {outside[:5]}"
    context.close()
