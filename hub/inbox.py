"""The event inbox: changes are stored here before the sender is answered."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from hub.canonical import Change
from hub.extensions import db
from hub.models import Connection, Event, EventStatus, utcnow
from hub.sync.metrics import EVENTS_RECEIVED

log = logging.getLogger(__name__)

EVENTS = Event.__table__


def person_key(connection: Connection, change: Change) -> str | None:
    """Return the key that orders one person's events, before any link exists."""
    if change.ref is None:
        return None
    return f"{connection.agency_id}:{connection.connector}:{change.ref}"


def store_changes(connection: Connection, changes: Iterable[Change]) -> list[int]:
    """Store changes as pending events in one transaction; return the new ids.

    A change whose deduplication key the connection has seen before is not stored
    again. The caller commits.
    """
    now = utcnow()
    rows = [
        {
            "agency_id": connection.agency_id,
            "connection_id": connection.id,
            "connector": connection.connector,
            "purpose": change.purpose,
            "dedup_key": change.dedup_key,
            "person_key": person_key(connection, change),
            "payload": change.to_dict(),
            "status": EventStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
            "updated_at": now,
        }
        for change in changes
    ]
    if not rows:
        return []

    ids = []
    # A Core statement on the session's connection: the ingress runs this for every
    # webhook, and the ORM's bookkeeping would cost more than the insert itself.
    insert = _insert_statement(db.engine.dialect.name)
    connection_ = db.session.connection()
    for row in rows:
        new_id = connection_.execute(insert, row).scalar_one_or_none()
        if new_id is None:
            log.info(
                "Dropped a duplicate delivery for agency %s, connector %s, key %s.",
                connection.agency_id,
                connection.connector,
                row["dedup_key"],
            )
        else:
            ids.append(new_id)

    return ids


@functools.cache
def _insert_statement(dialect: str):
    """Return the insert that skips duplicates and returns the new id, made once."""
    if dialect == "postgresql":
        insert = postgresql.insert(EVENTS).on_conflict_do_nothing()
    elif dialect == "sqlite":
        insert = sqlite.insert(EVENTS).on_conflict_do_nothing()
    else:
        insert = sa.insert(EVENTS)
    return insert.returning(EVENTS.c.id)


def notify_stored(event_ids: list[int], connector: str | None = None) -> None:
    """Tell the dispatcher, if the app has one, that events are waiting.

    :param connector: the connector all the events came from, when the caller
        knows it, which saves the dispatcher looking it up.
    """
    dispatcher = current_app.extensions.get("hub.dispatcher")
    if dispatcher is None or not event_ids:
        return
    if connector is None:
        dispatcher.notify(event_ids)
        return

    EVENTS_RECEIVED.labels(connector).inc(len(event_ids))
    dispatcher.wake()
