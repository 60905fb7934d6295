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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from flask import current_app

from hub.canonical import (
    Change,
    ChangeKind,
    ProspectStatus,
    RecordPage,
    RecordRef,
    Role,
)
from hub.errors import ConfigurationError, HubError, NeedsAttention
from hub.extensions import db
from hub.inbox import notify_stored, store_changes
from hub.models import (
    Agency,
    Connection,
    Event,
    EventStatus,
    SyncCursor,
    SyncLink,
    utcnow,
)
from hub.sync import links, people
from hub.sync.clock import SystemClock
from hub.sync.creation import BACKFILL, Side
from hub.sync.flows import EventSync
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


@dataclass
class Page:
    """What the backfill does with one page of records."""

    creating: list[SyncLink] = field(default_factory=list)
    linking: list[SyncLink] = field(default_factory=list)
    to_events: list[Change] = field(default_factory=list)
    skipped: int = 0


@dataclass
class Done:
    """A page whose creates are made, on its way to the thread that links it."""

    after: str | None
    count: int
    skipped: int
    #: The ids of the links whose care records exist, to write on the sales side.
    linking: list[int]
    to_events: list[Change]
    #: Filled in once linked: the people linked, and the events stored.
    created: int = 0
    stored: list[int] = field(default_factory=list)


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


