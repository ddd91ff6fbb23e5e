"""The hostile suite through the CLI: `python -m evaluator run --strategy hostile.py`, one run on
digits-mlp per attack: one of each way the sandbox ends (`CLI_CASES` in tests/hostile_cases.py;
the worker's test runs every case)."""

import os

import pytest

from evaluator.cli import main
from tests.hostile_cases import (CLI_CASES, MESSAGE_BYTES, TOKEN, WORKER_RSS_BUDGET_MB, case_context,
                                 host_leftovers, needs_bwrap, peak_rss_mb, secret_fixture, warm_up)

pytestmark = needs_bwrap()
secret = secret_fixture()


def cli_run(path, out_csv, compressions=(2,)):
    return main(["run", "--benchmark", "digits-mlp", "--strategy", str(path),
                 "--compressions", ",".join(str(c) for c in compressions), "--seeds", "0", "--out", str(out_csv)])


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warm")
    warm_up(folder, lambda path: cli_run(path, folder / "out.csv"))


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_the_cli_fails_each_attack_cleanly_and_keeps_the_host_intact(case, warm, tmp_path, secret, monkeypatch, capsys):
    if case.root_only and os.geteuid() != 0:
        pytest.skip("needs a root worker (uid slots and cgroups)")
    for key, value in case.settings.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "hostile.py"
    path.write_text(case.source(secret, TOKEN))
    out_csv = tmp_path / "out.csv"
    leftovers, rss = host_leftovers(), peak_rss_mb()

    with case_context(case):
        code = cli_run(path, out_csv, case.compressions)
    out, err = capsys.readouterr()

    everything = out + err + (out_csv.read_text() if out_csv.exists() else "")
    assert TOKEN not in everything
    if case.expect:
        assert code == 1, err
        failed, *_ = [line for line in err.splitlines() if line.startswith("FAILED hostile")]
        assert case.expect in failed
        assert len(failed.encode()) < MESSAGE_BYTES + 64
        assert len(err.encode()) < 24_000
    else:
        assert code == 0, err
        assert len(out_csv.read_text().splitlines()) == 2
    assert peak_rss_mb() - rss < WORKER_RSS_BUDGET_MB
    assert host_leftovers() - leftovers == set()
