"""The ingress's endpoint cache and group commit: fast, and never stale or lossy."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from hub import hookimpl
from hub.endpoints import EndpointCache
from hub.extensions import BUSY_TIMEOUT_MS, db
from hub.inbox import GroupCommit, begin_immediate
from hub.models import Agency, Connection, Event, Location, WebhookEndpoint, utcnow
from hub.settings import save_settings

SECRET = {"X-Paper-Secret": "paper-canary-key-1234"}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app):
    """Return the clock of the app's endpoint cache, which keeps endpoints 30 s."""
    clock = FakeClock()
    app.extensions["hub.endpoint_cache"] = EndpointCache(seconds=30, clock=clock)
    return clock


def stored(app) -> list[Event]:
    with app.app_context():
        return db.session.scalars(sa.select(Event).order_by(Event.id)).all()


def send(client, url, record_id, headers=SECRET):
    return client.post(url, json={"id": record_id}, headers=headers)


def outside_the_session(app, statement: str, **params) -> None:
    """Change the database as another process would: no session, no ORM events."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_a_token_revoked_in_this_process_is_refused_at_once(
    app, client, webhook_url, clock
):
    assert send(client, webhook_url, 1).status_code == 200
    with app.app_context():
        endpoint = db.session.scalars(sa.select(WebhookEndpoint)).one()
        endpoint.revoked_at = utcnow()
        db.session.commit()

    answer = send(client, webhook_url, 2)

    assert answer.status_code == 404
    assert [e.payload["ref"]["id"] for e in stored(app)] == ["1"]


def test_a_token_revoked_by_another_process_is_refused_within_the_cache_time(
    app, client, webhook_url, clock
):
    assert send(client, webhook_url, 1).status_code == 200
    outside_the_session(app, "UPDATE webhook_endpoint SET revoked_at = created_at")

    clock.now += 30
    answer = send(client, webhook_url, 2)

    assert answer.status_code == 404
    assert len(stored(app)) == 1


def test_with_no_cache_time_every_webhook_is_checked(app, client, webhook_url):
    app.extensions["hub.endpoint_cache"] = EndpointCache(seconds=0)
    assert send(client, webhook_url, 1).status_code == 200
    outside_the_session(app, "UPDATE webhook_endpoint SET revoked_at = created_at")

    assert send(client, webhook_url, 2).status_code == 404
    assert len(stored(app)) == 1


def test_new_credentials_saved_in_this_process_take_effect_at_once(
    app, client, webhook_url, connection, clock
):
    assert send(client, webhook_url, 1).status_code == 200
    with app.app_context():
        conn = db.session.get(Connection, connection)
        info = app.extensions["hub.connectors"].info("paper")
        save_settings(conn, info, {"api_key": "paper-rotated-key-5678"})
        db.session.commit()

    old = send(client, webhook_url, 2)
    new = send(client, webhook_url, 3, {"X-Paper-Secret": "paper-rotated-key-5678"})

    assert (old.status_code, new.status_code) == (401, 200)
    assert [e.payload["ref"]["id"] for e in stored(app)] == ["1", "3"]


def test_new_credentials_saved_by_another_process_accept_their_webhooks_at_once(
    app, client, webhook_url, connection, clock
):
    assert send(client, webhook_url, 1).status_code == 200
    with app.app_context():
        conn = db.session.get(Connection, connection)
        conn.credentials = {"api_key": "paper-rotated-key-5678"}
        encrypted = conn.credentials_encrypted
        db.session.rollback()
    outside_the_session(
        app, "UPDATE connection SET credentials_encrypted = :value", value=encrypted
    )

    answer = send(client, webhook_url, 2, {"X-Paper-Secret": "paper-rotated-key-5678"})

    assert answer.status_code == 200
    assert len(stored(app)) == 2


def test_a_bad_signature_is_refused_whether_cached_or_not(
    app, client, webhook_url, clock
):
    first = send(client, webhook_url, 1, {"X-Paper-Secret": "wrong"})
    assert send(client, webhook_url, 2).status_code == 200
    again = send(client, webhook_url, 3, {"X-Paper-Secret": "wrong"})

    assert (first.status_code, again.status_code) == (401, 401)
    assert [e.payload["ref"]["id"] for e in stored(app)] == ["2"]


def test_a_token_for_another_connector_is_unknown_even_when_cached(
    client, webhook_url, clock
):
    assert send(client, webhook_url, 1).status_code == 200

    answer = send(client, webhook_url.replace("/paper/", "/other/"), 2)

    assert answer.status_code == 404


@pytest.fixture
def paper(paper):
    """Return the paper connector, doing in ``receive_event`` what its flags say:
    count webhooks in the connection's state, read the agency's locations, or change
    the connection's settings in place (which the hub does not save)."""

    class CarelessPaper(type(paper)):
        counts = reads_locations = scribbles = False

        @hookimpl
        def receive_event(self, connector, agency, connection, inbound):
            changes = super().receive_event(connector, connection, inbound)
            if self.counts:
                seen = (connection.state or {}).get("seen", 0)
                connection.update_state(seen=seen + 1)
            if self.reads_locations:
                names = [location.name for location in agency.locations]
                self.calls.append(f"locations={names}")
            self.calls.append(f"region={connection.settings.get('region')}")
            if self.scribbles:
                connection.settings["region"] = "scribbled"
            return changes

    return CarelessPaper()


