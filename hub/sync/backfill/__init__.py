"""Backfill: bringing an agency's existing contacts (and their deals) over from its
sales connector to its care connector, a page at a time, resumable.

Each page comes from the sales connector's ``list_records``, whole records with
their deals' statuses, so nothing is read back one by one. A complete record that no
sync link holds takes the engine's own steps, in bulk: its link is made with the
intent ``backfill:create:<care>`` and committed for the whole page first (the worker
leaves a person with a ``backfill:`` intent to the backfill, unless the backfill
has been gone for ten minutes); then each prospect
is created with ``apply_change`` on the care connector (one call each, the care
system's rate limit setting the pace); then the page's ``linked`` changes go to the
sales connector's ``apply_changes`` together. A record the fast path cannot finish
(one naming a care record already, one lacking required fields, one whose write was
refused) is stored as an ordinary event instead, with the connector's deduplication
key, and the worker runs it as it would a webhook: nothing is lost or made twice.

The pages overlap: while one page's creates run, the next page is listed and
sorted and its creates queued behind them, and the page before's links are written.
The cursor stores the position after the last page whose links are written; an
interrupted backfill starts there again, skips the records linked already, and
finishes each create its links record as begun (the care connector looks for what a
lost answer made).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from hub.canonical import Role
from hub.errors import ConfigurationError
from hub.extensions import db
from hub.models import Agency, Connection, Event, SyncCursor, utcnow
from hub.sync.backfill.pages import Backfiller, Done
from hub.sync.clock import SystemClock
from hub.sync.reconcile import cursor_for

log = logging.getLogger(__name__)

KIND = "backfill"
WAITING = ("pending", "retry", "processing")
#: The most records one page may hold; the connectors' batch calls take 100.
PAGE_LIMIT = 100
#: How many creates are under way at once by default (``HUB_BACKFILL_THREADS``),
#: so the care connector's rate limit, not the time each call takes, sets the pace.
THREADS = 4


@dataclass
class Progress:
    """Where a backfill stands. ``total`` is ``None`` until the last page is read,
    unless the connector says it on the first."""

    total: int | None
    done: int
    #: Records stored as events for the worker, this run.
    stored: int = 0
    #: Prospects the backfill created this run, and people it linked.
    created: int = 0
    #: Records that were linked before this run.
    skipped: int = 0


def sales_connection(agency: Agency, connectors) -> Connection:
    """Return the agency's connection to its sales connector.

    :raises ConfigurationError: when the agency has none, or its connector cannot
        list its records.
    """
    for connection in agency.connections:
        if connection.connector not in connectors.names():
            continue
        if connectors.info(connection.connector).role != Role.SALES:
            continue
        if not connectors.implements(connection.connector, "list_records"):
            raise ConfigurationError(
                f"The {connectors.info(connection.connector).label} connector cannot "
                "list its records (it has no list_records hook), so it cannot be "
                "backfilled."
            )
        return connection
    raise ConfigurationError(
        f"Agency {agency.slug!r} has no sales connection (such as HubSpot) to "
        "backfill from; connect one in the setup wizard first."
    )


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
    batch_size: int = PAGE_LIMIT,
    restart: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    timeout: float = 900.0,
    clock=None,
) -> Progress:
    """Bring the agency's existing sales records over, a page at a time; return
    where it ended.

    :param run_events: runs due events in this process and returns how many ran
        (the dispatcher's ``drain``); other processes' workers may run them too.
    :param batch_size: the records a page holds, at most 100.
    :param restart: start from the first record instead of the stored position.
    :param timeout: the longest the events the backfill stored may take to finish
        once its pages are done, in seconds.
    :raises TimeoutError: when those events have not finished in time; the records
        are all handed over by then, and the events page shows what waits.
    """
    connection = sales_connection(agency, connectors)
    engine = Backfiller(agency, connection, connectors, clock or SystemClock())
    row = cursor_for(connection.id, KIND)
    state = {} if restart else load_state(row.cursor)
    if state.get("finished"):
        total = int(state.get("total") or 0)
        log.info("Agency %s: the backfill finished before.", agency.slug)
        return Progress(total=total, done=total)

    limit = max(1, min(batch_size, PAGE_LIMIT))
    threads = int(current_app.config.get("HUB_BACKFILL_THREADS", THREADS))
    after = state.get("after")
    progress = Progress(total=None, done=int(state.get("done") or 0))
    log.info(
        "Backfilling agency %s from %s, %s.",
        agency.slug,
        connection.connector,
        "from the start" if after is None else f"after {progress.done} record(s)",
    )
    if on_progress:
        on_progress(progress)

    stored = run_pages(
        engine, connectors, after, limit, threads, progress, row.id, on_progress
    )
    wait_until_settled(stored, run_events, timeout)
    save_position(
        row.id,
        {"after": None, "total": progress.total, "finished": utcnow().isoformat()},
    )
    log.info(
        "Backfilled agency %s: %d record(s), %d linked, %d to the worker, %d before.",
        agency.slug,
        progress.done,
        progress.created,
        progress.stored,
        progress.skipped,
    )

    return progress


def run_pages(
    engine: Backfiller,
    connectors,
    after: str | None,
    limit: int,
    threads: int,
    progress: Progress,
    row_id: int,
    on_progress,
) -> list[int]:
    """List, sort, create and link every page from ``after`` on; return the ids of
    the events handed to the worker.

    A page's creates are queued behind those of the page before, so the pool never
    waits while a page is listed and sorted; a page's links are written while the
    next page's creates run, and its position is stored once they are.
    """
    app = current_app._get_current_object()
    connection = engine.source.connection
    stored: list[int] = []
    creating = linking = None
    more = True
    with (
        ThreadPoolExecutor(max(1, threads), thread_name_prefix="backfill") as pool,
        ThreadPoolExecutor(1, thread_name_prefix="backfill-link") as linker,
    ):
        try:
            while more or creating is not None:
                queued = None
                if more:
                    page_of = connectors.list_records(
                        connection.connector, connection, after, limit
                    )
                    db.session.commit()
                    if page_of.total is not None:
                        progress.total = page_of.total
                    page = engine.sort(page_of.records)
                    queued = (page, page_of, engine.start_creates(app, pool, page))
                    more, after = page_of.after is not None, page_of.after
                if creating is not None:
                    done = engine.collected(*creating)
                    if linking is not None:
                        stored += finished(
                            linking.result(), progress, row_id, on_progress
                        )
                    linking = linker.submit(engine.finish_apart, app, done)
                creating = queued
        except BaseException:
            # Stopped (by an error or Ctrl-C): the creates not begun yet are
            # dropped, so the backfill stops at once; a run later finishes them.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        if linking is not None:
            stored += finished(linking.result(), progress, row_id, on_progress)

    return stored


def finished(done: Done, progress: Progress, row_id: int, on_progress) -> list[int]:
    """Count a page whose links are written, store the position after it, and
    return the ids of the events it handed to the worker."""
    progress.done += done.count
    progress.stored += len(done.stored)
    progress.created += done.created
    progress.skipped += done.skipped
    if done.after is None:
        progress.total = progress.done
    save_position(
        row_id, {"after": done.after, "done": progress.done, "total": progress.total}
    )
    if on_progress:
        on_progress(progress)
    return done.stored


def save_position(row_id: int, state: dict) -> None:
    """Store where the backfill stands, at once."""
    row = db.session.get(SyncCursor, row_id)
    row.cursor = json.dumps(state)
    row.last_run_at = utcnow()
    db.session.commit()


def waiting(event_ids: list[int]) -> int:
    """Return how many of these events wait to be run or run now."""
    db.session.expire_all()
    count = 0
    for start in range(0, len(event_ids), 500):
        count += db.session.scalar(
            sa.select(sa.func.count(Event.id)).where(
                Event.id.in_(event_ids[start : start + 500]),
                Event.status.in_(WAITING),
            )
        )
    return count


def wait_until_settled(event_ids: list[int], run_events, timeout: float) -> None:
    """Run (or wait for) the events until none of them waits.

    :raises TimeoutError: after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while event_ids and waiting(event_ids):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{waiting(event_ids)} event(s) the backfill handed to the worker did "
                f"not finish in {timeout:.0f} s; see the events page, then run the "
                "backfill again to finish."
            )
        if not run_events():
            time.sleep(0.2)
