"""The engine's steps of the backfill for one page of records: which records to
create, to link or to hand to the worker, the creates (each in a thread and a
session of its own), and the page's links written in one batch call."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from hub.canonical import Change, ChangeKind, ProspectStatus, RecordPage, RecordRef
from hub.errors import HubError, NeedsAttention
from hub.extensions import db
from hub.inbox import notify_stored, store_changes
from hub.models import Agency, Connection, Event, EventStatus, SyncLink
from hub.sync import links, people
from hub.sync.creation import BACKFILL, Side
from hub.sync.flows import EventSync

log = logging.getLogger(__name__)


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
