"""The embedded default's broker: kombu's SQLAlchemy transport, made safe for several processes.

`make run` starts three processes that talk to one broker file (the web server, the run worker,
the control worker with the beat). kombu's transport guards the creation of a queue's row with a
lock that holds within one process only: when two processes declare the same queue on a fresh
file (a first start, or a start after the operator deleted the file), one of them inserts it
second and fails on the unique name. kombu does not roll that session back, so every later call
on the channel fails too ("This Session's transaction has been rolled back"): the beat stopped
dispatching for good. Here a queue someone else created first is simply read back, and a session
left in a failed transaction is rolled back before it is used again.

`register()` points the `sqla` / `sqlalchemy` transport names at this one (kombu's registry of
transport names), so every `sqla+...` broker URL gets it. `Scheduler` is the beat's, for any
broker: a send that failed once does not stop the beat for good."""

from __future__ import annotations

from celery.beat import PersistentScheduler, SchedulingError
from kombu.common import ignore_errors
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy.exc import IntegrityError


class Channel(kombu_sqla.Channel):
    @property
    def session(self):
        session = super().session
        if not session.is_active:  # an earlier statement failed inside a transaction
            session.rollback()
        return session

    def _get_or_create(self, queue):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:  # another process created the queue between our read and our insert
            self.session.rollback()
            return self.session.query(self.queue_cls).filter(self.queue_cls.name == queue).one()


class Transport(kombu_sqla.Transport):
    Channel = Channel


def register() -> None:
    for name in ("sqla", "sqlalchemy"):
        TRANSPORT_ALIASES[name] = f"{__name__}:Transport"


class Scheduler(PersistentScheduler):
    """The beat's scheduler, starting over with a fresh broker connection after a send fails.
    Celery's keeps the producer it made first: once an error closed that producer's channel
    (seen on the embedded default, when the beat's first send raced another process creating
    the broker file), every later send failed ("channel disconnected") and nothing was
    dispatched or reaped again, whatever the broker's state. The failed tick is logged as
    before; the next one reconnects (`beat_scheduler` in pruneboard/settings.py)."""

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        try:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        except SchedulingError:
            self._forget_connection()
            raise

    def _forget_connection(self) -> None:
        """Drop the producer and its connection (as Celery's `close` does): both are made anew
        on the next tick."""
        self.__dict__.pop("producer", None)
        connection = self.__dict__.pop("connection", None)
        if connection is not None:
            ignore_errors(connection, connection.release)
