"""The hub's database on PostgreSQL: migrations, and claims that skip locked rows."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from hub import Change, ChangeKind, RecordRef, create_app
from hub.extensions import db
from hub.models import Agency, Connection, Event, EventAttempt, EventStatus, utcnow
from hub.sync import leases
from hub.testing.server import test_config

pytestmark = pytest.mark.slow


def test_migrations_go_up_down_and_up_on_postgresql(postgres, tmp_path):
    app = create_app(test_config(tmp_path))
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"event", "agency", "connection", "sync_link"} <= tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert set(sa.inspect(db.engine).get_table_names()) == tables
        db.engine.dispose()


@pytest.fixture
def hub_db(postgres, tmp_path, paper):
    app = create_app(test_config(tmp_path, HUB_PLUGINS=[paper]))
    app.config["TEST_TMP"] = tmp_path
    with app.app_context():
        db.create_all()
        connection = Connection(
            agency=Agency(slug="north", name="North", settings={}),
            connector="paper",
            settings={},
        )
        db.session.add(connection)
        db.session.commit()
        now = utcnow()
        for n in range(4):
            db.session.add(
                Event(
                    agency_id=connection.agency_id,
                    connection_id=connection.id,
                    connector="paper",
                    purpose="contact.changed",
                    person_key="1:paper:contact:7",
                    payload=Change(
                        ChangeKind.UPDATED, RecordRef("contact", "7"), dedup_key=str(n)
                    ).to_dict(),
                    status=EventStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    received_at=now,
                    updated_at=now,
                )
            )
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_claim_skips_a_row_another_worker_has_locked(hub_db):
    lease = timedelta(seconds=30)
    with hub_db.app_context():
        first = db.session.scalar(sa.select(sa.func.min(Event.id)))
        with db.engine.connect() as other:
            other.execute(
                sa.select(Event.id).where(Event.id == first).with_for_update()
            )
            # Another transaction holds the row: the claim moves on at once.
            assert not leases.claim(Event, first, "a", utcnow(), lease)
            other.rollback()
        assert leases.claim(Event, first, "a", utcnow(), lease)
        assert not leases.claim(Event, first, "b", utcnow(), lease)


def test_a_person_is_locked_until_the_claiming_transaction_ends(hub_db):
    taken = threading.Event()
    release = threading.Event()
    answers = []

    def hold():
        with hub_db.app_context():
            answers.append(leases.lock_person("1:paper:contact:7"))
            taken.set()
            release.wait(10)
            db.session.rollback()
            db.session.remove()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    with hub_db.app_context():
        assert not leases.lock_person("1:paper:contact:7")
        db.session.rollback()
        assert leases.lock_person("1:paper:contact:8")
        db.session.rollback()
        release.set()
        holder.join(10)
        assert leases.lock_person("1:paper:contact:7")
        db.session.rollback()
    assert answers == [True]


def test_many_dispatchers_run_one_persons_events_once_and_in_order(hub_db, paper):
    tmp_path = hub_db.config["TEST_TMP"]
    dispatchers = [
        create_app(test_config(tmp_path, HUB_PLUGINS=[paper])).extensions[
            "hub.dispatcher"
        ]
        for _ in range(3)
    ]
    with hub_db.app_context():
        ids = list(db.session.scalars(sa.select(Event.id).order_by(Event.id)))

    barrier = threading.Barrier(len(dispatchers))

    def work(dispatcher):
        barrier.wait(10)
        for _ in range(20):
            for event_id in ids:
                dispatcher.process(event_id)

    threads = [threading.Thread(target=work, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    with hub_db.app_context():
        rows = db.session.execute(
            sa.select(Event.id, Event.status, Event.attempts, Event.outcome).order_by(
                Event.id
            )
        ).all()
        tries = db.session.execute(
            sa.select(EventAttempt.event_id, EventAttempt.started_at).order_by(
                EventAttempt.started_at, EventAttempt.id
            )
        ).all()
    assert [row.attempts for row in rows] == [1, 1, 1, 1], rows
    assert {row.outcome for row in rows} == {"gone"}, "every one ended"
    assert [t.event_id for t in tries] == ids, "one at a time, in arrival order"
    for dispatcher in dispatchers:
        with dispatcher.app.app_context():
            db.engine.dispose()


def test_the_real_sandboxes_keep_their_state_on_postgresql(postgres, tmp_path):
    from hub.sandbox import create_sandbox_app
    from hub.testing.control import SandboxControl
    from hub.testing.server import serve

    config = test_config(
        tmp_path, HUB_LOAD_ENTRY_POINTS=True, HUB_LOAD_PLUGINS=["hubspot", "clearcare"]
    )
    assert config["HUB_SANDBOX_DATABASE_URL"].startswith("postgresql")

    def make(url):
        return create_sandbox_app(config, public_url=url)

    with serve(make) as app:
        url = app.config["HUB_SERVED_URL"]
        assert app.extensions["hub.sandbox"].engine.dialect.name == "postgresql"
        hubspot = SandboxControl(url + "/_sandbox/hubspot")
        portal = hubspot.create_account("North", "professional")
        clearcare = SandboxControl(url + "/_sandbox/clearcare")
        care = clearcare.create_account("North", locations=["Main Office"])
        hubspot.session.close()
        clearcare.session.close()
        app.extensions["hub.sandbox"].engine.dispose()

    with serve(make) as app:
        url = app.config["HUB_SERVED_URL"]
        hubspot = SandboxControl(url + "/_sandbox/hubspot")
        answer = hubspot.session.post(
            url + "/_sandbox/hubspot/crm/objects/2026-09/contacts",
            json={"properties": {"firstname": "Pat", "lastname": "Postgres"}},
            headers={"Authorization": f"Bearer {portal['token']}"},
            timeout=10,
        )
        counters = hubspot.counters(account=str(portal["portal_id"]))
        hubspot.session.close()
        app.extensions["hub.sandbox"].engine.dispose()

    assert answer.status_code == 201, answer.text
    assert counters["writes"] >= 1
    assert care["client_id"] and care["agency_id"]
