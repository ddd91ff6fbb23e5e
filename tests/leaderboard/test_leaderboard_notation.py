"""The site's one notation as a reader sees it on the rendered pages: no false precision (one
seed has no ±; a measured ratio keeps three significant digits, 31.98 reads 32.0×), counts with
thousands separators, and a method's colour and marker its own on every chart."""

import json
import re

from tests.factories import make_entry, make_method, make_run, make_submission

FULL = (1, 2, 4, 8, 16, 32, 64)


def figures(html: str) -> list[dict]:
    return [json.loads(data) for data in
            re.findall(r'<script id="[^"]+-data" type="application/json">(.*?)</script>', html, re.S)]


def test_a_cell_of_one_seed_has_no_plus_minus(client, benchmarks):
    make_entry("Alpha", benchmarks["digits-mlp"], {c: [0.9834] for c in FULL})
    make_entry("Beta", benchmarks["digits-mlp"], {c: [0.8, 0.82] for c in FULL})
    html = client.get("/b/digits-mlp/").content.decode()
    alpha = html[html.index('<a href="/m/alpha/">'):]
    alpha = alpha[:alpha.index("</tr>")]
    assert ">98.3<sub>1 seed</sub></td>" in alpha and "±" not in alpha
    beta = html[html.index('<a href="/m/beta/">'):]
    assert '81.0<span class="pm"> ± 1.4</span><sub>n = 2</sub>' in beta[:beta.index("</tr>")]


def test_the_run_page_keeps_three_digits_and_separates_thousands(client, benchmarks):
    run = make_run(make_submission(make_method("Alpha")), benchmarks["digits-mlp"], 32, 0)
    run.record = {**run.record, "compression": 31.98, "speedup": 31.5, "size": 151306, "size_nz": 4731}
    run.save()
    html = client.get(f"/r/{run.pk}/").content.decode()
    assert '<dd id="run-compression">32.0× <span class="muted">(requested 32×)' in html
    assert '<dd id="run-speedup">31.5×</dd>' in html
    assert "4,731 of 151,306" in html


def test_the_status_page_separates_thousands(client, benchmarks, alice):
    submission = make_submission(make_method("Mine", owner=alice))
    from submissions.models import Run
    bench = benchmarks["digits-mlp"]
    Run.objects.bulk_create([Run(submission=submission, benchmark=bench, compression=2.0 + i, seed=0,
                                 status=Run.Status.CANCELLED) for i in range(1002)])
    client.force_login(alice)
    assert "1,002 of 1,002 runs done" in client.get(f"/s/{submission.pk}/").content.decode()


def test_a_methods_colour_and_marker_are_its_own_on_every_chart(client, benchmarks):
    bench = benchmarks["digits-mlp"]
    for name in ("Alpha", "Beta", "Gamma", "Delta"):
        make_entry(name, bench, {c: [0.8] for c in FULL})
    for name in ("random", "global-mag-weight", "layer-mag-weight"):
        make_entry(name, bench, {c: [0.5] for c in FULL}, is_baseline=True, slug=f"baseline-{name}")
    make_entry("synflow", bench, {c: [0.6] for c in FULL}, is_reference=True, slug="reference-synflow")
    pages = ["/b/digits-mlp/", "/b/digits-mlp/?compare=gamma,baseline-layer-mag-weight",
             "/b/digits-mlp/?compare=delta&compare=beta&compare=reference-synflow", "/m/gamma/", "/m/delta/",
             "/m/baseline-layer-mag-weight/"]
    looks: dict[str, set] = {}
    for page in pages:
        for figure in figures(client.get(page).content.decode()):
            for trace in figure["data"]:
                looks.setdefault(trace["meta"], set()).add(
                    (trace["line"]["color"], trace["line"].get("dash"), json.dumps(trace["marker"]["symbol"])))
    assert len(looks) == 9 and "dense-frontier" in looks  # eight methods and the board's dense frontier
    assert all(len(seen) == 1 for seen in looks.values()), looks
    assert len({next(iter(seen)) for seen in looks.values()}) == 9  # and these nine differ
