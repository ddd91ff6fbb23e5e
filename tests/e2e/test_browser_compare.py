"""A researcher reading the leaderboard in a real browser (Playwright driving Debian's chromium),
at a desktop width (1366 px) and a phone width (390 px): compare a method with two baselines,
sort the table, read a run's per-layer chart. Screenshots of each step are saved under
out/screenshots/ (SCREENSHOTS below), so a reviewer can look at the figures as drawn.

The site runs in this process (pytest-django's live_server on the test database, rows made by
tests/factories.py): no worker or broker is needed, so this test takes seconds."""

import json
from pathlib import Path

import pytest

from leaderboard.charts import FRONTIER_NAME

from tests.e2e.test_browser import browser  # noqa: F401 - the fixture: chromium, or a skip
from tests.factories import make_entry, make_method, make_run, make_submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(scope="module", autouse=True)
def sync_database_calls_beside_playwright():
    """Playwright's sync API keeps an event loop in this thread, and Django refuses database
    calls from a thread with a running loop; the calls here are plain synchronous ones (the
    rows made before a page loads), so Django is told so, for this module only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


def curve(top1):
    return {c: [top1 - 0.01 * k ** 0.5 * (k > 2), top1 + 0.005, top1 - 0.005]
            for k, c in enumerate((1, 2, 4, 8, 16, 32, 64))}


@pytest.fixture
def board(settings):
    from leaderboard.services import benchmarks_sync

    # live_server serves static files through the finders, by name (no collectstatic here).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    bench = {b.name: b for b in benchmarks_sync()}["digits-mlp"]
    for i, name in enumerate(["random", "global-mag-weight", "layer-mag-weight", "global-mag-grad"]):
        make_entry(name, bench, curve(0.5 + 0.05 * i), is_baseline=True)
    make_entry("synflow", bench, curve(0.75), is_reference=True)
    make_entry("Alpha", bench, {**curve(0.97), 64: [0.3, 0.3, 0.3]})  # ranked first, last at 64x
    make_entry("Beta", bench, curve(0.85))
    make_entry("Gamma", bench, curve(0.8))
    run = make_run(make_submission(make_method("Delta")), bench, 64, 0, top1=0.61)
    run.record = {**run.record, "layer_collapse": True, "collapsed_layers": json.dumps(["fc2.weight"]),
                  "layer_sparsity": json.dumps({"fc1.weight": 0.97, "fc2.weight": 1.0, "fc3.weight": 0.5})}
    run.save()
    return run


def legend_names(page, index=0) -> list[str]:
    return page.eval_on_selector_all(
        ".js-plotly-plot", f"plots => Array.from(plots[{index}].querySelectorAll('.legendtext'))"
                           ".map(t => t.textContent)")


def ranking_names(page) -> list[str]:
    return [t.strip() for t in page.locator("table.ranking td.method > a").all_inner_texts()]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_researcher_compares_sorts_and_reads_a_runs_layers(live_server, board, browser, width):  # noqa: F811
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    w, h = WIDTHS[width]
    page = browser.new_page(viewport={"width": w, "height": h})
    page.set_default_timeout(20_000)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live_server.url, "data:")) else None)

    # Compare Alpha with two baselines: tick them, press Compare; only their curves are drawn.
    page.goto(live_server.url + "/b/digits-mlp/")
    page.wait_for_selector(".js-plotly-plot .legendtext")
    assert len(legend_names(page)) == 10  # 4 baselines, 1 reference method, 4 entries, the dense frontier
    page.locator("details.compare summary").click()
    for slug in ("alpha", "random", "global-mag-weight"):
        page.check(f"#compare input[value='{slug}']")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**compare=alpha**")
    page.wait_for_selector(".js-plotly-plot .legendtext")
    for index in (0, 1):  # both charts
        assert sorted(n for n in legend_names(page, index) if n != FRONTIER_NAME) == [
            "Alpha", "global-mag-weight (baseline)", "random (baseline)"]
    plot = page.locator("#benchmark-compression")
    area = page.locator("#benchmark-compression .nsewdrag").first.bounding_box()
    legend = page.locator("#benchmark-compression .legend").first.bounding_box()
    if width == "phone":  # the legend below the plot, which keeps the width
        assert plot.get_attribute("data-legend") == "below"
        assert legend["y"] > area["y"] + area["height"] and area["width"] > 0.6 * w
    else:
        assert plot.get_attribute("data-legend") == "side"
        assert legend["x"] > area["x"] + area["width"]
    plot.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"compare-{width}.png"), full_page=True)

    # Sort the table by the 64x column, in place, and back.
    page.goto(live_server.url + "/b/digits-mlp/#ranking")
    assert ranking_names(page)[:3] == ["Alpha", "Beta", "Gamma"]
    header = page.locator("table.ranking thead th", has_text="64×")
    header.locator("a").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    names = ranking_names(page)
    assert names[:2] == ["Beta", "Gamma"] and names[-1] == "Alpha"
    assert "sort=c64" in page.url
    header.locator("a").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert ranking_names(page)[:2] == ["Alpha", "random"]
    page.locator("table.ranking").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"sorted-{width}.png"), full_page=False)

    # A run's page: per-layer sparsity as bars, the collapsed layer named.
    page.goto(f"{live_server.url}/r/{board.pk}/")
    bars = page.locator("tr.layer")
    assert bars.count() == 3
    widths = [page.locator(f"tr.layer[data-layer='{n}'] .bar").bounding_box()["width"]
              for n in ("fc1.weight", "fc2.weight", "fc3.weight")]
    assert widths[1] > widths[0] > widths[2] > 0  # 100 % > 97 % > 50 %
    expect(page.locator("#collapsed-layers")).to_contain_text("fc2.weight")
    expect(page.locator("tr.layer.collapsed")).to_have_attribute("data-layer", "fc2.weight")
    page.screenshot(path=str(SCREENSHOTS / f"run-layers-{width}.png"), full_page=True)
    assert outside == [], f"the pages fetched something from outside: {outside[:5]}"
    page.close()
