"""A new researcher in a real browser (Playwright driving Debian's chromium): open the
leaderboard, sign up, submit a strategy file, watch the progress bar reach done, see the entry
on the chart, download its CSV."""

import io
import os
from pathlib import Path

import pandas as pd
import pytest

from .test_pipeline import STRATEGY

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (Debian package chromium; `make test` installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def test_a_researcher_signs_up_submits_and_sees_the_entry_on_the_leaderboard(stack, browser, tmp_path):
    while len([w for w in stack.workers.values() if w.poll() is None]) < 2:
        stack.start_worker(f"browser{len(stack.workers)}")
    stack.wait_for_worker()  # the form offers only what a worker has reported it can run
    from playwright.sync_api import expect

    page = browser.new_page(accept_downloads=True)
    page.set_default_timeout(30_000)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((stack.url, "data:")) else None)

    page.goto(stack.url + "/")
    page.get_by_role("link", name="digits-mlp").first.click()
    page.wait_for_selector(".js-plotly-plot .main-svg")
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    # the three charts (top-1 against compression, theoretical and measured speedup), drawn by the local plotly.js
    assert page.locator(".js-plotly-plot").count() == 3

    page.goto(stack.url + "/accounts/signup/")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password1]", "a long enough passphrase 7")
    page.fill("input[name=password2]", "a long enough passphrase 7")
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    page.wait_for_url("**/submit/")

    strategy = tmp_path / "dana_magnitude.py"
    strategy.write_bytes(STRATEGY.replace(b"LayerMagnitudeE2E", b"DanaMagnitude"))
    page.fill("input[name=name]", "Dana magnitude")
    page.set_input_files("input[name=file]", str(strategy))
    for box in page.locator("#field-benchmarks .choice").all():  # digits-mlp only: 21 runs
        box.locator("input").set_checked(box.locator("label").inner_text().startswith("digits-mlp "))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/s/*/")
    total = int(page.get_attribute("#progress-bar", "max"))
    assert total == 21
    page.wait_for_function(
        "() => { const b = document.querySelector('#progress-bar'); return b && +b.value === +b.max; }",
        timeout=600_000)
    page.wait_for_selector("#submission-status.status-finished", timeout=60_000)

    with page.expect_download() as download:
        page.get_by_role("link", name="Runs as CSV").click()
    csv = pd.read_csv(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert len(csv) == 21 and set(csv["method"]) == {"Dana magnitude"}

    page.get_by_role("link", name="digits-mlp leaderboard").click()
    page.wait_for_selector(".js-plotly-plot .main-svg")
    # SVG text has no innerText: look at textContent of the three charts' legends
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(plot => Array.from(plot.querySelectorAll('.legendtext'))
                             .some(t => t.textContent === 'Dana magnitude')).length === 3""")
    expect(page.locator("table", has_text="Dana magnitude")).not_to_have_count(0)
    assert outside == [], f"the pages fetched something from outside: {outside[:5]}"
