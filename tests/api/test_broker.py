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
