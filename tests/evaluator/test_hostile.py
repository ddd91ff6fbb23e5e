"""The hostile suite, the sandbox's insides: attacks checked directly against `compute_masks`
(what they must not change in the parent), budgets per job, uid slots and the cgroup fallback.
The attacks on the way back, end to end through the CLI and the worker, are in
tests/hostile_cases.py. Each must fail cleanly with a clear message (or, where the attack is
silent, return masks having changed nothing), and leave every file outside the sandbox as it was."""

import socket
import time
import textwrap
from pathlib import Path

import pytest
import torch

from evaluator.isolation import Limits, bwrap_problem
from evaluator.models import get_model
from evaluator.pruning import Mask
from evaluator.sandbox import StrategySource, compute_masks

ROOT = Path(__file__).resolve().parents[2]
MODEL = "digits_mlp"
pytestmark = pytest.mark.skipif(bwrap_problem() is not None and __import__("os").environ.get("CI") != "true",
                                reason=f"bubblewrap cannot run here: {bwrap_problem()}")

HEADER = """
import os, sys, time
import numpy as np
from evaluator.pruning import Pruning


def keep_all(model):
    return {n: np.ones(p.shape) for n, p in model.named_parameters() if n.endswith("weight")}


class Hostile(Pruning):
    def model_masks(self):
        attack(self)
        return keep_all(self.model)

"""


@pytest.fixture(scope="module")
def state():
    torch.manual_seed(0)
    return get_model(MODEL).state_dict()


@pytest.fixture(scope="module")
def calibration():
    g = torch.Generator().manual_seed(0)
    return {0: (torch.rand(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g))}


def attack(tmp_path, state, calibration, body, limits=Limits(wall_seconds=60)):
    path = tmp_path / "hostile.py"
    path.write_text(HEADER + textwrap.dedent(body))
    [result] = compute_masks(StrategySource(path=path), model_name=MODEL, num_classes=10,
                             state_dict=state, calibration=calibration, jobs=[(1.0, 0)], limits=limits)
    return result


def test_it_cannot_reach_a_server_on_localhost_nor_an_outside_address(tmp_path, state, calibration):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    result = attack(tmp_path, state, calibration, f"""
        import socket
        def attack(self):
            outcomes = []
            for address in [("127.0.0.1", {port}), ("8.8.8.8", 53), ("pypi.org", 443)]:
                try:
                    socket.create_connection(address, timeout=3)
                    outcomes.append(f"connected to {{address}}")
                except OSError as exc:
                    outcomes.append(f"{{address[0]}}: {{type(exc).__name__}}")
            raise RuntimeError("; ".join(outcomes))
    """)
    with pytest.raises(TimeoutError):
        server.accept()  # nothing ever knocked
    server.close()
    assert "connected" not in result.message
    assert "127.0.0.1: ConnectionRefusedError" in result.message or "127.0.0.1: OSError" in result.message
    assert "8.8.8.8: OSError" in result.message and "pypi.org: gaierror" in result.message


def test_it_cannot_write_outside_its_scratch_folder(tmp_path, state, calibration):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("untouched")
    evaluator_init = (ROOT / "evaluator" / "__init__.py").read_bytes()
    result = attack(tmp_path, state, calibration, f"""
        def attack(self):
            outcomes = []
            for target in [{str(sentinel)!r}, {str(ROOT / "evaluator" / "__init__.py")!r},
                           {str(ROOT / "weights" / "digits-mlp.safetensors")!r}, "/usr/lib/x", "/etc/passwd"]:
                try:
                    with open(target, "w") as f:
                        f.write("pwned")
                    outcomes.append("wrote " + target)
                except OSError as exc:
                    outcomes.append(type(exc).__name__)
            raise RuntimeError(outcomes)
    """)
    assert "wrote" not in result.message, result.message
    assert sentinel.read_text() == "untouched"
    assert (ROOT / "evaluator" / "__init__.py").read_bytes() == evaluator_init


def test_it_cannot_read_the_test_split_or_the_database_from_disk(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, f"""
        def attack(self):
            found = []
            for path in [{str(ROOT / "var")!r}, {str(ROOT / "data")!r}, {str(ROOT / "weights")!r},
                         {str(ROOT / "pruneboard" / "settings.py")!r}]:
                if os.path.exists(path):
                    found.append(path)
            import sklearn, importlib
            data = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data")
            found += [f for f in os.listdir(data)]
            try:
                from sklearn.datasets import load_digits
                load_digits()
                found.append("load_digits")
            except Exception:
                pass
            try:
                import mnist1d.data
                found.append("mnist1d")
            except ImportError:
                pass
            try:
                from evaluator.datasets import get_dataset
                get_dataset("digits")
                found.append("get_dataset")
            except Exception:
                pass
            raise RuntimeError(f"found={{found}}")
    """)
    assert "found=[]" in result.message, result.message


