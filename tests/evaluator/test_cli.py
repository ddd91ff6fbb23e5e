"""`python -m evaluator` as other tools call it: exit codes, CSV, JSON, clear errors. The first
test runs it as a process; the others call its `main` in the test's process (`cli_main`, in
conftest.py)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from evaluator.columns import COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "evaluator", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_run_with_a_baseline_writes_one_row_per_run_and_a_table(tmp_path):
    out = tmp_path / "runs.csv"
    result = cli("run", "--benchmark", "digits-mlp", "--baseline", "global-mag-weight",
                 "--compressions", "2,8", "--seeds", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == COLUMNS
    assert sorted(frame["compression_requested"]) == [2.0, 8.0]
    assert "global-mag-weight" in result.stdout and "top-1" in result.stdout
    assert "measured (b64)" in result.stdout and frame["measured_speedup_b64"].notna().all()


def test_the_summary_shows_the_mean_measured_speedup_and_a_dash_for_a_csv_without_it():
    from evaluator.cli import summary_table

    row = {c: None for c in COLUMNS} | {"strategy": "s", "compression_requested": 4.0, "compression": 4.0,
                                        "speedup": 3.9, "pre_top1": 0.5, "top1": 0.9}
    frame = pd.DataFrame([row | {"measured_speedup_b64": 1.01}, row | {"measured_speedup_b64": 1.05}])
    table = summary_table(frame).splitlines()
    assert "measured (b64)" in table[0] and table[2].split()[3:5] == ["3.9", "1.03"]
    old = pd.DataFrame([row | {"measured_speedup_b64": float("nan")}])
    assert summary_table(old).splitlines()[2].split()[4] == "-"


@pytest.mark.sandbox  # the strategy file runs in bubblewrap
def test_run_with_a_strategy_file_that_fails_exits_nonzero_and_writes_no_row(tmp_path, cli_main):
    strategy = tmp_path / "keeps_everything.py"
    strategy.write_text(textwrap.dedent("""
        import numpy as np
        from evaluator.pruning import LayerPruning, Pruning

        class KeepAll(LayerPruning, Pruning):
            def layer_masks(self, module):
                return {"weight": np.ones(module.weight.shape)}
    """))
    out = tmp_path / "runs.csv"
    result = cli_main("run", "--benchmark", "digits-mlp", "--strategy", str(strategy),
                      "--compressions", "4", "--seeds", "0", "--out", str(out))
    assert result.returncode == 1
    assert "the masks keep too many weights: requested compression 4x" in result.stderr
    assert not out.exists()


def test_an_unknown_benchmark_lists_the_known_ones(tmp_path, cli_main):
    result = cli_main("run", "--benchmark", "digits-mpl", "--baseline", "all", "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 2
    assert "unknown benchmark 'digits-mpl'; known: cifar10-resnet110" in result.stderr
    assert "digits-mlp" in result.stderr


def test_an_unknown_baseline_lists_the_known_ones(tmp_path, cli_main):
    result = cli_main("run", "--benchmark", "digits-mlp", "--baseline", "magnitude", "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 2 and "known: random, global-mag-weight" in result.stderr
    assert "GlobalMagWeight" in result.stderr and result.stderr.rstrip().endswith("or all")


def test_a_baseline_can_be_named_by_its_class(tmp_path, cli_main):
    out = tmp_path / "runs.csv"
    result = cli_main("run", "--benchmark", "digits-mlp", "--baseline", "LayerMagWeight",
                      "--compressions", "4", "--seeds", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert pd.read_csv(out)["strategy"].tolist() == ["layer-mag-weight"]


def test_a_standard_benchmark_without_weights_says_how_to_produce_them(tmp_path, cli_main):
    result = cli_main("run", "--benchmark", "mnist-lenet", "--baseline", "random",
                      "--data-root", str(tmp_path), "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 2
    assert "no weights for benchmark 'mnist-lenet'" in result.stderr
    assert "python -m evaluator pretrain mnist-lenet" in result.stderr


def test_pretrain_without_the_data_names_the_path_and_layout(tmp_path, cli_main):
    result = cli_main("pretrain", "cifar10-resnet20", "--data-root", str(tmp_path), "--out-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path}/cifar-10-batches-py" in result.stderr and "data_batch_1" in result.stderr


def test_metrics_prints_one_json_object_for_a_dense_model(cli_main):
    result = cli_main("metrics", "--model", "cifar_resnet20", "--json")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert set(values) == {"size", "size_nz", "compression", "flops", "flops_nz", "speedup",
                           "memory", "memory_nz"}
    # ResNet-20 for CIFAR: 0.27 M parameters and about 41 M multiply-accumulates.
    assert values["size"] == 269_722 and 40e6 < values["flops"] < 42e6
    assert values["compression"] == 1.0 and values["speedup"] == 1.0


def test_metrics_takes_another_input_shape(cli_main):
    small = json.loads(cli_main("metrics", "--model", "resnet18", "--input", "3,64,64", "--json").stdout)
    large = json.loads(cli_main("metrics", "--model", "resnet18", "--input", "3,128,128", "--json").stdout)
    assert large["flops"] == pytest.approx(4 * small["flops"], rel=0.01)


def test_metrics_refuses_a_malformed_shape(cli_main):
    result = cli_main("metrics", "--model", "resnet18", "--input", "3,x", "--json")
    assert result.returncode == 2 and "expected a shape like 3,32,32" in result.stderr


def test_benchmarks_lists_embedded_and_standard_ones(cli_main):
    result = cli_main("benchmarks")
    assert result.returncode == 0
    for name in ("digits-mlp", "digits-cnn", "mnist1d-cnn", "cifar10-resnet20", "cifar10-resnet56",
                 "cifar10-resnet110", "cifar10-vgg", "mnist-lenet", "imagenet-resnet18"):
        assert name in result.stdout
