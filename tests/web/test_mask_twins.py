"""Runs whose masks equal another listed method's (same benchmark, compression, seed and masks
SHA-256) are named on the board, the method page and the status page."""

import pytest

from leaderboard import selectors

from .factories import make_method, make_run, make_submission

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
    assert found == {snip.pk: [{"method": "global-mag-grad", "slug": "global-mag-grad", "runs": 14, "of": 14}],
                     gmg.pk: [{"method": "SNIP", "slug": "snip", "runs": 14, "of": 14}]}


def test_the_board_says_so_and_the_tie_goes_to_the_method_made_first(client, twins):
    response = client.get("/b/digits-mlp/")
    rows = response.context["ranking"]
    assert [(r["method"], r["score"]) for r in rows[:2]] == [("global-mag-grad", pytest.approx(0.8)),
                                                            ("SNIP", pytest.approx(0.8))]
    html = response.content.decode()
    assert 'masks identical to <a href="/m/global-mag-grad/">global-mag-grad</a>' in html
    assert "ties go\n  to the method created first on the site" in html
    assert "a method that duplicates an earlier\n  one's masks ties with it and is ranked right after it" in html


def test_the_method_page_and_the_status_page_name_the_twin(client, alice, twins):
    page = client.get("/m/snip/").content.decode()
    assert 'Masks identical to <a href="/m/global-mag-grad/">global-mag-grad</a> on 14 of 14 runs shown here' in page
    assert "Masks identical to" not in client.get("/m/other/").content.decode()
    client.force_login(alice)
    status = client.get(twins["SNIP"][1].get_absolute_url()).content.decode()
    assert 'Masks identical to <a href="/m/global-mag-grad/">global-mag-grad</a> on 14 of 14 runs' in status
    body = client.get(f"/api/submissions/{twins['SNIP'][1].pk}/").json()
    assert body["masks_identical_to"] == [{"method": "global-mag-grad", "slug": "global-mag-grad", "runs": 14}]


def test_only_the_same_compression_and_seed_and_only_listed_methods_count(alice, bob, benchmarks):
    bench = benchmarks["digits-mlp"]
    mine, theirs, private = (make_method(n, owner=o, is_public=p) for n, o, p in
                             [("Mine", alice, True), ("Theirs", bob, True), ("Private", bob, False)])
    for method, seed in [(mine, 0), (theirs, 1), (private, 0)]:
        make_run(make_submission(method), bench, 2, seed, masks_sha256="ab" * 32)
    assert selectors.benchmark_mask_twins(benchmark=bench) == {}
    run = mine.submissions.get().runs.get()
    assert selectors.run_mask_twins(runs=[run]) == {}