def test_what_a_connector_changes_on_the_connection_is_saved_with_the_events(
    app, client, webhook_url, connection, paper, clock
):
    paper.counts = True

    for record_id in (1, 2, 3):
        assert send(client, webhook_url, record_id).status_code == 200

    with app.app_context():
        assert db.session.get(Connection, connection).state["seen"] == 3
    assert len(stored(app)) == 3


def test_a_connector_reads_the_agency_s_locations_as_they_are_now(
    app, client, webhook_url, connection, paper, clock
):
    paper.reads_locations = True
    with app.app_context():
        agency = db.session.get(Connection, connection).agency
        agency.locations.append(Location(remote_id="7", name="North"))
        db.session.commit()
    assert send(client, webhook_url, 1).status_code == 200
    outside_the_session(
        app,
        "INSERT INTO location (agency_id, remote_id, name, active) "
        "SELECT agency_id, '8', 'South', true FROM location",
    )
    # Served, each request has a session of its own; here they share the test's.
    db.session.remove()

    assert send(client, webhook_url, 2).status_code == 200
    assert [c for c in paper.calls if c.startswith("locations")] == [
        "locations=['North']",
        "locations=['North', 'South']",
    ]
    assert len(stored(app)) == 2


def test_a_value_a_connector_changes_in_place_is_not_seen_by_the_next_webhook(
    app, client, webhook_url, paper, clock
):
    paper.scribbles = True

    for record_id in (1, 2, 3):
        assert send(client, webhook_url, record_id).status_code == 200

    assert [c for c in paper.calls if c.startswith("region")] == ["region=eu"] * 3


def test_webhooks_arriving_together_are_all_stored_and_answered(
    app, webhook_url, clock
):
    def deliver(record_id: int):
        with app.test_client() as client:
            return send(client, webhook_url, record_id).get_json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(deliver, range(1, 41)))

    assert answers == [{"stored": 1}] * 40
    ids = sorted(int(e.payload["ref"]["id"]) for e in stored(app))
    assert ids == list(range(1, 41))


def sqlite_file(app) -> str:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's write lock between processes")
        return db.engine.url.database


def test_a_webhook_waits_for_another_process_s_write_lock_then_is_stored(
    app, client, webhook_url, clock
):
    other = sqlite3.connect(
        sqlite_file(app), isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, other.execute, args=("COMMIT",))
    started = time.monotonic()
    release.start()

    answer = send(client, webhook_url, 7)

    waited = time.monotonic() - started
    release.join()
    other.close()
    assert answer.status_code == 200
    assert waited >= 0.3
    assert [e.payload["ref"]["id"] for e in stored(app)] == ["7"]


