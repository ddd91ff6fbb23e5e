"""The fill-in's time to go is honest about its order and its share: a board of the default
track waits only for the after-training fill-in, a later track's for that too, and researchers'
runs waiting on the queue add the runs dispatched between the fill-in's."""

import html
import re

from submissions.models import Run
from tests.factories import make_entry, make_method, make_run, make_submission
from tests.leaderboard.test_leaderboard_provisional import SCORED, builtin, ten_seconds_a_run


def eta(client, url) -> str:
    page = html.unescape(re.sub(r"\s+", " ", client.get(url).content.decode()))
    return page[page.index('id="provisional"'):][:2000]


def test_an_after_training_board_waits_only_for_the_after_training_fill_in(client, benchmarks, settings):
    settings.PRUNEBOARD_FILLIN_SHARE = 0.25
    after, init = benchmarks["digits-mlp"], benchmarks["digits-mlp/init"]
    builtin("random", after, queued=(32, 64))
    method = make_method("global-mag-weight", slug="baseline-global-mag-weight", is_baseline=True)
    submission = make_submission(method)
    for c in SCORED:
        make_run(submission, init, c, 0, status=Run.Status.QUEUED)
    ten_seconds_a_run()
    assert "2 built-in runs left on the cpu queue × 10.0 s" in eta(client, "/b/digits-mlp/")
    # the init board completes after the after-training fill-in: its 6 and the 2 ahead of them
    assert "about 1 min to go (8 built-in runs left on the cpu queue" in eta(client, "/b/digits-mlp/init/")


def test_researchers_runs_waiting_lengthen_the_time_to_go_by_the_share(client, benchmarks, settings):
    settings.PRUNEBOARD_FILLIN_SHARE = 0.25  # one fill-in run in every 4
    bench = benchmarks["digits-mlp"]
    make_entry("Alpha", bench, {c: [0.9] for c in SCORED})
    builtin("random", bench, queued=(16, 32, 64))
    researcher = make_submission(make_method("Beta", slug="beta"))
    for c in (1, *SCORED):
        for seed in (0, 1, 2):
            make_run(researcher, bench, c, seed, status=Run.Status.QUEUED)  # 21 waiting
    ten_seconds_a_run()
    # 3 fill-in runs, and 3 x 3 = 9 of the researchers' 21 dispatched between them: 12 x 10 s
    assert ("about 2 min to go (3 built-in runs left on the cpu queue × 10.0 s, the median finished run "
            "of their benchmark, + 9 researchers' runs dispatched among them at the queue's median "
            "÷ 1 live worker)") in eta(client, "/b/digits-mlp/")
    settings.PRUNEBOARD_FILLIN_SHARE = 0  # no share: every researcher's run goes first
    assert "about 4 min to go (3 built-in runs left on the cpu queue × 10.0 s, the median finished run of their " \
        "benchmark, + 21 researchers' runs" in eta(client, "/b/digits-mlp/")