def test_monkeypatching_torch_or_the_evaluator_has_no_effect_on_the_parent(tmp_path, state, calibration):
    import evaluator.metrics
    before = (torch.nn.functional.cross_entropy, evaluator.metrics.model_metrics, torch.Tensor.sum)
    result = attack(tmp_path, state, calibration, """
        import torch, evaluator.metrics, evaluator.runner
        def attack(self):
            torch.nn.functional.cross_entropy = lambda *a, **k: torch.tensor(0.0)
            torch.Tensor.sum = lambda self, *a, **k: 0
            evaluator.metrics.model_metrics = lambda *a, **k: None
            evaluator.runner.COMPRESSION_TOLERANCE = 1e9
    """)
    assert isinstance(result, Mask)
    import evaluator.runner
    assert (torch.nn.functional.cross_entropy, evaluator.metrics.model_metrics, torch.Tensor.sum) == before
    assert evaluator.runner.COMPRESSION_TOLERANCE == 0.01


def test_a_strategy_that_takes_most_of_the_time_limit_and_then_succeeds_is_accepted(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            time.sleep(7)
    """, limits=Limits(wall_seconds=15))
    assert isinstance(result, Mask) and result.kept() == result.total()


def test_a_slow_job_fails_alone_and_the_jobs_after_it_fail_at_once_with_its_message(tmp_path, state, calibration):
    path = tmp_path / "slow.py"
    path.write_text(HEADER.replace("attack(self)", "attack(self) if self.compression == 4 else None") + """
def attack(self):
    time.sleep(600)
""")
    started = time.monotonic()
    results = compute_masks(StrategySource(path=path), model_name=MODEL, num_classes=10, state_dict=state,
                            calibration=calibration, jobs=[(2.0, 0), (4.0, 0), (8.0, 0)],
                            limits=Limits(wall_seconds=5))
    assert isinstance(results[0], Mask)  # sent before the slow job: kept
    assert results[1] is results[2] and results[1].limit == "time"
    assert results[1].message == ("the strategy did not finish within the time limit (5 s a job) "
                                  "(at compression 4, seed 0; the 1 jobs after it were not run)")
    assert time.monotonic() - started < 40  # one budget waited out, not two


def test_a_file_that_never_finishes_loading_hits_the_start_up_limit(tmp_path, state, calibration):
    path = tmp_path / "loops.py"
    path.write_text(HEADER + "\nwhile True:\n    time.sleep(0.1)\n")
    [result] = compute_masks(StrategySource(path=path), model_name=MODEL, num_classes=10, state_dict=state,
                             calibration=calibration, jobs=[(2.0, 0)],
                             limits=Limits(wall_seconds=60, startup_seconds=8))
    assert result.limit == "time" and "did not load within the start-up limit (8 s" in result.message


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="uid slots are for root workers")
def test_concurrent_sandboxes_get_uids_of_their_own_and_give_them_back():
    from evaluator.isolation import UidSlot

    with UidSlot() as first, UidSlot() as second:
        assert first.uid != second.uid and first.uid >= 200_000 and second.uid >= 200_000
    with UidSlot() as again:
        assert again.uid == first.uid


def test_without_a_cgroup_the_sandbox_falls_back_to_rlimits_and_says_so(tmp_path, state, calibration, monkeypatch):
    from evaluator import cgroups
    from evaluator.sandbox import limits_report

    monkeypatch.setenv("PRUNEBOARD_SANDBOX_CGROUP", "off")
    cgroups.cgroup_problem.cache_clear()
    try:
        assert "no cgroup can be made here (PRUNEBOARD_SANDBOX_CGROUP=off)" in limits_report()
        result = attack(tmp_path, state, calibration, """
            def attack(self):
                pass
        """)
        assert isinstance(result, Mask)
    finally:
        cgroups.cgroup_problem.cache_clear()


def test_each_job_carries_its_own_mask_seconds_not_the_batchs_average(tmp_path, state, calibration):
    from evaluator.sandbox import compute_jobs

    path = tmp_path / "slow.py"
    path.write_text(HEADER.replace("attack(self)", "attack(self) if self.compression == 4 else None") + """
def attack(self):
    time.sleep(1.5)
""")
    outcomes = compute_jobs(StrategySource(path=path), model_name=MODEL, num_classes=10, state_dict=state,
                            calibration=calibration, jobs=[(2.0, 0), (4.0, 0), (8.0, 0)],
                            limits=Limits(wall_seconds=30))
    fast, slow, after = (o.seconds for o in outcomes)
    assert all(isinstance(o.result, Mask) for o in outcomes)
    assert 1.5 <= slow < 3.0 and fast < 1.0 and after < 1.0


def test_a_batch_starts_no_job_whose_budget_would_end_past_its_window(tmp_path, state, calibration):
    from evaluator.sandbox import compute_jobs

    path = tmp_path / "steady.py"
    path.write_text(HEADER + """
def attack(self):
    time.sleep(0.8)
""")
    started = time.monotonic()
    outcomes = compute_jobs(StrategySource(path=path), model_name=MODEL, num_classes=10, state_dict=state,
                            calibration=calibration, jobs=[(c, 0) for c in (2.0, 4.0, 8.0, 16.0, 32.0)],
                            limits=Limits(wall_seconds=2), window=5)
    results = [o.result for o in outcomes]
    # job 0 ends at ~0.8 s, job 1 at ~1.6, job 2 at ~2.4: a fourth could end past 5 s (2.4 + 2 < 5, 3.2 + 2 > 5)
    assert [isinstance(r, Mask) for r in results] == [True, True, True, True, False]
    assert results[4] is None  # not started: neither masks nor an error of the submitter's
    assert time.monotonic() - started < 5 + Limits().startup_seconds
