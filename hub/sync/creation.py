"""Making a person on the other side exactly once: the creates and links the
engine begins, records, and finishes after a crash or a lost answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from hub.canonical import (
    PROSPECT_FIELDS,
    Applied,
    Change,
    ChangeKind,
    ConnectorInfo,
    Prospect,
    ProspectStatus,
    RecordRef,
    Role,
)
from hub.errors import NeedsAttention, RemoteError
from hub.extensions import db
from hub.models import Connection, Event, EventStatus, SyncLink, utcnow
from hub.sync import links, people

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """How an event ended: its status, a short outcome and a sentence."""

    status: str
    outcome: str
    detail: str = ""


@dataclass
class Side:
    """One connector of the agency as the engine uses it."""

    info: ConnectorInfo
    connection: Connection

    @property
    def name(self) -> str:
        return self.info.name


#: The agency setting that lets a patient created in the care system, and not
#: linked, become a contact and a deal in the sales CRM.
CARE_CREATES_SALES = "care_creates_sales"

#: How long a create the hub began on one side keeps that side's "created" webhooks
#: of unknown records waiting, since they may be the create's own echo; and how long
#: the worker leaves a backfill's intent to the backfill.
CREATE_GRACE = timedelta(minutes=10)

#: The prefix of an intent the backfill holds while it finishes it itself.
BACKFILL = "backfill:"


class Creations:
    """The part of :class:`hub.sync.flows.EventSync` that makes new people."""

    #: The ids of the links whose intent this run began; a create of any other
    #: link's intent may have been tried before.
    begun_here: set[int]

    # -- a person the hub does not know yet ---------------------------------------

    def unlinked(self, record: Prospect) -> Result:
        """Handle a record of a person no sync link holds yet."""
        if not any(record.fields().values()):
            ref = self.change.ref
            return Result(
                EventStatus.DROPPED,
                "not_linked",
                f"The {self.source.info.label} {ref.kind} {ref.id} is linked to no "
                "one and holds no person's fields to start from.",
            )
        if self.source.info.role == Role.SALES:
            return self.create_from_sales(record)
        return self.create_from_care(record)

    def create_from_sales(self, record: Prospect) -> Result:
        """A sales contact with no prospect: link it to the one it names, or create
        a prospect once it is complete."""
        ref = self.change.ref
        care = self.target
        named = self.named_care_record()
        if named is not None:
            care_ids, care_record = named
            link = self.new_link({ref.kind: ref.id}, record)
            links.add_refs(link, care.name, care_ids)
            self.remember(link, care, care_record)
            link.intent = f"link:{self.source.name}"
            link.intent_at = self.clock.now()
            db.session.commit()
            self.finish_intent(link)
            return Result(
                EventStatus.DONE,
                "linked",
                f"Linked to the {care.info.label} record it names.",
            )

        record = self.complete(record)
        link = self.new_link({ref.kind: ref.id}, record)
        link.intent = f"create:{care.name}"
        link.intent_at = self.clock.now()
        db.session.commit()
        self.begun_here.add(link.id)

        return self.finish_intent(link)

    def named_care_record(self) -> tuple[dict[str, str], Prospect] | None:
        """Return the care ids a sales record already carries and that record."""
        ids = {k: str(v) for k, v in self.change.other_ids.items() if v}
        for kind, remote_id in ids.items():
            found = self.fetch(self.target, RecordRef(kind, remote_id))
            if found is not None:
                return ids, found
        return None

    def complete(self, record: Prospect) -> Prospect:
        """Return the record with the agency's only location filled in.

        :raises NeedsAttention: naming the fields a prospect still lacks.
        """
        missing = [
            name
            for name in self.agency.required_fields
            if name in PROSPECT_FIELDS
            and name != "location"
            and not getattr(record, name)
        ]
        locations = [loc for loc in self.agency.locations if loc.active]
        by_name = {loc.name.casefold(): loc.remote_id for loc in locations}
        location = record.location
        if location and location not in {loc.remote_id for loc in locations}:
            location = by_name.get(
                location.casefold(), location if not locations else None
            )
        if len(locations) == 1 and not location:
            location = locations[0].remote_id
        wanted = len(locations) > 1 or "location" in self.agency.required_fields
        if wanted and not location:
            missing.append("location")
        if missing:
            raise NeedsAttention(self.missing_message(missing))

        return record.replace(location=location)

    def missing_message(self, missing: list[str]) -> str:
        sales, care = self.source.info.label, self.target.info.label
        names = people.describe_fields(missing).replace("location", f"{care} location")
        ref = self.change.ref

        return (
            f"The {sales} {ref.kind} {ref.id} cannot become a {care} prospect yet: it "
            f"has no {names}. Fill them in on the {ref.kind} in {sales}; the prospect "
            f"is made as soon as they are there. To have {sales} ask for them on "
            f"every new {ref.kind}, make them required: in {sales} open Settings › "
            f"Objects › Contacts, choose Manage beside the properties users see when "
            f"creating contacts, and tick Required for each."
        )

    def create_from_care(self, record: Prospect) -> Result:
        """A care record no link holds: nothing, unless the agency asks for a
        contact and a deal."""
        label = self.source.info.label
        if not self.agency.settings.get(CARE_CREATES_SALES):
            return Result(
                EventStatus.DROPPED,
                "not_linked",
                f"The {label} record is not linked to anyone and the agency does not "
                f"create {self.target.info.label} records for those.",
            )
        if self.creates_in_flight(self.source):
            raise RemoteError(
                f"The hub is creating a {label} record right now and this may be its "
                "echo; it is looked at again once that create is recorded.",
                retryable=True,
                retry_after=5,
            )

        ref = self.change.ref
        link = self.new_link({ref.kind: ref.id}, record)
        link.intent = f"create:{self.target.name}"
        link.intent_at = self.clock.now()
        db.session.commit()
        self.begun_here.add(link.id)

        return self.finish_intent(link)

    def creates_in_flight(self, side: Side) -> bool:
        """Return whether the hub began a create on a side and has not recorded it."""
        since = self.clock.now() - CREATE_GRACE
        return (
            db.session.scalar(
                sa.select(sa.func.count(SyncLink.id)).where(
                    SyncLink.agency_id == self.agency.id,
                    SyncLink.intent.in_(
                        (f"create:{side.name}", f"{BACKFILL}create:{side.name}")
                    ),
                    SyncLink.intent_at >= since,
                )
            )
            > 0
        )

    def new_link(self, ids: dict[str, str], record: Prospect) -> SyncLink:
        """Make a sync link holding the source's ids and what the source holds."""
        link = SyncLink(agency_id=self.agency.id, fingerprints={}, snapshots={})
        db.session.add(link)
        db.session.flush()
        links.add_refs(link, self.source.name, ids)
        self.remember(link, self.source, record)

        return link

    def remember(self, link: SyncLink, side: Side, record: Prospect) -> None:
        """Merge what a side holds into the link's snapshot of that side."""
        before = people.load(link.snapshots.get(side.name))
        merged = people.merge(before, record)
        link.snapshots = {**(link.snapshots or {}), side.name: merged.to_dict()}

    # -- finishing creates exactly once --------------------------------------------

    def finish_intent(self, link: SyncLink) -> Result:
        """Finish the create or link a sync link records as begun.

        Each step is recorded before the next starts, so a retry after a lost
        answer repeats only the step whose answer was lost, and the connectors make
        that step safe to repeat (an upsert keyed by the link, or a look for the
        record before creating it again).
        """
        action, _, connector = (link.intent or "").partition(":")
        sales, care = self.side(Role.SALES), self.side(Role.CARE)
        created_on = care if connector == care.name else sales

        if action == "create":
            change = self.create_change(link)
            applied = self.apply(created_on, change)
            self.wrote(link, created_on, change.prospect, applied)
            link.intent = f"link:{sales.name}" if created_on is care else None
            db.session.commit()
            self.close_earlier_attention(link)
            if link.intent is None:
                return Result(
                    EventStatus.DONE,
                    "created",
                    f"Created the person in {created_on.info.label}.",
                )

        change = self.link_change(link)
        applied = self.apply(sales, change)
        self.linked_on_sales(link, change, applied)
        self.close_earlier_attention(link)

        return Result(
            EventStatus.DONE,
            "created" if action == "create" else "linked",
            f"{care.info.label} and {sales.info.label} now hold the person, linked.",
        )

    def create_change(self, link: SyncLink) -> Change:
        """Return the change that makes the person on the side the link's
        ``create:`` intent names, from what the other side holds."""
        connector = (link.intent or "").removeprefix(BACKFILL).partition(":")[2]
        sales, care = self.side(Role.SALES), self.side(Role.CARE)
        created_on, origin = (care, sales) if connector == care.name else (sales, care)
        prospect = people.load(link.snapshots.get(origin.name))
        prospect = prospect.replace(
            status=prospect.status or ProspectStatus.NEW_LEAD,
            is_client=bool(prospect.is_client),
            active=True,
        )
        if created_on is care:
            prospect = prospect.replace(status=ProspectStatus.NEW_LEAD, is_client=False)

        data = {"intent_at": link.intent_at.isoformat() + "Z"}
        if link.id not in self.begun_here:
            data["tried_before"] = True

        return Change(
            kind=ChangeKind.CREATED,
            prospect=prospect,
            link_key=link.key,
            remote_ids=link.ids(created_on.name),
            other_ids=link.ids(origin.name),
            data=data,
        )

    def link_change(self, link: SyncLink) -> Change:
        """Return the change that gives the sales side the care record's id and the
        person's deal, in the status the care side holds."""
        sales, care = self.side(Role.SALES), self.side(Role.CARE)
        prospect = people.load(link.snapshots.get(sales.name))
        status = people.load(link.snapshots.get(care.name)).status
        prospect = prospect.replace(status=status or ProspectStatus.NEW_LEAD)

        return Change(
            kind=ChangeKind.LINKED,
            ref=links.primary_ref(link, sales.name),
            prospect=prospect,
            link_key=link.key,
            remote_ids=link.ids(sales.name),
            other_ids=link.ids(care.name),
        )

    def linked_on_sales(self, link: SyncLink, change: Change, applied: Applied) -> None:
        """Record the sales side's link as written and the link's intent as done."""
        self.wrote(link, self.side(Role.SALES), change.prospect, applied)
        link.intent = None
        link.intent_at = None
        db.session.commit()

    def wrote(
        self, link: SyncLink, side: Side, prospect: Prospect, applied: Applied
    ) -> None:
        """Record what the hub wrote to a side, to know its echo when it comes."""
        links.add_refs(link, side.name, dict(applied.remote_ids or {}))
        self.remember(link, side, prospect)
        written = prospect.fingerprint()
        fingerprints = {
            **(link.fingerprints or {}),
            side.name: applied.fingerprint or written,
            f"{side.name}:sent": written,
            f"{side.name}:written": utcnow().isoformat(),
        }
        if applied.wrote:
            # The next webhook of that side that changes nothing is this write's.
            fingerprints[f"{side.name}:echo"] = written
        link.fingerprints = fingerprints

    def close_earlier_attention(self, link: SyncLink) -> None:
        """Mark this person's events that waited for missing fields as settled."""
        db.session.execute(
            sa.update(Event)
            .where(
                Event.person_key.in_(links.person_keys(link)),
                Event.status == EventStatus.NEEDS_ATTENTION.value,
                Event.id < self.event.id,
            )
            .values(status=EventStatus.DONE.value, outcome="superseded")
        )
        db.session.commit()
