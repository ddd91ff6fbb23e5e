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

from evaluator.sandbox.isolation import Limits, bwrap_problem
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
    import sklearn

    sklearn_data = [str(Path(sklearn.__file__).parent / "datasets" / "data")]
    result = attack(tmp_path, state, calibration, f"""
        def attack(self):
            found = []
            for path in [{str(ROOT / "var")!r}, {str(ROOT / "data")!r}, {str(ROOT / "weights")!r},
                         {str(ROOT / "pruneboard" / "settings.py")!r}]:
                if os.path.exists(path):
                    found.append(path)
            try:
                import sklearn
                data = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data")
                found += [f for f in os.listdir(data)]
            except ImportError:
                pass
            for data in {sklearn_data!r}:
                if os.path.exists(data):
                    found += [data] + os.listdir(data)
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
    from evaluator.sandbox.isolation import UidSlot

    with UidSlot() as first, UidSlot() as second:
        assert first.uid != second.uid and first.uid >= 200_000 and second.uid >= 200_000
    with UidSlot() as again:
        assert again.uid == first.uid


def test_without_a_cgroup_the_sandbox_falls_back_to_rlimits_and_says_so(tmp_path, state, calibration, monkeypatch):
    from evaluator.sandbox import cgroups
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
    done = [r for r in results if r is not None]
    # each job takes ~0.8 s: after the fourth (~3.2 s) a fifth could end past 5 s (3.2 + 2 > 5)
    assert 2 <= len(done) <= 4 and all(isinstance(r, Mask) for r in done)
    assert results[len(done):] == [None] * (5 - len(done))  # not started: no masks, no error of the submitter's
    assert sum(o.seconds for o in outcomes) <= 5 + 0.5  # each job started had its whole budget inside the window
    assert time.monotonic() - started < 5 + Limits().startup_seconds


def _server_paths() -> list[str]:
    import os
    import sys
    import tempfile

    paths = {str(ROOT), sys.prefix, sys.base_prefix, os.path.realpath(sys.prefix), tempfile.gettempdir()
             + "/pruneboard-sandbox-"}
    return sorted(p for p in paths if len(p) > 1)


def test_the_child_reads_no_server_path_from_proc_or_any_inherited_descriptor(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        def attack(self):
            wanted, seen, found = %r, [], []
            for path in ["/proc/1/cmdline", "/proc/self/mountinfo", "/proc/self/cmdline", "/proc/1/environ",
                         "/proc/self/maps", "/proc/mounts"]:
                try:
                    seen.append((path, open(path, "rb").read()))
                except OSError as exc:
                    found.append(f"{path}: {type(exc).__name__}")
            for fd in range(256):
                for read in (lambda: os.pread(fd, 1 << 20, 0), lambda: os.read(fd, 1 << 20)):
                    try:
                        os.set_blocking(fd, False)
                        seen.append((f"fd {fd}", read()))
                    except OSError:
                        pass
            for where, data in seen:
                found += [f"{path} in {where}" for path in wanted if path.encode() in data]
            raise RuntimeError(f"found={found}")
    """ % _server_paths())
    assert "found=[" in result.message
    assert " in " not in result.message, result.message  # no server path anywhere it could read
    assert "/proc/1/cmdline: FileNotFoundError" in result.message  # no /proc at all


def test_the_child_sees_evaluator_at_a_neutral_path_not_the_checkout(tmp_path, state, calibration):
    result = attack(tmp_path, state, calibration, """
        import evaluator
        def attack(self):
            raise RuntimeError("at " + evaluator.__file__ + " " + str([os.path.exists(p) for p in %r]))
    """ % [str(ROOT / "evaluator"), str(ROOT / "pruneboard")])
    assert "at /opt/pruneboard/evaluator/__init__.py [False, False]" in result.message


