"""The boundary around strategy files: what crosses it, and the errors a submitter sees."""

import textwrap

import pytest
import torch

from evaluator.sandbox.isolation import Limits
from evaluator.models import get_model
from evaluator.pruning import Mask
from evaluator.sandbox import StrategyError, StrategySource, compute_masks

MODEL = "digits_mlp"


@pytest.fixture(scope="module")
def state():
    torch.manual_seed(0)
    return get_model(MODEL).state_dict()


@pytest.fixture(scope="module")
def calibration():
    g = torch.Generator().manual_seed(0)
    return {0: (torch.rand(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g))}


def strategy_file(tmp_path, body, name="strategy.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return StrategySource(path=path)


def masks_of(source, state, calibration, jobs=((2.0, 0),), **kw):
    return compute_masks(source, model_name=MODEL, num_classes=10, state_dict=state,
                         calibration=calibration, jobs=list(jobs), **kw)


HEADER = """
import numpy as np
from evaluator.pruning import Pruning, LayerPruning, fraction_mask
"""


def test_a_layerwise_strategy_file_returns_valid_masks_for_every_job(tmp_path, state, calibration):
    source = strategy_file(tmp_path, HEADER + """
class Mine(LayerPruning, Pruning):
    def layer_masks(self, module):
        w = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(w), self.fraction)}
""")
    results = masks_of(source, state, calibration, jobs=[(2.0, 0), (8.0, 0)])
    assert [type(r) for r in results] == [Mask, Mask]
    assert results[0].kept() > results[1].kept()


def test_a_baseline_runs_through_the_same_boundary(state, calibration):
    [mask] = masks_of(StrategySource(baseline="random"), state, calibration)
    assert isinstance(mask, Mask) and 0 < mask.kept() < mask.total()


def test_it_says_when_the_file_does_not_import(tmp_path, state, calibration):
    source = strategy_file(tmp_path, "import numpy as np\nfrom nowhere import nothing\n")
    [result] = masks_of(source, state, calibration)
    assert isinstance(result, StrategyError)
    assert "failed to import" in result.message and "nowhere" in result.message
    assert "strategy.py" in result.traceback


def test_it_says_when_the_file_defines_no_strategy(tmp_path, state, calibration):
    [result] = masks_of(strategy_file(tmp_path, "x = 1\n"), state, calibration)
    assert "defines no strategy" in result.message


def test_it_asks_which_class_when_the_file_defines_several(tmp_path, state, calibration):
    body = HEADER + """
class A(Pruning):
    def model_masks(self): return {}
class B(Pruning):
    def model_masks(self): return {}
"""
    [result] = masks_of(strategy_file(tmp_path, body), state, calibration)
    assert "several strategies (A, B)" in result.message


def test_it_reports_the_submitters_own_traceback_when_the_strategy_raises(tmp_path, state, calibration):
    source = strategy_file(tmp_path, HEADER + """
class Broken(Pruning):
    def model_masks(self):
        return helper()

def helper():
    raise ZeroDivisionError("my bug")
""")
    [result] = masks_of(source, state, calibration)
    assert result.message == "ZeroDivisionError: my bug"
    assert "in helper" in result.traceback and "sandbox_child" not in result.traceback
    assert "evaluator/strategy.py" not in result.traceback  # the harness's frames stay out


@pytest.mark.parametrize("bad, expected", [
    ("{}", "missing mask for parameter"),
    ("{**ones, 'layers.99.weight': np.ones(3)}", "unknown parameter 'layers.99.weight'"),
    ("{k: v[:1] for k, v in ones.items()}", "has shape"),
    ("{k: v * 0.5 for k, v in ones.items()}", "other than 0 and 1"),
    ("{k: v * np.nan for k, v in ones.items()}", "NaN"),
])
def test_bad_masks_are_refused_with_the_parameter_named(tmp_path, state, calibration, bad, expected):
    source = strategy_file(tmp_path, HEADER + f"""
class Bad(Pruning):
    def model_masks(self):
        ones = {{name: np.ones(p.shape) for name, p in self.model.named_parameters()
                 if name.endswith("weight")}}
        return {bad}
""")
    [result] = masks_of(source, state, calibration)
    assert isinstance(result, StrategyError)
    assert expected in result.message


def test_sys_exit_before_returning_masks_is_an_error(tmp_path, state, calibration):
    source = strategy_file(tmp_path, HEADER + """
import sys
class Quitter(Pruning):
    def model_masks(self):
        sys.exit(0)
""")
    [result] = masks_of(source, state, calibration)
    assert "called sys.exit(0) before returning masks" in result.message


def test_a_hard_exit_of_the_process_is_an_error(tmp_path, state, calibration):
    source = strategy_file(tmp_path, HEADER + """
import os
class Vanisher(Pruning):
    def model_masks(self):
        print("bye")
        os._exit(0)
""")
    [result] = masks_of(source, state, calibration)
    assert "ended before returning masks" in result.message and "bye" in result.traceback


def test_a_strategy_that_runs_past_the_time_limit_is_killed(tmp_path, state, calibration):
    source = strategy_file(tmp_path, HEADER + """
import time
class Slow(Pruning):
    def model_masks(self):
        time.sleep(60)
""")
    [result] = masks_of(source, state, calibration, limits=Limits(wall_seconds=3))
    assert "did not finish within the time limit (3 s a job)" in result.message and result.limit == "time"


def test_the_parent_environment_does_not_reach_the_child(tmp_path, state, calibration, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://secret")
    monkeypatch.setenv("PRUNEBOARD_SECRET_KEY", "hunter2")
    source = strategy_file(tmp_path, HEADER + """
import os
class Snoop(Pruning):
    def model_masks(self):
        raise RuntimeError(" ".join(sorted(os.environ)) + " " + " ".join(os.environ.values()))
""")
    [result] = masks_of(source, state, calibration)
    assert "DATABASE_URL" not in result.message and "hunter2" not in result.message
    assert "postgres" not in result.message


def test_a_strategy_cannot_change_the_weights_the_parent_scores(tmp_path, state, calibration):
    before = {k: v.clone() for k, v in state.items()}
    source = strategy_file(tmp_path, HEADER + """
import torch
class Tamper(LayerPruning, Pruning):
    def layer_masks(self, module):
        with torch.no_grad():
            module.weight.mul_(100)
        return {"weight": np.ones(module.weight.shape)}
""")
    [mask] = masks_of(source, state, calibration)
    assert isinstance(mask, Mask)
    assert all(torch.equal(before[k], state[k]) for k in state)


def test_a_baseline_in_process_gives_the_same_masks_as_the_same_class_in_the_child(tmp_path, state, calibration):
    source = strategy_file(tmp_path, """
from evaluator.pruning import GlobalMagGrad, RandomPruning

class SameAsRandom(RandomPruning):
    pass
""")
    jobs = [(4.0, 0), (16.0, 0)]
    in_child = masks_of(source, state, calibration, jobs=jobs)
    in_process = masks_of(StrategySource(baseline="random"), state, calibration, jobs=jobs)
    assert [m.sha256() for m in in_child] == [m.sha256() for m in in_process]
