import json
import re

import pytest

from tests.factories import make_entry, make_method, make_run, make_submission

pytestmark = pytest.mark.django_db
FULL = [1, 2, 4, 8, 16, 32, 64]
CODE = "import numpy as np\n\n\nclass Mine:  # <b>not html</b>\n    pass\n"


def figure(response, element_id):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    return json.loads(match.group(1))


def test_home_lists_benchmarks_with_dense_accuracy(client, benchmarks):
    response = client.get("/")
    bench = benchmarks["digits-mlp"]
    assert response.status_code == 200
    assert "digits-mlp" in response.content.decode()
    assert f"{bench.reference_top1 * 100:.1f}" in response.content.decode()


def test_benchmark_page_has_both_charts_with_every_listed_method(client, benchmarks, alice):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.9, 0.91] for c in FULL}, owner=alice)
    make_entry("random", bench, {c: [0.5] for c in FULL}, is_baseline=True)
    make_entry("Secret", bench, {2: [0.99]}, owner=alice, is_public=False)
    response = client.get("/b/digits-mlp/")
    html = response.content.decode()
    assert 'id="benchmark-compression"' in html and 'id="benchmark-speedup"' in html
    for key in ("compression", "speedup"):
        names = {t["name"] for t in figure(response, f"benchmark-{key}-data")["data"]}
        assert names == {"Alpha", "random (baseline)", "dense, smaller width"}  # and the dense frontier
    assert "Secret" not in html


def test_a_lone_entry_is_still_named_in_the_legend(client, benchmarks, alice):
    make_entry("Alone", benchmarks["mnist-lenet"], {c: [0.9] for c in FULL}, owner=alice)
    response = client.get("/b/mnist-lenet/")  # a board without a dense frontier: one trace
    for key in ("compression", "speedup"):
        chart = figure(response, f"benchmark-{key}-data")
        assert [t["name"] for t in chart["data"]] == ["Alone"] and chart["layout"]["showlegend"] is True


def test_benchmark_page_ranks_methods_in_a_table(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.8] for c in FULL})
    make_entry("Beta", bench, {c: [0.9] for c in FULL})
    html = client.get("/b/digits-mlp/").content.decode()
    table = html[html.index('class="table ranking"'):]
    assert table.index("Beta") < table.index("Alpha")
    assert ">90.0<sub>1 seed</sub></td>" in table  # one seed: no ± (it would be false precision)
    assert "mean, over the compressions 2× to 64×" in html


def test_benchmark_page_loads_the_local_plotly(client, benchmarks):
    html = client.get("/b/digits-mlp/").content.decode()
    sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
    assert any(s.endswith("plotly/plotly.min.js") for s in sources)
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert any(s.endswith("js/figures.js") for s in sources)  # draws the figures (Plotly.newPlot)


def test_benchmark_page_shows_runs_still_to_do(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    submission = make_submission(make_method("Alpha"))
    make_run(submission, bench, 2, 0)
    make_run(submission, bench, 2, 1, status="queued")
    assert "1 of 2 runs done" in client.get("/b/digits-mlp/").content.decode()


def test_method_description_is_sanitized(client, benchmarks):
    description = ("Hi <script>alert(1)</script> [bad](javascript:alert(2)) "
                   "[good](https://example.org/paper) <a href=\"x\" onclick=\"evil()\">c</a>")
    make_method("Alpha", description=description, paper_url="javascript:alert(3)")
    html = client.get("/m/alpha/").content.decode()
    assert "<script>alert" not in html
    assert "javascript:" not in html
    assert "onclick" not in html
    assert 'href="https://example.org/paper"' in html


def test_method_page_highlights_the_latest_code_and_lists_runs(client, benchmarks):
    method = make_method("Alpha")
    submission = make_submission(method, code=CODE)
    run = make_run(submission, benchmarks["digits-mlp"], 4, 0)
    html = client.get("/m/alpha/").content.decode()
    assert 'class="highlight"' in html and "&lt;b&gt;not html&lt;/b&gt;" in html
    assert f"/r/{run.pk}.csv" in html
    assert 'id="m-digits-mlp-compression"' in html


def test_method_code_is_served_as_plain_text(client, benchmarks):
    make_submission(make_method("Alpha"), code=CODE)
    response = client.get("/m/alpha/code.py")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert response.content.decode() == CODE


@pytest.mark.parametrize("url", ["/b/no-such-benchmark/", "/m/no-such-method/",
                                 "/r/987654.csv", "/s/987654.csv", "/b/no-such.csv",
                                 "/m/no-such-method/code.py"])
def test_unknown_things_are_the_sites_404_page(client, benchmarks, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert "pruneboard" in response.content.decode()


def test_a_private_method_is_404_for_bob_and_visible_to_alice(client, benchmarks, alice, bob, moderator):
    make_method("Secret", owner=alice, is_public=False)
    client.force_login(bob)
    assert client.get("/m/secret/").status_code == 404
    client.force_login(alice)
    assert client.get("/m/secret/").status_code == 200
    client.force_login(moderator)
    assert client.get("/m/secret/").status_code == 200


def test_a_hidden_method_is_404_for_the_public(client, benchmarks, alice):
    make_method("Spam", owner=alice, is_hidden=True)
    assert client.get("/m/spam/").status_code == 404


def test_the_header_offers_log_out_as_a_post_form(client, benchmarks, alice):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "Signed in as <strong>alice</strong>" in html
    assert re.search(r'<form[^>]*method="post"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', html)


def test_the_moderators_hide_action_takes_a_method_off_the_board(client, benchmarks, moderator):
    method = make_entry("Spam", benchmarks["digits-mlp"], {2: [0.9]})
    client.force_login(moderator)
    response = client.post("/admin/leaderboard/method/",
                           {"action": "hide", "_selected_action": [method.pk]}, follow=True)
    assert response.status_code == 200
    method.refresh_from_db()
    assert method.is_hidden
    client.logout()
    assert "Spam" not in client.get("/b/digits-mlp/").content.decode()
    client.force_login(moderator)
    client.post("/admin/leaderboard/method/", {"action": "unhide", "_selected_action": [method.pk]})
    method.refresh_from_db()
    assert not method.is_hidden


def test_figure_data_is_escaped_as_json_script_escapes_it():
    """A method named to close the script element stays inside it, byte for byte as Django's
    json_script would write it."""
    from django.utils.html import json_script

    from leaderboard.templatetags.leaderboard_extras import figure_json

    data = {"name": "</script><script>alert('x')</script> & <!--", "y": [0.5, None], "hover": "a<br>b"}
    assert figure_json(data, "f-data") == json_script(data, "f-data")
    assert figure_json(data, "f-data").count("</script>") == 1
