"""Read-backs made ahead: when several events of one connection wait, the worker
reads all their records back in one ``fetch_records`` call instead of one call each.

A record read ahead is used only by an event that arrived before the read, and only
when the hub has not written to the person on that connector since; otherwise the
event reads its record again. Each record read ahead is
used once. So an event never sees a record older than itself or older than the hub's
own last write, exactly as when it reads its record when its turn comes.

Each write of the hub's comes back as a webhook (its echo), and a batch write as a
burst of them, sent one by one. So that a burst is read back in a few calls rather
than one call a webhook, an event that may be such an echo waits until
``settle_seconds`` after it arrived before its turn: the first of the burst to run
then reads the records of all the others that arrived meanwhile.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import sqlalchemy as sa

from hub.canonical import Prospect, RecordRef
from hub.extensions import db
from hub.models import Event, EventStatus, SyncLink, utcnow

log = logging.getLogger(__name__)

#: The most records one batch read asks for, the connectors' batch size.
BATCH = 100
#: How long a record read ahead stays usable.
FRESH = timedelta(seconds=60)
#: The most records kept at once; the oldest go first.
HELD = 5000
#: How soon after the hub wrote to a person a webhook of that person may be the
#: echo of the write.
ECHO_WINDOW = timedelta(minutes=2)
WAITING = (EventStatus.PENDING.value, EventStatus.RETRY.value)


class ReadAhead:
    """The records one worker process read ahead, by connection and ref.

    :param settle_seconds: how long an event that may be the echo of the hub's own
        write waits once, so that the rest of its burst is read back with it; 0 never
        waits.
    """

    def __init__(self, settle_seconds: float = 0.0) -> None:
        self.settle_seconds = settle_seconds
        self._lock = threading.Lock()
        self._held: dict[tuple[int, RecordRef], tuple[datetime, Prospect | None]] = {}

    def read(
        self, connectors, connection, event: Event, ref: RecordRef, link: SyncLink
    ) -> Prospect | None:
        """Return the event's record, read ahead or read now (with the records of
        the connection's other waiting events, when the connector reads in
        batches)."""
        key = (connection.id, ref)
        with self._lock:
            held = self._held.pop(key, None)
        if held is not None and self.usable(held[0], event, link):
            return held[1]

        name = connection.connector
        others = []
        if connectors.implements(name, "fetch_records"):
            others = self.waiting_refs(connection.id, event.id, ref)
        if not others:
            return connectors.fetch_record(name, connection, ref)

        read_at = utcnow()
        found = connectors.fetch_records(name, connection, [ref, *others])
        with self._lock:
            for other in others:
                self._held[(connection.id, other)] = (read_at, found.get(other))
            self._prune(read_at)
        log.debug(
            "Read %d record(s) of connection %s in one call.",
            len(others) + 1,
            connection.id,
        )
        return found.get(ref)

    def settling(self, connectors, event: Event, link: SyncLink) -> float:
        """Return how long the event should wait before its record is read back,
        because it may be the echo of the hub's last write to the person: 0 when
        it should not wait.

        It waits only while the hub still awaits that echo, at most once, and only
        until ``settle_seconds`` after it arrived, so the events queued behind it
        never wait again.
        """
        if not self.settle_seconds or event.deferrals:
            return 0.0
        fingerprints = link.fingerprints or {}
        written = fingerprints.get(f"{event.connector}:written")
        if written is None or f"{event.connector}:echo" not in fingerprints:
            return 0.0
        since = event.received_at - datetime.fromisoformat(written)
        if not timedelta(0) <= since <= ECHO_WINDOW:
            return 0.0
        if not connectors.implements(event.connector, "fetch_records"):
            return 0.0
        age = (utcnow() - event.received_at).total_seconds()

        return max(0.0, self.settle_seconds - age)

    @staticmethod
    def usable(read_at: datetime, event: Event, link: SyncLink | None) -> bool:
        """Return whether a record read at ``read_at`` may stand for the event's."""
        if utcnow() - read_at > FRESH or event.received_at > read_at:
            return False
        written = (
            (link.fingerprints or {}).get(f"{event.connector}:written")
            if link
            else None
        )
        return written is None or datetime.fromisoformat(written) <= read_at

    def waiting_refs(
        self, connection_id: int, event_id: int, ref: RecordRef
    ) -> list[RecordRef]:
        """Return the refs of the connection's other waiting events not held yet."""
        payloads = db.session.scalars(
            sa.select(Event.payload)
            .where(
                Event.connection_id == connection_id,
                Event.status.in_(WAITING),
                Event.id != event_id,
            )
            .order_by(Event.id)
            .limit(BATCH * 2)
        ).all()
        refs: dict[RecordRef, None] = {}
        with self._lock:
            for payload in payloads:
                found = (payload or {}).get("ref")
                if not found:
                    continue
                other = RecordRef(found["kind"], str(found["id"]))
                if other != ref and (connection_id, other) not in self._held:
                    refs[other] = None
                if len(refs) == BATCH - 1:
                    break
        return list(refs)

    def _prune(self, now: datetime) -> None:
        stale = [k for k, (at, _) in self._held.items() if now - at > FRESH]
        for key in stale:
            del self._held[key]
        while len(self._held) > HELD:
            del self._held[next(iter(self._held))]
