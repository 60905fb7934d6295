"""Backfill: bringing an agency's existing contacts (and their deals) over from its
sales connector to its care connector, in batches, resumable from a stored cursor.

The sales connector's ``fetch_changes`` is asked for everything since the beginning
of its clock (the cursor ``"0"``); what it finds is ordered (contacts before deals,
then by id), stored through the event inbox a batch at a time with the connector's
deduplication keys, and run by the sync worker exactly as webhooks would be. After
each batch has finished, the position is stored, so an interrupted backfill resumes
after the last finished batch, and what an interrupted batch stored is not stored
or created twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from hub.canonical import Change, Role
from hub.errors import ConfigurationError
from hub.extensions import db
from hub.inbox import notify_stored, store_changes
from hub.models import Agency, Connection, Event, SyncCursor, utcnow
from hub.sync.reconcile import cursor_for

log = logging.getLogger(__name__)

KIND = "backfill"
#: The cursor that asks a connector for everything it holds.
BEGINNING = "0"
WAITING = ("pending", "retry", "processing")
#: Contacts come before deals, so each deal finds its person linked.
KIND_ORDER = {"contact": 0}


@dataclass
class Progress:
    """Where a backfill stands: how many changes of how many are done."""

    total: int
    done: int
    stored: int = 0


def sales_connection(agency: Agency, connectors) -> Connection:
    """Return the agency's connection to its sales connector.

    :raises ConfigurationError: when the agency has none.
    """
    for connection in agency.connections:
        if connection.connector not in connectors.names():
            continue
        if connectors.info(connection.connector).role == Role.SALES:
            return connection
    raise ConfigurationError(
        f"Agency {agency.slug!r} has no sales connection (such as HubSpot) to "
        "backfill from; connect one in the setup wizard first."
    )


def position(change: Change) -> list:
    """Return a change's place in the backfill order, as JSON can keep it."""
    kind = change.ref.kind if change.ref else ""
    ident = change.ref.id if change.ref else ""
    number = int(ident) if ident.isdigit() else 0
    return [KIND_ORDER.get(kind, 1), kind, number, ident]


def load_state(text: str | None) -> dict:
    """Return a backfill cursor's state, or a fresh one."""
    try:
        state = json.loads(text) if text else {}
    except ValueError:
        state = {}
    return state if isinstance(state, dict) else {}


def backfill(
    agency: Agency,
    connectors,
    run_events: Callable[[], int],
    batch_size: int = 100,
    restart: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    timeout: float = 900.0,
) -> Progress:
    """Bring the agency's existing sales records over, a batch at a time; return
    where it ended.

    :param run_events: runs due events in this process and returns how many ran
        (the dispatcher's ``drain``); other processes' workers may run them too.
    :param restart: start from the beginning instead of the stored position.
    :param timeout: the longest one batch may take to finish, in seconds.
    :raises TimeoutError: when a batch's events have not finished in time; the
        position stays after the last finished batch.
    """
    connection = sales_connection(agency, connectors)
    row = cursor_for(connection.id, KIND)
    state = {} if restart else load_state(row.cursor)
    if state.get("finished"):
        total = int(state.get("total") or 0)
        log.info("Agency %s: the backfill finished before.", agency.slug)
        return Progress(total=total, done=total)

    batch = connectors.fetch_changes(connection.connector, connection, BEGINNING)
    db.session.commit()
    ordered = sorted((c for c in batch.changes if c.ref is not None), key=position)
    after = state.get("after")
    remaining = [c for c in ordered if after is None or position(c) > after]
    progress = Progress(total=len(ordered), done=len(ordered) - len(remaining))
    if on_progress:
        on_progress(progress)
    log.info(
        "Backfilling agency %s from %s: %d record(s), %d left.",
        agency.slug,
        connection.connector,
        progress.total,
        len(remaining),
    )

    for start in range(0, len(remaining), batch_size):
        chunk = remaining[start : start + batch_size]
        event_ids = store_changes(connection, chunk)
        db.session.commit()
        notify_stored(event_ids)
        wait_until_settled(agency.id, run_events, timeout)

        progress.done += len(chunk)
        progress.stored += len(event_ids)
        save_position(row.id, {"after": position(chunk[-1]), "total": progress.total})
        if on_progress:
            on_progress(progress)

    save_position(
        row.id,
        {"after": None, "total": progress.total, "finished": utcnow().isoformat()},
    )

    return progress


def save_position(row_id: int, state: dict) -> None:
    """Store where the backfill stands, at once."""
    row = db.session.get(SyncCursor, row_id)
    row.cursor = json.dumps(state)
    row.last_run_at = utcnow()
    db.session.commit()


def waiting_events(agency_id: int) -> int:
    """Return how many of the agency's events wait to be run or run now."""
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count(Event.id)).where(
            Event.agency_id == agency_id, Event.status.in_(WAITING)
        )
    )


def wait_until_settled(agency_id: int, run_events, timeout: float) -> None:
    """Run (or wait for) the agency's events until none waits.

    :raises TimeoutError: after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while waiting_events(agency_id):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"The backfill's events of agency {agency_id} did not finish in "
                f"{timeout:.0f} s; see the events page, then run the backfill again "
                "to resume."
            )
        if not run_events():
            time.sleep(0.2)
