"""The sandbox's two failures: the strategy's own (StrategyError, always the submitter's) and
the host's (SandboxUnavailable: untrusted code cannot be isolated here)."""

from __future__ import annotations

from .channel import MESSAGE_CHARS, TRACEBACK_CHARS, cut


class StrategyError(RuntimeError):
    """The strategy failed; `message` (at most 2,000 characters) is for the submitter,
    `traceback` (at most 16,000) their frames or printed output, `limit` the limit the parent
    saw hit ('' for none). Every StrategyError is the submitter's error."""

    def __init__(self, message: str, traceback: str = "", limit: str = ""):
        message, traceback = cut(message, MESSAGE_CHARS), cut(traceback, TRACEBACK_CHARS)
        super().__init__(message)
        self.message, self.traceback, self.limit = message, traceback, limit


class SandboxUnavailable(RuntimeError):
    """Untrusted code cannot be isolated here, and running it unsandboxed is not allowed."""
