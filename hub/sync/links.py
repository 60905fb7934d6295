"""Finding and growing sync links, and keeping one person's events in one queue."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from hub.canonical import RecordRef
from hub.extensions import db
from hub.models import Event, EventStatus, RemoteRef, SyncLink

log = logging.getLogger(__name__)

UNFINISHED = (
    EventStatus.PENDING.value,
    EventStatus.RETRY.value,
    EventStatus.PROCESSING.value,
)


def link_key(link_id: int) -> str:
    """Return the person key that orders the events of a linked person."""
    return f"link:{link_id}"


def object_key(agency_id: int, connector: str, kind: str, remote_id: str) -> str:
    """Return the person key the ingress gives a remote object not linked yet."""
    return f"{agency_id}:{connector}:{kind}:{remote_id}"


def person_keys(link: SyncLink) -> list[str]:
    """Return every person key the link's events may carry."""
    keys = [
        object_key(link.agency_id, ref.connector, ref.kind, ref.remote_id)
        for ref in link.refs
    ]

    return [link_key(link.id), *keys]


def find(agency_id: int, connector: str, ref: RecordRef) -> SyncLink | None:
    """Return the sync link holding a remote object, if any."""
    return db.session.scalar(
        sa.select(SyncLink)
        .join(RemoteRef, RemoteRef.link_id == SyncLink.id)
        .where(
            RemoteRef.agency_id == agency_id,
            RemoteRef.connector == connector,
            RemoteRef.kind == ref.kind,
            RemoteRef.remote_id == str(ref.id),
        )
    )


def find_many(
    agency_id: int, connector: str, refs: Iterable[RecordRef]
) -> dict[RecordRef, SyncLink]:
    """Return the sync links holding any of these remote objects, by ref, in a
    query for each kind (and each 500 ids)."""
    ids_by_kind: dict[str, list[str]] = {}
    for ref in refs:
        ids_by_kind.setdefault(ref.kind, []).append(str(ref.id))
    found: dict[RecordRef, SyncLink] = {}
    for kind, ids in ids_by_kind.items():
        for start in range(0, len(ids), 500):
            rows = db.session.execute(
                sa.select(RemoteRef.remote_id, SyncLink)
                .join(SyncLink, RemoteRef.link_id == SyncLink.id)
                .where(
                    RemoteRef.agency_id == agency_id,
                    RemoteRef.connector == connector,
                    RemoteRef.kind == kind,
                    RemoteRef.remote_id.in_(ids[start : start + 500]),
                )
            ).all()
            found.update((RecordRef(kind, remote_id), link) for remote_id, link in rows)
    return found


def find_any(agency_id: int, connector: str, ids: Mapping[str, str]) -> SyncLink | None:
    """Return the sync link holding any of a connector's remote ids, if any."""
    for kind, remote_id in ids.items():
        link = find(agency_id, connector, RecordRef(kind, str(remote_id)))
        if link is not None:
            return link
    return None


def primary_ref(link: SyncLink, connector: str) -> RecordRef | None:
    """Return the first remote object a link holds on a connector."""
    refs = sorted((r for r in link.refs if r.connector == connector), key=_order)
    return RecordRef(refs[0].kind, refs[0].remote_id) if refs else None


def _order(ref: RemoteRef) -> int:
    return ref.id or 0


def add_refs(link: SyncLink, connector: str, ids: Mapping[str, str]) -> None:
    """Record the remote ids a link has on a connector, and queue their events
    behind the link's.

    An id of a kind the link already holds replaces it (a record made again).
    """
    for kind, remote_id in ids.items():
        if not remote_id:
            continue
        remote_id = str(remote_id)
        mine = next(
            (r for r in link.refs if r.connector == connector and r.kind == kind),
            None,
        )
        if mine is not None and mine.remote_id == remote_id:
            continue

        other = db.session.scalar(
            sa.select(RemoteRef).where(
                RemoteRef.agency_id == link.agency_id,
                RemoteRef.connector == connector,
                RemoteRef.kind == kind,
                RemoteRef.remote_id == remote_id,
            )
        )
        if other is not None and other.link_id != link.id:
            log.warning(
                "Agency %s, connector %s: %s %s belongs to link %s already; "
                "link %s keeps its own ids.",
                link.agency_id,
                connector,
                kind,
                remote_id,
                other.link_id,
                link.id,
            )
            continue

        if mine is not None:
            mine.remote_id = remote_id
        else:
            link.refs.append(
                RemoteRef(
                    agency_id=link.agency_id,
                    connector=connector,
                    kind=kind,
                    remote_id=remote_id,
                )
            )
        db.session.flush()
        queue_behind(link, object_key(link.agency_id, connector, kind, remote_id))


def queue_behind(link: SyncLink, key: str) -> None:
    """Move the unfinished events of a remote object into the link's queue."""
    db.session.execute(
        sa.update(Event)
        .where(Event.person_key == key, Event.status.in_(UNFINISHED))
        .values(person_key=link_key(link.id))
    )


def adopt_new_events(after_id: int) -> int:
    """Queue events that arrived since ``after_id`` behind their link, if they have
    one; return the highest event id seen."""
    rows = db.session.execute(
        sa.select(Event.id, Event.person_key).where(
            Event.id > after_id,
            Event.status.in_(UNFINISHED),
            Event.person_key.is_not(None),
        )
    ).all()
    highest = max((row.id for row in rows), default=after_id)
    keys = {row.person_key for row in rows if not row.person_key.startswith("link:")}
    # The keys by the agency and connector they name, for one look-up each.
    by_source: dict[tuple[int, str], dict[RecordRef, str]] = {}
    for key in keys:
        parts = key.split(":", 3)
        if len(parts) != 4 or not parts[0].isdigit():
            continue
        agency_id, connector, kind, remote_id = parts
        refs = by_source.setdefault((int(agency_id), connector), {})
        refs[RecordRef(kind, remote_id)] = key
    for (agency_id, connector), refs in by_source.items():
        for ref, link in find_many(agency_id, connector, refs).items():
            queue_behind(link, refs[ref])
    if keys:
        db.session.commit()

    return highest
