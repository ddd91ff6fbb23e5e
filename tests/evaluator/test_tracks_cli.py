"""`python -m evaluator` on tracks: `run --track`, `init`, and the errors that name the tracks."""

import textwrap

from evaluator.benchmarks import get_benchmark

KEEPS_EVERYTHING = textwrap.dedent("""
    import numpy as np
    from evaluator.pruning import LayerPruning, Pruning

    class KeepAll(LayerPruning, Pruning):
        def layer_masks(self, module):
            return {"weight": np.ones(module.weight.shape)}
""")


def test_a_strategy_file_runs_on_the_init_track_through_the_cli(tmp_path, cli_main):
    # The file's masks are computed in its sandbox from the init track's weights, then judged: a
    # strategy that keeps everything fails before any training (a successful run on the track is
    # tested in-process in test_tracks.py and through the worker in tests/leaderboard/test_tracks.py).
    strategy, out = tmp_path / "keeps_everything.py", tmp_path / "runs.csv"
    strategy.write_text(KEEPS_EVERYTHING)
    result = cli_main("run", "--benchmark", "digits-mlp", "--track", "init", "--strategy", str(strategy),
                      "--compressions", "4", "--seeds", "0", "--out", str(out))
    assert result.returncode == 1
    assert "the masks keep too many weights: requested compression 4x" in result.stderr
    assert not out.exists()


def test_an_unknown_track_lists_the_known_ones(tmp_path, cli_main):
    result = cli_main("run", "--benchmark", "digits-mlp", "--track", "late", "--baseline", "all",
                      "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 2
    assert "unknown track 'late'; known: after, init, long, structured, nm24" in result.stderr


def test_init_writes_the_pinned_initial_weights(tmp_path, cli_main):
    result = cli_main("init", "mnist1d-cnn", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    sha = get_benchmark("mnist1d-cnn/init").weights_sha256
    assert (tmp_path / "mnist1d-cnn.init.sha256").read_text().startswith(sha)
