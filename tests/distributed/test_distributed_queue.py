"""The Celery queue's parts that need no broker: what the sweep sends again, and
a webhook stored while the broker is down."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from hub import create_app
from hub.extensions import db
from hub.models import Agency, Connection, Event, EventStatus, utcnow
from hub.queue import QueuedDispatcher
from hub.queue.tasks import overdue_events
from hub.testing.server import test_config

#: A broker address nothing listens on.
NOWHERE = "redis://127.0.0.1:1/0"


@pytest.fixture
def queued(tmp_path, paper):
    app = create_app(
        test_config(
            tmp_path, HUB_PLUGINS=[paper], HUB_QUEUE="celery", HUB_BROKER_URL=NOWHERE
        )
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def add_event(connection: Connection, status: str, **times) -> int:
    now = utcnow()
    values = {"next_attempt_at": now, "received_at": now, "updated_at": now, **times}
    event = Event(
        agency_id=connection.agency_id,
        connection_id=connection.id,
        connector="paper",
        purpose="contact.changed",
        payload={},
        status=status,
        attempts=0,
        **values,
    )
    db.session.add(event)
    db.session.commit()
    return event.id


def test_the_sweep_sends_again_what_is_due_and_not_on_its_way(queued):
    now = utcnow()
    ago = now - timedelta(seconds=30)
    with queued.app_context():
        connection = Connection(
            agency=Agency(slug="west", name="West", settings={}),
            connector="paper",
            settings={},
        )
        db.session.add(connection)
        db.session.commit()
        fresh = add_event(connection, EventStatus.PENDING.value)
        stale = add_event(connection, EventStatus.PENDING.value, next_attempt_at=ago)
        retry_due = add_event(connection, EventStatus.RETRY.value, next_attempt_at=now)
        add_event(
            connection,
            EventStatus.RETRY.value,
            next_attempt_at=now + timedelta(hours=1),
        )
        lost = add_event(connection, EventStatus.PROCESSING.value, lease_until=ago)
        add_event(
            connection,
            EventStatus.PROCESSING.value,
            lease_until=now + timedelta(seconds=30),
        )

        found = overdue_events(now, timedelta(seconds=5))

    assert found == [stale, retry_due, lost]
    assert fresh not in found


def test_the_dispatcher_sends_to_celery_and_survives_a_broker_that_is_down(queued):
    dispatcher = queued.extensions["hub.dispatcher"]
    assert isinstance(dispatcher, QueuedDispatcher)
    assert not dispatcher.running

    started = time.monotonic()
    assert dispatcher.send("hub.sweep") is False
    assert dispatcher.publish([1, 2, 3]) == 0

    assert time.monotonic() - started < 20, "a webhook is not held up for long"


def test_the_beat_tasks_run_in_the_app(queued, paper):
    celery = queued.extensions["hub.celery"]
    assert {"hub.process_event", "hub.sweep", "hub.run_jobs", "hub.reconcile"} <= set(
        celery.tasks
    )
    schedule = celery.conf.beat_schedule
    assert schedule["sweep"]["task"] == "hub.sweep"
    assert schedule["reconcile"]["task"] == "hub.reconcile"

    queued.config["HUB_RECONCILE"] = False
    assert celery.tasks["hub.reconcile"].run() == 0
    queued.config["HUB_RECONCILE"] = True
    assert celery.tasks["hub.reconcile"].run() == 0, "no connection is provisioned"
    assert celery.tasks["hub.sweep"].run() == 0
    assert celery.tasks["hub.process_event"].run(12345) is None, "no such event"
