"""`import-weights`: ShrinkBench's published CIFAR ResNets, pinned and converted (test data only)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evaluator.benchmarks import get_benchmark
from evaluator.metrics import model_metrics
from evaluator.models import get_model
from evaluator.pruning import GlobalMagWeight, LayerMagWeight, Mask
from evaluator.published import PUBLISHED, import_weights
from evaluator.weights import WeightsError, verified_weights

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "shrinkbench-models" / "cifar10"
pytestmark = pytest.mark.skipif(not (DATA / "resnet20.th").is_file(), reason=f"no test data at {DATA}")


@pytest.fixture(scope="module")
def resnet20(tmp_path_factory):
    out = tmp_path_factory.mktemp("weights")
    path, digest = import_weights("cifar10-resnet20", DATA / "resnet20.th", out)
    return out, path, digest


def test_the_imported_resnet20_has_shrinkbenchs_parameter_and_mac_counts(resnet20, monkeypatch):
    out, path, digest = resnet20
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(out))
    state, sha = verified_weights(get_benchmark("cifar10-resnet20"))
    assert sha == digest and "fc.weight" in state and not any(k.startswith("module.") for k in state)
    model = get_model("cifar_resnet20")
    model.load_state_dict(state)
    metrics = model_metrics(model, torch.zeros(3, 32, 32))
    assert (metrics.size, metrics.flops) == (269_722, 40_551_040)
    raw = torch.load(DATA / "resnet20.th", map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(state["fc.weight"], raw["module.linear.weight"])


def test_layerwise_magnitude_at_4x_gives_a_higher_speedup_than_global_on_these_weights(resnet20, monkeypatch):
    # ShrinkBench's Figure 1 finding (Blalock et al. 2020): at equal compression, layerwise
    # magnitude pruning gives more theoretical speedup than global magnitude pruning.
    monkeypatch.setenv("PRUNEBOARD_WEIGHTS_DIR", str(resnet20[0]))
    state, _ = verified_weights(get_benchmark("cifar10-resnet20"))
    speedups = {}
    for cls in (GlobalMagWeight, LayerMagWeight):
        model = get_model("cifar_resnet20")
        model.load_state_dict(state)
        mask = Mask.from_strategy_output(model, cls(model, compression=4).model_masks())
        speedups[cls.__name__] = model_metrics(model, torch.zeros(3, 32, 32), mask.to_torch()).speedup
    assert speedups["LayerMagWeight"] > speedups["GlobalMagWeight"], speedups


def test_a_file_with_another_hash_is_refused_with_both_hashes_named(tmp_path):
    copy = tmp_path / "resnet20.th"
    shutil.copy(DATA / "resnet20.th", copy)
    with open(copy, "ab") as f:
        f.write(b"\0")
    with pytest.raises(WeightsError, match=PUBLISHED["cifar10-resnet20"].sha256) as error:
        import_weights("cifar10-resnet20", copy, tmp_path)
    assert "has SHA-256 " in str(error.value) and not (tmp_path / "cifar10-resnet20.safetensors").exists()
    with pytest.raises(WeightsError, match="pins the published resnet56.th"):
        import_weights("cifar10-resnet56", DATA / "resnet20.th", tmp_path)


def test_the_cli_imports_resnet56_and_names_the_pinned_benchmarks_for_an_unknown_one(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "evaluator", "import-weights", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    done = cli("cifar10-resnet56", str(DATA / "resnet56.th"), "--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cifar10-resnet56.safetensors").is_file()
    assert "imported from JJGO/shrinkbench-models" in (tmp_path / "cifar10-resnet56.sha256").read_text()
    unknown = cli("digits-mlp", str(DATA / "resnet56.th"), "--out-dir", str(tmp_path))
    assert unknown.returncode == 2 and "pinned: cifar10-resnet20, cifar10-resnet56" in unknown.stderr