def _site_folders():
    """Where another install layout keeps a data set inside a tree the old sandbox bound whole:
    the base prefix's site-packages (a pyenv-virtualenv's venv lives inside its base prefix) and
    Debian's /usr/lib/python3/dist-packages (python3-sklearn)."""
    import sys
    import sysconfig

    base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["purelib"]
    return [pytest.param(base, id="base-prefix-site-packages"),
            pytest.param("/usr/lib/python3/dist-packages", id="debian-usr-dist-packages")]


@pytest.fixture
def planted_digits(request):
    """A fake `sklearn/datasets/data/digits.csv.gz` (with labels) in the given site folder."""
    import os
    import shutil
    import tempfile

    folder = Path(request.param)
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        pytest.skip(f"cannot plant a data set in {folder} here")
    package = Path(tempfile.mkdtemp(prefix="pruneboard_planted_sklearn_", dir=folder))
    try:
        data = package / "datasets" / "data"
        data.mkdir(parents=True)
        (data / "digits.csv.gz").write_text("0,0,5,13,9,1,0,0,label=0\n")
        package.chmod(0o755)
        yield data / "digits.csv.gz"
    finally:
        shutil.rmtree(package)


@pytest.mark.parametrize("planted_digits", _site_folders(), indirect=True)
def test_no_data_set_is_reachable_whatever_the_install_layout(tmp_path, state, calibration, planted_digits):
    from evaluator.sandbox import mounts

    assert not mounts.reachable(str(planted_digits))
    result = attack(tmp_path, state, calibration, f"""
        def attack(self):
            path = {str(planted_digits)!r}
            try:
                raise RuntimeError("read " + open(path).read())
            except OSError as exc:
                raise RuntimeError(f"unreadable: {{type(exc).__name__}}, folder listed: "
                                   f"{{os.path.exists(os.path.dirname(os.path.dirname(os.path.dirname(path))))}}")
    """)
    assert result.message == "RuntimeError: unreadable: FileNotFoundError, folder listed: False"


def test_the_sandbox_is_the_oom_killers_first_choice_and_the_worker_is_not():
    import subprocess

    from evaluator.sandbox.isolation import resource_limiter

    own = Path("/proc/self/oom_score_adj").read_text().strip()
    limiter = resource_limiter(Limits(), own_uid=False, cpu_total=60)
    child = subprocess.run(["sh", "-c", "cat /proc/self/oom_score_adj"], preexec_fn=limiter,
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "1000"
    assert Path("/proc/self/oom_score_adj").read_text().strip() == own


def test_a_worker_refuses_to_start_with_a_sandbox_memory_limit_above_its_ram(monkeypatch):
    import os

    from pruneboard.celery import check_and_clean_for_sandboxes

    ram_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    monkeypatch.setenv("PRUNEBOARD_SANDBOX_MEMORY_MB", str(2 * ram_mib))
    with pytest.raises(SystemExit, match="is more than this worker can give"):
        check_and_clean_for_sandboxes()


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="makes a memory cgroup")
def test_a_sandbox_memory_limit_above_the_workers_cgroup_limit_is_refused():
    import os
    import subprocess
    import sys

    from evaluator.sandbox import cgroups

    own = cgroups._own_paths()
    if "memory" not in own:
        pytest.skip("no cgroup v1 memory hierarchy here")
    group = cgroups.ROOT / "memory" / own["memory"].lstrip("/") / f"pbtest-worker-{os.getpid()}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(int(1.2 * (1 << 30))))
        script = ("from evaluator.sandbox.hygiene import memory_problem; from evaluator.sandbox.limits import Limits; "
                  "print(memory_problem(Limits(memory_mib=4096))); print(memory_problem(Limits(memory_mib=1024)))")
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                             preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())))
        too_big, fits = out.stdout.strip().splitlines()
        assert too_big.startswith("PRUNEBOARD_SANDBOX_MEMORY_MB=4096 (4 GiB) is more than this worker can give: "
                                  "the worker's cgroup memory limit") and "is 1.20 GiB" in too_big
        assert fits == "None"
    finally:
        group.rmdir()


