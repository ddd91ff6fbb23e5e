"""The hostile suite: strategies that attack the sandbox. Each must fail cleanly with a clear
message (or, where the attack is silent, return masks having changed nothing), and leave every
file outside its scratch folder as it was."""

import socket
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


def test_it_cannot_read_secrets_from_the_environment(tmp_path, state, calibration, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:hunter2@db/prod")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s3cret-key")
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            raise RuntimeError(repr(dict(os.environ)))
    """)
    assert "hunter2" not in result.message and "s3cret" not in result.message
    assert "DATABASE_URL" not in result.message and "'PATH'" in result.message


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


def test_it_cannot_fork_without_bound(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            while True:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
    """, limits=Limits(wall_seconds=60, processes=48))
    assert result.limit == "processes"
    assert "tried to start more processes or threads than allowed (limit 48)" in result.message


def test_an_endless_loop_is_stopped_at_the_time_limit(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            while True:
                time.sleep(0.01)
    """, limits=Limits(wall_seconds=6))
    assert result.limit == "time" and "did not finish within the time limit (6 s)" in result.message


def test_a_busy_loop_is_stopped_at_the_cpu_limit(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            while True:
                pass
    """, limits=Limits(wall_seconds=60, cpu_seconds=6))
    assert result.limit == "cpu" and "used more CPU time than allowed (limit 6 CPU seconds)" in result.message


def test_allocating_far_more_memory_than_allowed_is_reported_as_out_of_memory(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            hog = np.ones((1 << 33,), dtype=np.uint8)  # 8 GiB
            hog[::4096] = 2
    """, limits=Limits(wall_seconds=60, memory_mib=6144))
    assert result.limit == "memory" and "ran out of memory (limit 6 GiB)" in result.message


def test_a_segfault_in_the_strategy_is_reported_as_a_crash(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        import ctypes
        def attack(self):
            ctypes.string_at(0)
    """)
    assert "crashed (killed by signal 11, SIGSEGV)" in result.message


def test_printing_a_hundred_megabytes_hits_the_file_size_limit(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            chunk = "x" * 1_000_000
            for _ in range(100):
                sys.stdout.write(chunk)
    """, limits=Limits(wall_seconds=60, file_mib=16))
    assert result.limit == "file size"
    assert "wrote more than the file size limit (16 MiB" in result.message


def test_sys_exit_before_returning_masks_fails_cleanly(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            sys.exit(0)
    """)
    assert "called sys.exit(0) before returning masks" in result.message


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


def test_the_scratch_folder_is_deleted_afterwards(tmp_path, state, calibration, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            open("leftover.bin", "wb").write(b"x" * 1000)
    """)
    assert isinstance(result, Mask)
    assert not any(p.name.startswith("pruneboard-sandbox-") for p in tmp_path.iterdir())
