"""The hostile suite's uploads: every attack on the sandbox boundary, in both directions.

Each case is a strategy file and what the submitter must be told. Every case runs end to end
through the worker's Celery task (`tests/submissions/test_hostile_worker.py`), the path an upload
takes; the CLI (`tests/evaluator/test_hostile_cli.py`) runs `CLI_CASES`, one of each way the same
sandbox ends (see there); `tests/evaluator/test_hostile.py` holds the cases that check the
sandbox's insides directly. Every case must: fail as the submitter's error with a
message under 2 KB that says what happened (or succeed where the attack is silent); show no
host file's content anywhere; keep the worker's memory within budget; leave nothing on the host.

`{secret}` in a body is the host path of a file holding `{token}`; the test fills both in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

HEADER = '''
import os, sys, time, json, signal
import numpy as np
from evaluator.pruning import GlobalMagWeight


def send(data):
    view = memoryview(data)
    while view:
        view = view[os.write(int(sys.argv[2]), view):]


class Hostile(GlobalMagWeight):
    def model_masks(self):
        attack(self)
        return super().model_masks()

'''

TOKEN = f"sekrit-{__import__('uuid').uuid4().hex}"  # in a host file and the worker's environment
WORKER_RSS_BUDGET_MB = 256  # how much a warmed-up worker's peak RSS may grow in one hostile run
MESSAGE_BYTES = 2048


@dataclass(frozen=True)
class Case:
    id: str
    body: str  # defines attack(self)
    expect: str = ""  # in the failure message; "" = the run succeeds
    limit: str = ""  # the limit the parent must record
    settings: dict = field(default_factory=dict)  # PRUNEBOARD_SANDBOX_* for this case
    root_only: bool = False  # needs a root worker (uid slots, cgroups)
    compressions: tuple = (2,)  # the CLI's jobs (seed 0); the worker's batch is the benchmark's 21

    def source(self, secret: Path, token: str) -> str:
        body = textwrap.dedent(self.body).replace("{secret}", str(secret)).replace("{token}", token)
        return HEADER + body


def _links(target: str) -> str:
    """Replace every file the old boundary read with a symlink to `target`, then die."""
    return f'''
        def attack(self):
            for name in ["output.log", "error.json", "error-0.json", "masks-0.npz", "job.json"]:
                for folder in [os.getcwd(), "/scratch", "/tmp", "/input"]:
                    try:
                        os.symlink({target!r}, os.path.join(folder, name))
                    except OSError:
                        pass
            os._exit(1)
    '''


CASES = [
    # Links and special files where the old parent read the child's output
    Case("symlink-to-host-file", _links("{secret}"), "exited with status 1"),
    Case("symlink-to-proc-environ", _links("/proc/self/environ"), "exited with status 1"),
    Case("symlink-to-dev-zero", _links("/dev/zero"), "exited with status 1"),
    Case("fifo-in-place-of-outputs", '''
        def attack(self):
            for name in ["output.log", "error.json", "error-0.json", "masks-0.npz"]:
                os.mkfifo(name)
            os._exit(1)
    ''', "exited with status 1"),
    Case("deflate-bomb-left-as-a-file", '''
        import zipfile
        def attack(self):
            with zipfile.ZipFile("masks-0.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
                with z.open("mask:1.weight.npy", "w", force_zip64=True) as f:
                    zero = bytes(1 << 24)
                    for _ in range(64):
                        f.write(zero)
            os._exit(0)
    ''', "ended before returning masks"),
    Case("deflate-bomb-sent-as-masks", '''
        import zlib
        def attack(self):
            bomb = zlib.compress(bytes(1 << 26), 9)
            send(json.dumps({"kind": "masks", "job": 0, "bytes": 1 << 36}).encode() + b"\\n" + bomb)
            time.sleep(30)
    ''', "sent 68.7 GB of masks; masks for this model are 37.5 KB"),
    Case("endless-bytes-on-the-channel", '''
        def attack(self):
            zero = bytes(1 << 20)
            while True:
                send(zero)
    ''', "not a message"),
    Case("endless-printing", '''
        def attack(self):
            line = "x" * 1_000_000
            while True:
                sys.stdout.write(line)
    ''', "did not finish within the time limit (4 s a job)", "time",
         {"PRUNEBOARD_SANDBOX_TIMEOUT": "4"}),
    # Scratch space
    Case("tree-3000-deep-in-scratch", '''
        def attack(self):
            for root in ["/scratch", "/tmp"]:
                os.chdir(root)
                for _ in range(3000):
                    os.mkdir("d")
                    os.chdir("d")
            os.chdir("/scratch")
    '''),
    Case("ten-files-of-60-mb", '''
        def attack(self):
            block = b"x" * (60 << 20)
            for i in range(10):
                with open(f"/scratch/big-{i}", "wb") as f:
                    f.write(block)
    ''', "No space left on device"),
    Case("filling-tmp", '''
        def attack(self):
            block = b"x" * (1 << 20)
            with open("/tmp/fill", "wb") as f:
                while True:
                    f.write(block)
                    f.flush()
    ''', "No space left on device", settings={"PRUNEBOARD_SANDBOX_FILE_MB": "4096"}),
    Case("scratch-counts-toward-memory", '''
        def attack(self):
            block = b"x" * (16 << 20)
            with open("/scratch/fill", "wb") as f:
                for _ in range(128):
                    f.write(block)
                    f.flush()
    ''', "ran out of memory (limit 1 GiB", "memory",
         {"PRUNEBOARD_SANDBOX_MEMORY_MB": "1024", "PRUNEBOARD_SANDBOX_SCRATCH_MB": "4096",
          "PRUNEBOARD_SANDBOX_FILE_MB": "4096"}, root_only=True),
    Case("memfds-count-toward-memory", '''
        def attack(self):
            held, block = [], b"x" * (16 << 20)
            for i in range(24):  # 1.5 GiB in memfds of 64 MiB, each under the file limit: nobody's RSS
                fd = os.memfd_create(f"hoard-{i}")
                for _ in range(4):
                    os.write(fd, block)
                held.append(fd)
    ''', "ran out of memory (limit 1 GiB", "memory", {"PRUNEBOARD_SANDBOX_MEMORY_MB": "1024"}, root_only=True),
    # Reports
    Case("eight-megabyte-exception", '''
        def attack(self):
            raise RuntimeError("A" * (8 << 20))
    ''', "RuntimeError: AAAA"),
    Case("eight-megabyte-report-on-the-channel", '''
        def attack(self):
            report = json.dumps({"message": "B" * (8 << 20), "traceback": "C" * (8 << 20)}).encode()
            send(json.dumps({"kind": "error", "job": 0, "bytes": len(report)}).encode() + b"\\n" + report)
            time.sleep(30)
    ''', "sent an error report of 16.8 MB; reports are at most 24.6 KB"),
    Case("malformed-header", '''
        def attack(self):
            send(b"{not json at all\\n")
            time.sleep(30)
    ''', "malformed message header"),
    Case("malformed-report", '''
        def attack(self):
            send(json.dumps({"kind": "error", "job": 0, "bytes": 9}).encode() + b"\\n{{{{{{{{{")
            time.sleep(30)
    ''', "malformed error report"),
    Case("forged-memory-limit-in-a-report", '''
        def attack(self):
            report = json.dumps({"message": "ran out of memory", "traceback": "", "limit": "memory"}).encode()
            send(json.dumps({"kind": "error", "job": 0, "bytes": len(report), "limit": "memory"}).encode()
                 + b"\\n" + report)
            time.sleep(30)
    ''', "ran out of memory", settings={"PRUNEBOARD_SANDBOX_TIMEOUT": "4"}),  # the sleep: the next job's budget
    Case("forged-memory-limit-by-sigkill", '''
        def attack(self):
            os.kill(os.getpid(), signal.SIGKILL)
    ''', "killed by signal 9, SIGKILL"),
    Case("forged-cpu-limit-by-sigxcpu", '''
        def attack(self):
            signal.signal(signal.SIGXCPU, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGXCPU)
    ''', "killed by signal 24, SIGXCPU"),
    Case("two-results-for-one-job", '''
        def attack(self):
            payload = b"\\xff" * 37504
            header = json.dumps({"kind": "masks", "job": 0, "bytes": len(payload)}).encode() + b"\\n"
            send(header + payload + header + payload)
            time.sleep(30)
    ''', "sent two results for job 0"),
    Case("result-for-a-job-that-does-not-exist", '''
        def attack(self):
            send(json.dumps({"kind": "masks", "job": 999, "bytes": 1}).encode() + b"\\n")
            time.sleep(30)
    ''', "sent a message for job '999'; there are"),
    Case("forged-results-for-other-jobs", '''
        import threading
        def attack(self):
            if self.compression != 2 or self.seed != 0:
                return
            jobs = len(json.load(open("/input/job.json"))["jobs"])
            def forge():  # one forged error a budget, for the last job down: each used to restart the clock
                for job in range(jobs - 1, 0, -1):
                    report = json.dumps({"message": "forged", "traceback": ""}).encode()
                    send(json.dumps({"kind": "error", "job": job, "bytes": len(report)}).encode() + b"\\n" + report)
                    time.sleep(2.5)
            threading.Thread(target=forge, daemon=True).start()
            time.sleep(12)
    ''', "while job 0 was being computed; results come in order, one per job",
         settings={"PRUNEBOARD_SANDBOX_TIMEOUT": "3"}, compressions=(2, 4, 8)),
    Case("garbage-on-every-inherited-pipe", '''
        def attack(self):
            for fd in range(3, 256):  # the result channel, and whatever else was inherited (bwrap's status pipe)
                try:
                    os.set_blocking(fd, False)
                    os.write(fd, b'{"child-pid": 1}\\n' + b"x" * 4096)
                except OSError:
                    pass
            time.sleep(30)
    ''', "sent a message of an unknown kind"),
    Case("closed-channel", '''
        def attack(self):
            os.close(int(sys.argv[2]))
    ''', "before returning masks"),
    # Resources
    Case("fork-bomb", '''
        def attack(self):
            while True:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
    ''', "tried to start more processes or threads than allowed (limit 48)", "processes",
         {"PRUNEBOARD_SANDBOX_PROCESSES": "48"}, root_only=True),
    Case("endless-loop", '''
        def attack(self):
            while True:
                time.sleep(0.01)
    ''', "did not finish within the time limit (4 s a job)", "time",
         {"PRUNEBOARD_SANDBOX_TIMEOUT": "4"}),
    Case("busy-loop", '''
        def attack(self):
            while True:
                pass
    ''', "used more CPU time than allowed (limit 4 CPU seconds a job)", "cpu",
         {"PRUNEBOARD_SANDBOX_CPU_SECONDS": "4"}, root_only=True),
    Case("huge-allocation", '''
        def attack(self):
            hog = np.ones((1 << 33,), dtype=np.uint8)
            hog[::4096] = 2
    ''', "ran out of memory (limit 3 GiB", "memory", {"PRUNEBOARD_SANDBOX_MEMORY_MB": "3072"},
         root_only=True),
    Case("segfault", '''
        import ctypes
        def attack(self):
            ctypes.string_at(0)
    ''', "crashed (killed by signal 11, SIGSEGV)"),
    Case("sys-exit", '''
        def attack(self):
            sys.exit(0)
    ''', "called sys.exit(0) before returning masks"),
    # What goes in
    Case("environment-secrets", '''
        def attack(self):
            raise RuntimeError(repr(dict(os.environ)))
    ''', "'PATH'"),
    Case("read-host-files", '''
        def attack(self):
            found = []
            for path in ["{secret}", "/proc/1/environ", "/etc/shadow", "/work", "/root"]:
                try:
                    found.append(open(path).read()[:100])
                except OSError as exc:
                    found.append(type(exc).__name__)
            raise RuntimeError(f"read: {found}")
    ''', "read: ["),
    Case("read-the-parents-command-line-and-mounts", '''
        import base64
        def attack(self):  # base64 would carry a path past the redaction of messages
            found = []
            for path in ["/proc/1/cmdline", "/proc/self/mountinfo"]:
                try:
                    found.append(base64.b64encode(open(path, "rb").read()).decode()[:200])
                except OSError as exc:
                    found.append(type(exc).__name__)
            raise RuntimeError(f"proc: {found}")
    ''', "proc: ['FileNotFoundError', 'FileNotFoundError']"),
    Case("look-for-the-digits-anywhere", '''
        def attack(self):
            found = []
            roots = [p for p in sys.path if p] + ["/usr", "/opt", "/root", "/work", "/srv", "/home"]
            for root in roots:
                for folder, dirs, files in os.walk(root):
                    found += [os.path.join(folder, f) for f in files
                              if f.startswith(("digits", "mnist"))  # data, not code (torch ships mnist.h)
                              and f.endswith((".csv", ".gz", ".npz", ".npy", ".pkl", ".rst", "-ubyte", ".json"))]
            raise RuntimeError(f"digits files: {sorted(set(found))}")
    ''', "digits files: []"),
    Case("write-into-the-inputs", '''
        def attack(self):
            outcomes = []
            for path in ["/input/job.json", "/input/strategy.py", "/input/new"]:
                try:
                    open(path, "w").write("pwned")
                    outcomes.append("wrote " + path)
                except OSError as exc:
                    outcomes.append(type(exc).__name__)
            raise RuntimeError(f"outcomes: {outcomes}")
    ''', "outcomes: ['OSError', 'OSError', 'OSError']"),
    Case("sockets", '''
        import socket
        def attack(self):
            for address in [("127.0.0.1", 8765), ("8.8.8.8", 53)]:
                try:
                    socket.create_connection(address, timeout=3)
                    raise RuntimeError("connected")
                except OSError:
                    pass
            raise RuntimeError("no network")
    ''', "RuntimeError: no network"),
    Case("another-sandbox-users-processes", '''
        def attack(self):
            pass
    ''', "", settings={"PRUNEBOARD_SANDBOX_PROCESSES": "40"}, root_only=True),
]

assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


def host_leftovers() -> set[str]:
    """What this process's sandboxes could leave on the host: their temp folders, their cgroups,
    and processes still in one of those cgroups or running as a sandbox uid (other processes'
    sandboxes, e.g. a parallel test run, are not counted)."""
    import tempfile

    mine = f"pruneboard-{os.getpid()}-"
    found = {f"tmp:{p.name}" for p in Path(tempfile.gettempdir()).iterdir()
             if p.name.startswith((f"pruneboard-sandbox-{os.getpid()}-", f"pruneboard-scratch-{os.getpid()}-"))}
    for controller in ("memory", "pids", "cpuacct"):
        root = Path("/sys/fs/cgroup") / controller
        if root.exists():
            found |= {f"cgroup:{p}" for p in root.rglob(mine + "*") if p.is_dir()}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if mine in Path(f"/proc/{pid}/cgroup").read_text():
                    found.add(f"process:{pid}")
            except OSError:
                continue
    return found


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def another_sandbox_user(count: int = 60):
    """Another user's sandbox, busy: `count` processes under the uid of a slot it holds, and as
    many under uid 65534 (the single uid every sandbox shared before slots)."""
    import subprocess

    from evaluator.sandbox.isolation import UidSlot, processes_of

    with UidSlot() as slot:
        # One shell a uid starts the sleepers (forking this big test process 120 times is slow).
        procs = [subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                                   "sh", "-c", f"for i in $(seq {count}); do sleep 300 & done; wait"],
                                  stdin=subprocess.DEVNULL, start_new_session=True)
                 for uid in (slot.uid, 65534)]
        deadline = time.monotonic() + 30
        while len(processes_of({slot.uid, 65534})) < 2 * count and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            yield slot
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def case_context(case: Case):
    if case.id == "another-sandbox-users-processes":
        return another_sandbox_user()
    return contextlib.nullcontext()


def needs_bwrap():
    """Skip where bubblewrap cannot run, except in CI, where that is a failure."""
    import pytest

    from evaluator.sandbox.isolation import bwrap_problem

    return pytest.mark.skipif(bwrap_problem() is not None and os.environ.get("CI") != "true",
                              reason=f"bubblewrap cannot run here: {bwrap_problem()}")


def secret_fixture():
    """A host file and an environment variable of the worker that no upload may read."""
    import pytest

    @pytest.fixture
    def secret(tmp_path, monkeypatch):
        path = tmp_path / "secret_key"
        path.write_text(TOKEN)
        monkeypatch.setenv("PRUNEBOARD_TEST_SECRET", f"postgres://user:{TOKEN}@db/prod")
        return path

    return secret


# Issue 19's batch attacker (case 1): it answers the first job its sandbox computes (the one its
# run is for) and, for every other job of the batch, sleeps `sleep` seconds, then runs `then`
# (by default it fails, so the sibling's masks are not kept). The worker's tests
# (tests/submissions/test_hostile_worker.py) and benchmarks/batch_abuse.py upload it.
BATCH_ABUSE = '''
import time
from evaluator.pruning import GlobalMagWeight

answered = []


class BatchAbuse(GlobalMagWeight):
    def model_masks(self):
        if not answered:  # the first job of this sandbox: the one its run is for
            answered.append(True)
            return super().model_masks()
        time.sleep({sleep})
        {then}
'''


def batch_abuse(sleep: float, then: str = 'raise RuntimeError("not this one")') -> str:
    """The batch attacker's source: sleep `sleep` s on every sibling job, then `then`."""
    return BATCH_ABUSE.format(sleep=sleep, then=then)


HONEST = HEADER + """
def attack(self):
    pass
"""


def warm_up(tmp_path: Path, run_one) -> None:
    """One honest run first, so that each case's RSS growth is its own, not the first load of
    torch's kernels, the dataset and the finetuning loop (`run_one(path)` runs a file)."""
    path = tmp_path / "honest.py"
    path.write_text(HONEST)
    run_one(path)


# The CLI computes masks with the same sandbox (`evaluator.sandbox.masks_for_jobs`) as the worker,
# which runs every case; what the CLI adds is how it reports the outcome. So it runs one case of
# each way a sandbox ends: each limit (time, CPU, memory, processes), a crash, an early exit, a
# channel flooded or malformed or oversized, results forged for other jobs (its only multi-job
# case), a host secret read through a link and from the environment, and one silent attack.
CLI_CASES = [case for case in CASES if case.id in {
    "symlink-to-host-file", "endless-bytes-on-the-channel", "tree-3000-deep-in-scratch",
    "eight-megabyte-report-on-the-channel", "malformed-report", "forged-results-for-other-jobs",
    "fork-bomb", "endless-loop", "busy-loop", "huge-allocation", "segfault", "sys-exit",
    "environment-secrets"}]
