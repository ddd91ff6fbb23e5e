"""`python -m evaluator` on tracks: `run --track`, `init`, and the errors that name the tracks."""

import textwrap

import pandas as pd

from evaluator.benchmarks import get_benchmark

from .test_cli import cli

STRATEGY = textwrap.dedent("""
    import numpy as np
    from evaluator.pruning import LayerPruning, VisionPruning, fraction_mask

    class LayerMagnitude(LayerPruning, VisionPruning):
        def layer_masks(self, module):
            w = self.module_params(module)["weight"]
            return {"weight": fraction_mask(np.abs(w), self.fraction)}
""")


def test_a_strategy_file_runs_unchanged_on_the_init_track(tmp_path):
    strategy, out = tmp_path / "layer_magnitude.py", tmp_path / "runs.csv"
    strategy.write_text(STRATEGY)
    result = cli("run", "--benchmark", "digits-mlp", "--track", "init", "--strategy", str(strategy),
                 "--compressions", "4", "--seeds", "0", "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr
    (row,) = pd.read_csv(out).to_dict("records")
    assert (row["benchmark"], row["track"]) == ("digits-mlp/init", "init")
    assert row["weights_sha256"] == get_benchmark("digits-mlp/init").weights_sha256
    assert row["epochs_run"] == 20 and row["compression"] >= 4 * 0.99


def test_an_unknown_track_lists_the_known_ones(tmp_path):
    result = cli("run", "--benchmark", "digits-mlp", "--track", "late", "--baseline", "all",
                 "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 2
    assert "unknown track 'late'; known: after, init, long" in result.stderr


def test_init_writes_the_pinned_initial_weights(tmp_path):
    result = cli("init", "mnist1d-cnn", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    sha = get_benchmark("mnist1d-cnn/init").weights_sha256
    assert (tmp_path / "mnist1d-cnn.init.sha256").read_text().startswith(sha)
    assert "mnist1d-cnn/long" in cli("benchmarks").stdout
