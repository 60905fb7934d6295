"""The event inbox: changes are stored here before the sender is answered."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from hub.canonical import Change
from hub.extensions import db
from hub.models import Connection, Event, EventStatus, utcnow

log = logging.getLogger(__name__)


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
    insert = _insert_ignoring_duplicates()
    for row in rows:
        result = db.session.execute(insert.values(**row).returning(Event.id))
        new_id = result.scalar_one_or_none()
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


def _insert_ignoring_duplicates():
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(Event).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(Event).on_conflict_do_nothing()
    return sa.insert(Event)


def notify_stored(event_ids: list[int]) -> None:
    """Tell the dispatcher, if the app has one, that events are waiting."""
    dispatcher = current_app.extensions.get("hub.dispatcher")
    if dispatcher is not None and event_ids:
        dispatcher.notify(event_ids)