def test_taking_the_write_lock_gives_up_after_its_patience(app):
    path = sqlite_file(app)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    mine = sqlite3.connect(path)
    mine.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            begin_immediate(mine, patience=0.2)
        assert time.monotonic() - started >= 0.2
        # The connection keeps its own busy timeout for everything else.
        assert mine.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    finally:
        other.execute("ROLLBACK")
        other.close()
        mine.close()


def test_a_duplicate_in_one_transaction_is_stored_once(app, webhook_url, clock):
    body = {"id": 5, "delivery": "d-5"}

    def deliver(_):
        with app.test_client() as client:
            return client.post(webhook_url, json=body, headers=SECRET).get_json()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(deliver, range(4)))

    assert sorted(a["stored"] for a in answers) == [0, 0, 0, 1]
    assert len(stored(app)) == 1


def event_row(connection_id: int, agency_id: int, key: str) -> dict:
    now = utcnow()
    return {
        "agency_id": agency_id,
        "connection_id": connection_id,
        "connector": "paper",
        "purpose": "contact.changed",
        "dedup_key": key,
        "person_key": None,
        "payload": {"key": key},
        "status": "pending",
        "attempts": 0,
        "deferrals": 0,
        "next_attempt_at": now,
        "received_at": now,
        "updated_at": now,
    }


def test_one_bad_webhook_in_a_shared_commit_fails_alone_and_leaves_nothing(
    app, connection
):
    with app.app_context():
        agency_id = db.session.get(Connection, connection).agency_id
        dialect = db.engine.dialect
    good = [[event_row(connection, agency_id, f"good-{n}")] for n in range(3)]
    # Its first row is sound, its second names no connection: neither may stay.
    bad = [
        event_row(connection, agency_id, "bad-1"),
        event_row(connection + 999, agency_id, "bad-2"),
    ]
    committer = GroupCommit(wait=0)
    others_queued = threading.Event()
    results: dict[str, object] = {}

    def first_connect():
        # The first writer waits until the others are queued behind it, so that
        # they all share the next transaction.
        others_queued.wait(10)
        return connections[0]

    def store(name, rows, connect):
        with app.app_context():
            try:
                results[name] = committer.store(connect, dialect, rows)
            except Exception as exc:
                results[name] = exc

    with app.app_context():
        connections = [db.engine.raw_connection() for _ in range(4)]
    threads = [
        threading.Thread(target=store, args=(name, rows, connect))
        for name, rows, connect in (
            ("first", good[0], first_connect),
            ("second", good[1], lambda: connections[1]),
            ("third", good[2], lambda: connections[2]),
            ("bad", bad, lambda: connections[3]),
        )
    ]
    try:
        threads[0].start()
        for thread in threads[1:]:
            thread.start()
        for _ in range(1000):
            if len(committer._queue) == 3:
                break
            threading.Event().wait(0.01)
        others_queued.set()
        for thread in threads:
            thread.join(10)
    finally:
        for conn in connections:
            conn.close()

    assert isinstance(results.pop("bad"), dialect.loaded_dbapi.IntegrityError)
    assert all(isinstance(ids, list) and len(ids) == 1 for ids in results.values())
    assert {e.dedup_key for e in stored(app)} == {"good-0", "good-1", "good-2"}


def test_a_database_failure_answers_503_and_the_next_webhook_is_stored(
    app, client, webhook_url, clock
):
    assert send(client, webhook_url, 1).status_code == 200
    outside_the_session(app, "ALTER TABLE event RENAME TO event_away")

    failed = send(client, webhook_url, 2)
    outside_the_session(app, "ALTER TABLE event_away RENAME TO event")
    again = send(client, webhook_url, 2)

    assert failed.status_code == 503
    assert failed.headers["Retry-After"]
    assert again.status_code == 200
    assert [e.payload["ref"]["id"] for e in stored(app)] == ["1", "2"]


def test_an_agency_renamed_keeps_its_webhooks_working(app, client, webhook_url, clock):
    assert send(client, webhook_url, 1).status_code == 200
    with app.app_context():
        db.session.scalars(sa.select(Agency)).one().name = "Sunrise Care"
        db.session.commit()

    assert send(client, webhook_url, 2).status_code == 200
    assert len(stored(app)) == 2