def test_a_worker_start_removes_only_the_sandbox_leftovers_of_dead_processes(tmp_path):
    import os
    import subprocess

    from evaluator.sandbox import cgroups
    from evaluator.sandbox.hygiene import clean_stale

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"pruneboard-sandbox-{dead.pid}-abc"
    (stale / "inner").mkdir(parents=True)
    live = tmp_path / f"pruneboard-sandbox-{os.getpid()}-def"
    live.mkdir()
    groups = []
    if os.geteuid() == 0 and cgroups.cgroup_problem() is None:
        own = cgroups._own_paths()
        groups = [cgroups.ROOT / "memory" / own["memory"].lstrip("/") / f"pruneboard-{pid}-0"
                  for pid in (dead.pid, os.getpid())]
        for group in groups:
            group.mkdir()
    try:
        removed = clean_stale(tmp=str(tmp_path))
        assert str(stale) in removed and not stale.exists() and live.exists()
        if groups:
            assert str(groups[0]) in removed and not groups[0].exists() and groups[1].exists()
    finally:
        for group in groups:
            if group.exists():
                group.rmdir()


OOM_SCRIPT = """
import sys, torch
from evaluator.models import get_model
from evaluator.sandbox import StrategySource, compute_masks
torch.manual_seed(0)
g = torch.Generator().manual_seed(0)
calibration = {0: (torch.rand(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g))}
[result] = compute_masks(StrategySource(path=__import__("pathlib").Path(sys.argv[1])), model_name="digits_mlp",
                         num_classes=10, state_dict=get_model("digits_mlp").state_dict(),
                         calibration=calibration, jobs=[(1.0, 0)])
print("survived:", getattr(result, "message", result))
"""


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="makes a memory cgroup")
def test_memfds_beyond_the_workers_own_cgroup_get_the_child_killed_not_the_worker(tmp_path):
    """Issue 19, case 7: the worker's group (1.2 GiB) is smaller than the sandbox's limit
    (4 GiB, which a worker now refuses at start; forced here), and the strategy fills memfds,
    which are nobody's RSS. The OOM killer must take the sandbox, never the worker."""
    import os
    import subprocess
    import sys

    from evaluator.sandbox import cgroups

    own = cgroups._own_paths()
    if "memory" not in own or cgroups.cgroup_problem() is not None:
        pytest.skip("no cgroup v1 memory hierarchy here")
    group = cgroups.ROOT / "memory" / own["memory"].lstrip("/") / f"pbtest-oom-{os.getpid()}"
    group.mkdir()
    path = tmp_path / "hoard.py"
    path.write_text(HEADER + """
def attack(self):
    held, block = [], b"x" * (16 << 20)
    for i in range(24):
        fd = os.memfd_create(f"hoard-{i}")
        for _ in range(4):
            os.write(fd, block)
        held.append(fd)
""")
    try:
        limit = str(int(1.2 * (1 << 30)))
        (group / "memory.limit_in_bytes").write_text(limit)
        if (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(limit)
        env = {**os.environ, "PRUNEBOARD_SANDBOX_MEMORY_MB": "4096", "PRUNEBOARD_SANDBOX_TIMEOUT": "60"}
        out = subprocess.run([sys.executable, "-c", OOM_SCRIPT, str(path)], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300,
                             preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())))
        assert out.returncode == 0, out.stderr[-2000:]  # the worker lived (it was killed with 137)
        assert "survived: the strategy" in out.stdout
        assert "ran out of memory" in out.stdout or "SIGKILL" in out.stdout, out.stdout
    finally:  # a worker killed by the OOM killer leaves its sandbox's group inside this one
        for folder in [*[p for p in group.iterdir() if p.is_dir()], group]:
            cgroups.Cgroup({"memory": folder}, 1).remove()
