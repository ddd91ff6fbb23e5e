"""The parent's watch over a running sandbox child: read its one-way channel with a byte cap,
keep a bounded tail of what it printed, give each job its time and CPU budget, and decide by
itself, from what it saw (its own clock, the cgroup's counters, the exit status and rusage),
whether a limit was hit. Nothing the child claims about limits is believed.

Jobs run one after the other: a job's clock and CPU count start when the job before it answered
(the first's when the file loaded), only the job being computed may answer (the channel refuses
any other), and each job's seconds are its own. With a `window` (a worker's batch), no job is
started whose whole budget could end past it: the jobs left are returned unstarted (None).
"""

from __future__ import annotations

import os
import selectors
import signal
import time
from dataclasses import dataclass, field

from ..pruning import Mask
from .channel import ChannelReader, Layout, ProtocolError
from .errors import StrategyError
from .limits import Limits, describe_limit

OUTPUT_TAIL = 4000  # bytes of the child's printed output kept (the last ones)
EXIT_GRACE_SECONDS = 2.0  # after the child exits, how long its pipes may stay open
POLL_SECONDS = 0.25


@dataclass
class Evidence:
    """Counters the parent reads for itself, at a job's start and after."""

    cpu: float = 0.0
    oom_kills: int = 0
    pids_refused: int = 0

    @classmethod
    def read(cls, cgroup) -> Evidence:
        if cgroup is None:
            return cls()
        return cls(cgroup.cpu_seconds(), cgroup.oom_kills(), cgroup.pids_refused())


