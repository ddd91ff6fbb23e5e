"""Runs whose masks equal another listed method's (same benchmark, compression, seed and masks
SHA-256) are named on the board, the method page and the status page: once per method and
benchmark, in one line, and only where weights are pruned (never at 1x, never on dense masks)."""

import pytest

from leaderboard import selectors

from tests.factories import make_method, make_run, make_submission

FULL = [1, 2, 4, 8, 16, 32, 64]


def sha(compression, seed):
    return f"{int(compression):02d}{seed}".ljust(64, "0")


@pytest.fixture
def twins(alice, benchmarks):
    """global-mag-grad (a baseline, made first) and alice's SNIP upload with the same masks on
    every run; alice's Other with masks of its own."""
    bench = benchmarks["digits-mlp"]
    made = {}
    for name, fields in [("global-mag-grad", {"is_baseline": True}), ("SNIP", {"owner": alice}),
                         ("Other", {"owner": alice})]:
        method = make_method(name, **fields)
        submission = make_submission(method)
        for c in FULL:
            for seed in (0, 1):
                make_run(submission, bench, c, seed, top1=0.8 if name != "Other" else 0.7,
                         masks_sha256=None if name == "Other" else sha(c, seed))
        made[name] = method, submission
    return made


def test_two_methods_whose_runs_share_masks_are_named_on_each_others_rows(twins, benchmarks):
    found = selectors.benchmark_mask_twins(benchmark=benchmarks["digits-mlp"])
    gmg, snip = twins["global-mag-grad"][0], twins["SNIP"][0]
    at = {"compressions": [2.0, 4.0, 8.0, 16.0, 32.0, 64.0], "at": "2–64×"}
    assert found == {snip.pk: [{"method": "global-mag-grad", "slug": "global-mag-grad", "runs": 12, "of": 12, **at}],
                     gmg.pk: [{"method": "SNIP", "slug": "snip", "runs": 12, "of": 12, **at}]}


def test_the_board_says_so_and_the_tie_goes_to_the_method_made_first(client, twins):
    response = client.get("/b/digits-mlp/")
    rows = response.context["ranking"]
    assert [(r.method, r.score) for r in rows[:2]] == [("global-mag-grad", pytest.approx(0.8)),
                                                            ("SNIP", pytest.approx(0.8))]
    html = response.content.decode()
    assert 'identical masks to <a href="/m/global-mag-grad/">global-mag-grad</a> at 2–64×</span>' in html
    assert "ties go\n  to the method created first on the site" in html
    assert "a method that duplicates an earlier\n  one's masks ties with it and is ranked right after it" in html


def test_the_method_page_and_the_status_page_name_the_twin(client, alice, twins):
    page = client.get("/m/snip/").content.decode()
    assert 'On digits-mlp: identical masks to <a href="/m/global-mag-grad/">global-mag-grad</a> at 2–64×.' in page
    assert "identical masks to" not in client.get("/m/other/").content.decode()
    client.force_login(alice)
    status = client.get(twins["SNIP"][1].get_absolute_url()).content.decode()
    assert status.count("identical masks to <a") == 1
    assert 'On digits-mlp: identical masks to <a href="/m/global-mag-grad/">global-mag-grad</a> at 2–64×.' in status
    body = client.get(f"/api/submissions/{twins['SNIP'][1].pk}/").json()
    assert body["masks_identical_to"] == [{"benchmark": "digits-mlp", "method": "global-mag-grad",
                                           "slug": "global-mag-grad", "runs": 12,
                                           "compressions": [2.0, 4.0, 8.0, 16.0, 32.0, 64.0], "at": "2–64×"}]


def test_only_the_same_compression_and_seed_and_only_listed_methods_count(alice, bob, benchmarks):
    bench = benchmarks["digits-mlp"]
    mine, theirs, private = (make_method(n, owner=o, is_public=p) for n, o, p in
                             [("Mine", alice, True), ("Theirs", bob, True), ("Private", bob, False)])
    for method, seed in [(mine, 0), (theirs, 1), (private, 0)]:
        make_run(make_submission(method), bench, 2, seed, masks_sha256="ab" * 32)
    assert selectors.benchmark_mask_twins(benchmark=bench) == {}
    run = mine.submissions.get().runs.get()
    assert selectors.run_mask_twins(runs=[run]) == {}


def test_at_1x_and_on_dense_masks_every_method_is_alike_and_nothing_is_said(alice, client, benchmarks):
    """At 1x every method keeps every weight: thirteen methods share those masks, and saying so
    on every row says nothing. A dense mask at a higher requested compression (every weight
    kept) is no duplicate either; the one pruned match is named once, with its compression."""
    bench = benchmarks["digits-mlp"]
    methods = [make_method(f"m{i}", owner=alice) for i in range(13)]
    for i, method in enumerate(methods):
        submission = make_submission(method)
        for c in FULL:
            run = make_run(submission, bench, c, 0, masks_sha256=sha(c, 0) if c in (1, 2) or i < 2 and c == 8
                           else f"{i:02d}{c:02d}".ljust(64, "f"))
            if c == 2:  # requested 2x but kept every weight: dense
                run.actual_compression = 1.0
                run.save()
    found = selectors.benchmark_mask_twins(benchmark=bench)
    assert found == {methods[0].pk: [{"method": "m1", "slug": "m1", "runs": 1, "of": 5, "compressions": [8.0], "at": "8×"}],
                     methods[1].pk: [{"method": "m0", "slug": "m0", "runs": 1, "of": 5, "compressions": [8.0], "at": "8×"}]}
    board = client.get("/b/digits-mlp/").content.decode()
    assert board.count("identical masks to <a") == 2
    assert 'identical masks to <a href="/m/m1/">m1</a> at 8×</span>' in board
    runs = methods[5].submissions.get().runs.all()
    assert selectors.run_mask_twins(runs=runs) == {}


def test_compressions_are_written_as_ranges_of_the_benchmarks(benchmarks):
    of = [1, 2, 4, 8, 16, 32, 64]
    assert selectors.compressions_text([2, 4, 8, 16, 32, 64], of) == "2–64×"
    assert selectors.compressions_text([2, 4, 16], of) == "2–4×, 16×"
    assert selectors.compressions_text([8], of) == "8×"
