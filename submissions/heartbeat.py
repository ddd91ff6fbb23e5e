"""A worker's heartbeat: renews the lease on the run it executes, in a background thread, and
tells the evaluation to stop when the lease is lost or the submission cancelled."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from . import services

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, run_id: int, token: str, interval: float | None = None):
        self.run_id, self.token = run_id, token
        self.interval = interval or settings.PRUNEBOARD_HEARTBEAT_SECONDS
        self._done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-run-{run_id}", daemon=True)

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def _beat(self) -> None:
        try:
            while not self._done.wait(self.interval):
                try:
                    close_old_connections()
                    if not services.run_heartbeat(self.run_id, self.token):
                        log.warning("run %s: lease lost or submission cancelled; stopping", self.run_id)
                        self._stop.set()
                        return
                except DatabaseError as exc:  # the database blinked: try again next beat
                    log.warning("run %s: heartbeat failed (%s)", self.run_id, exc)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=30)
