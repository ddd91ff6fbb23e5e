"""`python -m evaluator run --reference NAME|all`: the reference methods through the trusted path."""

import pandas as pd

from evaluator.columns import COLUMNS
from evaluator.pruning import REFERENCES


def test_reference_all_runs_every_reference_method_trusted(tmp_path, cli_main):
    out = tmp_path / "runs.csv"
    result = cli_main("run", "--benchmark", "digits-mlp", "--reference", "all", "--compressions", "16",
                      "--seeds", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == COLUMNS
    assert list(frame["strategy"]) == list(REFERENCES)
    assert set(frame["sandbox"]) == {"trusted"}
    assert (frame["compression"] >= 16 * 0.99).all()


def test_a_reference_method_is_found_by_its_class_name_and_an_unknown_one_lists_them(tmp_path, cli_main):
    result = cli_main("run", "--benchmark", "digits-mlp", "--reference", "SynFlow", "--compressions", "64",
                      "--seeds", "0", "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 0, result.stderr
    row = pd.read_csv(tmp_path / "x.csv").iloc[0]
    assert (row["layer_collapse"], row["disconnected"]) == (False, False)
    # SynFlow keeps (almost) only weights on an input-to-output path: its scores also see the
    # biases' paths, so a few weights fed only by a bias survive (64.14x effective for 64.00x).
    assert row["compression"] <= row["effective_compression"] < 1.01 * row["compression"]
    unknown = cli_main("run", "--benchmark", "digits-mlp", "--reference", "magnitude", "--out", str(tmp_path / "y.csv"))
    assert unknown.returncode == 2
    assert "unknown reference method 'magnitude'; known: snip, grasp, synflow, lamp, l1-filter" in unknown.stderr
