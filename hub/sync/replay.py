"""Running an event again: from needs attention, or to redo what it did."""

from __future__ import annotations

import logging

from hub.extensions import db
from hub.models import Event, EventStatus, utcnow

log = logging.getLogger(__name__)


def requeue(event_id: int, now=None) -> Event | None:
    """Put an event back in the queue, due now, with a fresh set of tries.

    :return: the event, or ``None`` when there is no such event.
    """
    event = db.session.get(Event, event_id)
    if event is None:
        return None

    event.status = EventStatus.PENDING.value
    event.attempts = 0
    event.deferrals = 0
    event.next_attempt_at = now or utcnow()
    event.lease_owner = None
    event.lease_until = None
    event.outcome = None
    event.finished_at = None
    db.session.commit()
    log.info(
        "Agency %s, connector %s, event %s: queued again for replay.",
        event.agency_id,
        event.connector,
        event.id,
    )

    return event