@dataclass
class Watch:
    """One child's run: its jobs' results as they arrive, and how it ended."""

    proc: object  # subprocess.Popen
    result_fd: int
    output_fd: int
    jobs: list[tuple[float, int]]
    layout: Layout
    limits: Limits
    cgroup: object = None  # evaluator.sandbox.cgroups.Cgroup
    window: float | None = None  # seconds after 'ready' within which a job may still start; None: no end
    results: list = field(default_factory=list)
    seconds: list = field(default_factory=list)  # per job: from its clock's start to its result, s
    stopped: bool = False  # the window closed: the jobs left were not started (results None)
    output: bytearray = field(default_factory=bytearray)
    rusage: object = None  # the child's resource usage, once reaped (os.wait4)

    def run(self) -> list[Mask | StrategyError]:
        self.results = [None] * len(self.jobs)
        self.seconds = [0.0] * len(self.jobs)
        reader = ChannelReader(self.layout, len(self.jobs))
        failure = self._watch(reader)
        self.ended_at = time.monotonic()
        status, rusage = self._reap()
        if failure is None and None in self.results and not self.stopped:
            failure = self._ended(status, rusage)
        if failure is not None:
            self._fail_rest(failure)
        return self.results

    # The loop
    def _watch(self, reader: ChannelReader) -> StrategyError | None:
        selector = selectors.DefaultSelector()
        for fd in (self.result_fd, self.output_fd):
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        self._start_job(startup=True)
        exited_at = None
        try:
            while selector.get_map() and None in self.results and not self.stopped:
                for key, _ in selector.select(POLL_SECONDS):
                    data = _read(key.fd)
                    if data is None:
                        continue
                    if not data:
                        selector.unregister(key.fd)
                    elif key.fd == self.output_fd:
                        self.output += data
                        del self.output[:-OUTPUT_TAIL]
                    else:
                        try:
                            failure = self._take(reader.feed(data))
                        except ProtocolError as exc:
                            failure = StrategyError(str(exc), self.printed())
                        if failure is not None:
                            return failure
                now = time.monotonic()
                if now > self.deadline:
                    return self._over("time")
                if self.cgroup is not None and self.cgroup.cpu_seconds() - self.base.cpu > self.cpu_budget:
                    return self._over("cpu")
                if exited_at is None and self._exited(os.WNOHANG):
                    exited_at = now
                if exited_at is not None and now - exited_at > EXIT_GRACE_SECONDS:
                    return None  # something the child left holds its pipes open: stop reading
            return None
        finally:
            selector.close()

    def _start_job(self, startup: bool = False) -> None:
        """Start a job's clock and CPU count; before 'ready', the start-up budget's."""
        self.starting = startup
        seconds = self.limits.startup_seconds
        self.started_at = time.monotonic()
        if startup:
            self.ready_at = None
        elif self.ready_at is None:
            self.ready_at = self.started_at
        self.deadline = self.started_at + (seconds if startup else self.limits.wall_seconds)
        self.cpu_budget = 2 * seconds if startup else self.limits.cpu_seconds
        self.base = Evidence.read(self.cgroup)

    def _over(self, kind: str) -> StrategyError:
        if self.starting:
            message = (f"the strategy file did not load within the start-up limit "
                       f"({self.limits.startup_seconds:g} s, {2 * self.limits.startup_seconds:g} CPU seconds)")
        else:
            message = f"the strategy {describe_limit(kind, self.limits)}"
        return StrategyError(message, self.printed(), limit=kind)

    def _take(self, messages: list[tuple]) -> StrategyError | None:
        """Results, which the reader accepts only for the job being computed, in order: each
        job's clock starts when the one before it answered, and no message restarts another's."""
        for kind, job, value in messages:
            if kind == "ready":
                self._start_job()
                continue
            if kind == "fatal":
                message, traceback = value
                return self._limit_seen() or StrategyError(message, traceback)
            if kind == "masks":
                self.results[job] = value
            else:
                message, traceback = value
                limit = self._limit_seen(message)
                self.results[job] = limit or StrategyError(message, traceback)
            self.seconds[job] = time.monotonic() - self.started_at
            if job + 1 < len(self.jobs) and self._window_closed():
                self.stopped = True  # the jobs left wait for a batch of their own
                return None
            self._start_job()
        return None

    def _window_closed(self) -> bool:
        """Whether the next job, given its whole budget, could end past the batch's window."""
        return (self.window is not None
                and time.monotonic() - self.ready_at + self.limits.wall_seconds > self.window)

    def _limit_seen(self, said: str = "") -> StrategyError | None:
        """A limit the cgroup saw hit since the current job started, if any."""
        now = Evidence.read(self.cgroup)
        for kind, hit in (("memory", now.oom_kills > self.base.oom_kills),
                          ("processes", now.pids_refused > self.base.pids_refused)):
            if hit:
                detail = f": {said}" if said else ""
                return StrategyError(f"the strategy {describe_limit(kind, self.limits)}{detail}",
                                     self.printed(), limit=kind)
        return None

    # The end
    def _exited(self, flags: int) -> bool:
        """Reap the child if it ended (wait4, for its rusage: Popen.poll would lose that)."""
        if self.proc.returncode is None:
            pid, status, rusage = os.wait4(self.proc.pid, flags)
            if pid == 0:
                return False
            self.proc.returncode, self.rusage = os.waitstatus_to_exitcode(status), rusage
        return True

    def _reap(self):
        if self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
        self._exited(0)
        return self.proc.returncode, self.rusage

    def _ended(self, code: int, rusage) -> StrategyError:
        """Why the child ended with jobs unanswered, from what the parent saw itself."""
        seen = self._limit_seen()
        if seen is not None:
            return seen
        number = -code if code < 0 else code - 128 if 128 < code < 160 else None
        cpu_used = self.cgroup.cpu_seconds() if self.cgroup else rusage.ru_utime + rusage.ru_stime
        if number == signal.SIGXCPU and cpu_used >= self.limits.cpu_seconds:
            return StrategyError(f"the strategy {describe_limit('cpu', self.limits)}",
                                 self.printed(), limit="cpu")
        if number is not None and number in signal.Signals._value2member_map_:
            return StrategyError(f"the strategy process crashed (killed by signal {number}, "
                                 f"{signal.Signals(number).name}) before returning masks", self.printed())
        if code != 0:
            return StrategyError(f"the strategy process exited with status {code} before returning masks",
                                 self.printed())
        return StrategyError("the strategy process ended before returning masks", self.printed())

    def _fail_rest(self, failure: StrategyError) -> None:
        """The job that failed and every job after it get the same error, at once."""
        missing = [i for i, r in enumerate(self.results) if r is None]
        if missing and not self.starting:
            self.seconds[missing[0]] = self.ended_at - self.started_at
        if len(missing) < len(self.jobs) and missing:
            c, s = self.jobs[missing[0]]
            failure = StrategyError(f"{failure.message} (at compression {c:g}, seed {s}; the "
                                    f"{len(missing) - 1} jobs after it were not run)"
                                    if len(missing) > 1 else
                                    f"{failure.message} (at compression {c:g}, seed {s})",
                                    failure.traceback, failure.limit)
        for i in missing:
            self.results[i] = failure

    def printed(self) -> str:
        return bytes(self.output).decode("utf-8", "replace")


def _read(fd: int) -> bytes | None:
    """Up to 64 KiB; b"" at end of file; None when nothing is there after all."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    except OSError:
        return b""
