"""`python -m evaluator replay`: a sweep's CSV row and masks file replay to the identical record;
a tampered figure is named; the wrong masks, another protocol or an ambiguous CSV is a clear error."""

import csv

import pytest

from evaluator import maskfile
from evaluator.benchmarks import get_benchmark
from evaluator.cli import main
from evaluator.columns import write_csv
from evaluator.runner import Context
from evaluator.runner import sweep as runner_sweep
from evaluator.sandbox import StrategySource
from evaluator.sharing import SweepResults


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A sweep on digits-mlp (its whole protocol) by global-mag-weight and layer-mag-weight at 1x
    (one computation, shared) and 2x, as `python -m evaluator run ... --masks-dir` writes it."""
    folder = tmp_path_factory.mktemp("sweep")
    ctx = Context.load(get_benchmark("digits-mlp"), device="cpu")
    sources = [StrategySource(baseline="global-mag-weight"), StrategySource(baseline="layer-mag-weight")]
    records, failures = runner_sweep(ctx, sources, [1.0, 2.0], [0],
                                     results=SweepResults(masks_dir=folder / "masks"))
    assert not failures
    write_csv(records, folder / "runs.csv")
    rows = list(csv.DictReader(open(folder / "runs.csv", newline="")))
    return folder, {(r["strategy"], float(r["compression_requested"])): r for r in rows}


def write(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def masks_of(folder, row):
    return str(folder / "masks" / f"{row['masks_sha256']}.masks")


def test_a_sweeps_row_and_masks_replay_to_identical_figures(sweep, capsys):
    folder, rows = sweep
    row = rows[("global-mag-weight", 2.0)]
    code = main(["replay", "--csv", str(folder / "runs.csv"), "--run-id", row["run_id"],
                 "--masks", masks_of(folder, row)])
    assert code == 0
    assert capsys.readouterr().out.startswith(f"identical: run {row['run_id']} (digits-mlp, global-mag-weight, 2x")


def test_a_shared_row_replays_to_identical_figures_too(sweep, capsys, tmp_path):
    folder, rows = sweep
    row = rows[("layer-mag-weight", 1.0)]
    assert row["shared_with"] == rows[("global-mag-weight", 1.0)]["run_id"]
    assert main(["replay", "--csv", str(write(tmp_path / "one.csv", [row])), "--masks", masks_of(folder, row)]) == 0
    assert "identical" in capsys.readouterr().out


def test_a_tampered_figure_is_named_with_the_old_and_new_value(sweep, capsys, tmp_path):
    folder, rows = sweep
    row = rows[("global-mag-weight", 1.0)]
    tampered = write(tmp_path / "tampered.csv", [{**row, "top1": "0.5"}])
    assert main(["replay", "--csv", str(tampered), "--masks", masks_of(folder, row)]) == 1
    out = capsys.readouterr().out
    assert f"run {row['run_id']} differs on 1 figure(s)" in out
    assert f"top1: 0.5 -> {float(row['top1'])!r}" in out


def test_another_runs_masks_are_refused_before_any_finetuning(sweep, capsys):
    folder, rows = sweep
    row, other = rows[("global-mag-weight", 1.0)], rows[("global-mag-weight", 2.0)]
    code = main(["replay", "--csv", str(folder / "runs.csv"), "--run-id", row["run_id"],
                 "--masks", masks_of(folder, other)])
    assert code == 2
    assert f"the masks file holds masks {other['masks_sha256']}, but the run's masks are " \
           f"{row['masks_sha256']}: not this run's masks file" in capsys.readouterr().err


def test_a_damaged_masks_file_is_refused(sweep, capsys, tmp_path):
    folder, rows = sweep
    row = rows[("global-mag-weight", 2.0)]
    damaged = tmp_path / "damaged.masks"
    damaged.write_bytes(open(masks_of(folder, row), "rb").read()[:-1])
    assert main(["replay", "--csv", str(write(tmp_path / "one.csv", [row])), "--masks", str(damaged)]) == 2
    assert "truncated or padded" in capsys.readouterr().err


def test_a_row_of_another_protocol_is_refused_saying_which(sweep, capsys, tmp_path):
    folder, rows = sweep
    row = {**rows[("global-mag-weight", 2.0)], "protocol_version": "1"}
    assert main(["replay", "--csv", str(write(tmp_path / "old.csv", [row])), "--masks", masks_of(folder, row)]) == 2
    assert "the run was scored under protocol version 1" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--run-id", "nope"], "has no run 'nope' (4 runs in it)"),
    ([], "has 4 runs; name one with --run-id"),
])
def test_a_csv_row_that_cannot_be_found_is_a_clear_error(sweep, capsys, args, message):
    folder, rows = sweep
    row = rows[("global-mag-weight", 2.0)]
    assert main(["replay", "--csv", str(folder / "runs.csv"), *args,
                 "--masks", masks_of(folder, row)]) == 2
    assert message in capsys.readouterr().err


def test_a_csv_without_a_masks_file_is_a_clear_error(sweep, capsys):
    folder, _ = sweep
    assert main(["replay", "--csv", str(folder / "runs.csv")]) == 2
    assert "--masks FILE is needed with --csv" in capsys.readouterr().err


def test_the_sweep_wrote_each_distinct_masks_once(sweep):
    folder, rows = sweep
    assert sorted(p.name for p in (folder / "masks").iterdir()) == \
        sorted({f"{r['masks_sha256']}{maskfile.SUFFIX}" for r in rows.values()})
