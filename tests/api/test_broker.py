"""The embedded default's broker file (pruneboard.broker), shared by the web server, the run
worker and the control worker with the beat."""

import sqlite3
from contextlib import closing

import pytest
from kombu import Connection
from sqlalchemy import event

import pruneboard  # noqa: F401  (registers the transport, as every process of the product does)


@pytest.fixture
def broker(tmp_path):
    path = tmp_path / "celery-broker.sqlite3"
    with Connection(f"sqla+sqlite:///{path}") as connection:
        yield path, connection


def test_a_queue_another_process_created_first_is_read_back_and_the_broker_keeps_working(broker):
    """Two processes declaring `control` on a fresh file: this one reads it, finds nothing, and the
    other inserts it before this one's insert. The beat used to fail on every tick after that."""
    path, connection = broker
    channel = connection.default_channel
    channel._new_queue("cpu")  # the tables exist
    raced = []

    @event.listens_for(channel.session, "before_flush")
    def the_other_process_inserts_first(session, *_):
        if not raced:
            raced.append(True)
            with closing(sqlite3.connect(path)) as db:
                db.execute("INSERT INTO kombu_queue (name) VALUES ('control')")
                db.commit()

    queue = connection.SimpleQueue("control")
    queue.put({"task": "dispatch-runs"})
    assert raced
    assert queue.get(timeout=5).payload == {"task": "dispatch-runs"}
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM kombu_queue WHERE name='control'").fetchone() == (1,)
    queue.close()


def test_a_failed_write_leaves_the_channel_usable(broker):
    path, connection = broker
    channel = connection.default_channel
    channel._new_queue("control")
    channel.session.add(channel.queue_cls("control"))  # a write that fails inside the transaction
    with pytest.raises(Exception, match="UNIQUE"):
        channel.session.flush()
    queue = connection.SimpleQueue("control")
    queue.put({"task": "reap-runs"})
    assert queue.get(timeout=5).payload == {"task": "reap-runs"}
    queue.close()


def test_the_beat_sends_again_on_the_next_tick_after_a_send_on_a_closed_channel_failed(broker, tmp_path):
    """The beat's first send closed its channel (a race on a fresh broker file): Celery's scheduler
    kept that producer and every later tick failed, so nothing was dispatched again. Ours makes a
    new connection on the next tick, and the message reaches the broker."""
    from celery.beat import SchedulingError

    from pruneboard.broker import Scheduler
    from pruneboard.celery import app

    path, connection = broker
    saved = app.conf.broker_url, app.conf.broker_write_url
    app.conf.broker_url = app.conf.broker_write_url = f"sqla+sqlite:///{path}"
    try:
        scheduler = Scheduler(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
        entry = scheduler.Entry(name="dispatch-runs", task="submissions.tasks.runs_dispatch", schedule=1,
                                options={"queue": "control"}, app=app)
        dead = scheduler.producer
        dead.channel.close()  # what the failed race left
        with pytest.raises(SchedulingError, match="channel disconnected"):
            scheduler.apply_async(entry, producer=dead, advance=False)  # as a tick applies an entry
        scheduler.apply_async(entry, producer=scheduler.producer, advance=False)  # the next tick
        scheduler.close()
    finally:
        app.conf.broker_url, app.conf.broker_write_url = saved
    with closing(sqlite3.connect(path)) as db:
        sent = db.execute("SELECT count(*) FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id "
                          "WHERE q.name = 'control'").fetchone()[0]
    assert sent == 1  # the second tick's; the first never left