class Backfiller(EventSync):
    """The engine's steps for creating and linking people, run for a page of
    records at once instead of for one event."""

    def __init__(self, agency: Agency, connection: Connection, connectors, clock):
        self.event = None
        self.agency = agency
        # Plain ids, for the threads that open sessions of their own: they must not
        # touch this session's objects.
        self.agency_id = agency.id
        self.connection_id = connection.id
        self.connectors = connectors
        self.clock = clock
        self.source = Side(connectors.info(connection.connector), connection)
        self.change = None
        self._target = None
        self.read_ahead = None
        self.begun_here = set()

    def where(self) -> str:
        return f"agency {self.agency.slug}, backfill from {self.source.name}"

    def create_change(self, link: SyncLink) -> Change:
        """Return the care create, in the status the person's deal has reached
        rather than New Lead: an existing deal keeps its stage."""
        change = super().create_change(link)
        status = people.load(link.snapshots.get(self.source.name)).status
        if status is None:
            return change
        prospect = change.prospect.replace(
            status=status, is_client=status == ProspectStatus.CARE_STARTED
        )
        return replace(change, prospect=prospect)

    # -- sorting a page -------------------------------------------------------------

    def sort(self, records: list[Change]) -> Page:
        """Decide each record's way, and make the links of the new ones with their
        create intents, committed before any remote call."""
        page = Page()
        fresh = []
        held = links.find_many(
            self.agency.id, self.source.name, (r.ref for r in records if r.ref)
        )
        for record in records:
            if record.ref is None:
                continue
            link = held.get(RecordRef(record.ref.kind, str(record.ref.id)))
            if link is not None:
                intent = link.intent or ""
                if intent.startswith(f"{BACKFILL}create:"):
                    page.creating.append(link)
                elif intent.startswith(f"{BACKFILL}link:"):
                    page.linking.append(link)
                else:
                    # Linked, or an intent the worker finishes.
                    page.skipped += 1
                continue
            if record.other_ids or record.prospect is None:
                page.to_events.append(record)
                continue
            self.change = record
            try:
                prospect = self.complete(record.prospect)
            except NeedsAttention:
                page.to_events.append(record)
                continue
            link = self.new_link(
                dict(record.remote_ids) or {record.ref.kind: record.ref.id}, prospect
            )
            link.intent = f"{BACKFILL}create:{self.target.name}"
            link.intent_at = self.clock.now()
            page.creating.append(link)
            fresh.append(link)
        self.change = None
        db.session.commit()
        self.begun_here.update(link.id for link in fresh)

        return page

    # -- the writes -----------------------------------------------------------------

    def start_creates(self, app, pool: ThreadPoolExecutor, page: Page) -> list[Future]:
        """Queue the create of each new person of the page on the pool, each in a
        thread and a session of its own (the connector's rate limit paces them);
        :meth:`collect` waits for them."""
        return [pool.submit(self.create_apart, app, link.id) for link in page.creating]

    def collected(self, page: Page, page_of: RecordPage, creates: list[Future]) -> Done:
        """Wait for the page's creates and return the page, ready for its links:
        a link whose create failed goes to the worker as an event instead."""
        ids = [link.id for link in page.creating]
        results = [create.result() for create in creates]
        db.session.expire_all()
        for link_id, created in zip(ids, results, strict=True):
            link = db.session.get(SyncLink, link_id)
            if created:
                page.linking.append(link)
            else:
                page.to_events.append(self.as_event(link))
        return Done(
            after=page_of.after,
            count=len(page_of.records),
            skipped=page.skipped,
            linking=[link.id for link in page.linking],
            to_events=list(page.to_events),
        )

    def apart(self) -> Backfiller:
        """Return this backfill's engine bound to the session of the thread that
        calls it (inside an app context of its own)."""
        engine = Backfiller(
            db.session.get(Agency, self.agency_id),
            db.session.get(Connection, self.connection_id),
            self.connectors,
            self.clock,
        )
        engine.begun_here = self.begun_here
        return engine

    def create_apart(self, app, link_id: int) -> bool:
        """Create one person from a thread of its own, with a session of its own;
        return whether the create went through."""
        with app.app_context():
            return self.apart().create_one(db.session.get(SyncLink, link_id))

    def create_one(self, link: SyncLink) -> bool:
        """Create one person on the care side and record it on the link; return
        whether the create went through."""
        care = self.target
        change = self.create_change(link)
        try:
            applied = self.apply(care, change)
        except HubError as exc:
            log.info("%s: the create of link %s failed: %s", self.where(), link.id, exc)
            db.session.rollback()
            return False
        self.wrote(link, care, change.prospect, applied)
        link.intent = f"{BACKFILL}link:{self.source.name}"
        db.session.commit()
        return True

    def link_all(self, page: Page) -> int:
        """Give the sales side every care id and deal of the page in one go, and
        return how many people that linked; when it fails, each person goes to the
        worker as an event."""
        if not page.linking:
            return 0
        changes = [self.link_change(link) for link in page.linking]
        try:
            applied = self.apply_many(self.source, changes)
        except HubError as exc:
            log.info("%s: the linking writes failed: %s", self.where(), exc)
            db.session.rollback()
            page.to_events.extend(self.as_event(link) for link in page.linking)
            return 0
        for link, change, one in zip(page.linking, changes, applied, strict=True):
            self.linked_on_sales(link, change, one)
        return len(changes)

    def release(self, page: Page) -> int:
        """Make the events that waited for the page's people due now, since the
        backfill is done with them; return how many."""
        keys = [key for link in page.linking for key in links.person_keys(link)]
        released = 0
        for start in range(0, len(keys), 500):
            released += db.session.execute(
                sa.update(Event)
                .where(
                    Event.person_key.in_(keys[start : start + 500]),
                    Event.status == EventStatus.RETRY.value,
                )
                .values(next_attempt_at=self.clock.now())
            ).rowcount
        db.session.commit()
        return released

    def as_event(self, link: SyncLink) -> Change:
        """Hand a link's intent over to the worker; return the change that has the
        worker finish it."""
        link.intent = (link.intent or "").removeprefix(BACKFILL) or None
        db.session.commit()
        ref = links.primary_ref(link, self.source.name)
        return Change(
            kind=ChangeKind.UPDATED,
            ref=ref,
            purpose="backfill",
            dedup_key=f"{self.source.name}:backfill:{ref}:{link.key}",
        )

    def finish_apart(self, app, done: Done) -> Done:
        """Write a page's links, release its people's waiting events and store what
        it hands to the worker, from a thread of its own; return ``done`` counted."""
        with app.app_context():
            engine = self.apart()
            page = Page(
                linking=[db.session.get(SyncLink, i) for i in done.linking],
                to_events=done.to_events,
            )
            done.created = engine.link_all(page)
            released = engine.release(page)
            done.stored = store_changes(engine.source.connection, page.to_events)
            db.session.commit()
            notify_stored(done.stored)
            dispatcher = app.extensions.get("hub.dispatcher")
            if released and dispatcher is not None:
                dispatcher.wake()
        return done

    def close_earlier_attention(self, link: SyncLink) -> None:
        """The backfill has no event of its own; the worker settles the rest."""


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
