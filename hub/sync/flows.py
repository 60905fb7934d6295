"""The flows: what one event's change does to the other side.

The engine speaks of roles, never of vendors: the ``sales`` connector (a CRM such as
HubSpot) and the ``care`` connector (a care system such as ClearCare). ``docs/sync.md``
has the table of flows this module builds.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from hub.canonical import (
    PROSPECT_FIELDS,
    Applied,
    Change,
    ChangeKind,
    Prospect,
    ProspectStatus,
    RecordRef,
    Role,
)
from hub.errors import Deferred, HubError, NeedsAttention, RemoteError
from hub.extensions import db
from hub.models import Agency, Connection, Event, EventStatus, SyncLink
from hub.sync import links, people
from hub.sync.creation import (
    BACKFILL,
    CARE_CREATES_SALES,
    CREATE_GRACE,
    Creations,
    Result,
    Side,
)
from hub.sync.durable import saving_connection_state
from hub.sync.metrics import ECHOES_DROPPED, REMOTE_CALLS

log = logging.getLogger(__name__)

__all__ = ["CARE_CREATES_SALES", "EventSync", "Result", "Side"]


class EventSync(Creations):
    """Carries one stored event's change over to the agency's other connector."""

    def __init__(self, event: Event, connectors, clock, read_ahead=None) -> None:
        self.event = event
        self.connectors = connectors
        self.clock = clock
        #: The worker's :class:`hub.sync.readback.ReadAhead`, if it reads ahead.
        self.read_ahead = read_ahead
        self.begun_here = set()
        self.agency = db.session.get(Agency, event.agency_id)
        connection = db.session.get(Connection, event.connection_id)
        self.source = Side(connectors.info(event.connector), connection)
        self.change = Change.from_dict(event.payload)
        self._target: Side | None = None

    # -- the parts --------------------------------------------------------------

    @property
    def target(self) -> Side:
        """Return the agency's connector of the other role.

        :raises NeedsAttention: when the agency has none.
        """
        if self._target is None:
            wanted = Role.CARE if self.source.info.role == Role.SALES else Role.SALES
            for connection in self.agency.connections:
                try:
                    info = self.connectors.info(connection.connector)
                except HubError:
                    continue
                if info.role == wanted:
                    self._target = Side(info, connection)
                    break
            else:
                raise NeedsAttention(
                    f"The agency {self.agency.slug!r} has no {wanted.value} "
                    f"connection, so {self.source.info.label} changes have nowhere "
                    "to go. Connect one in the setup wizard, then replay this event."
                )
        return self._target

    def side(self, role: Role) -> Side:
        """Return the source or the target, whichever has the role."""
        return self.source if self.source.info.role == role else self.target

    def where(self) -> str:
        return (
            f"agency {self.agency.slug}, connector {self.source.name}, "
            f"event {self.event.id}"
        )

    def fetch(self, side: Side, ref: RecordRef) -> Prospect | None:
        """Read a remote object back through its connector."""
        return self._call(
            side,
            "fetch_record",
            lambda: self.connectors.fetch_record(side.name, side.connection, ref),
        )

    def read_back(self, ref: RecordRef, link: SyncLink | None) -> Prospect | None:
        """Read the event's own record back, perhaps read ahead with others."""
        if self.read_ahead is None:
            return self.fetch(self.source, ref)
        return self._call(
            self.source,
            "fetch_record",
            lambda: self.read_ahead.read(
                self.connectors, self.source.connection, self.event, ref, link
            ),
        )

    def apply(self, side: Side, change: Change) -> Applied:
        """Write a change through a connector.

        What the connector records on its connection meanwhile (such as the
        intent of a create) is saved at once and kept if the call fails, so a
        retry can look for the record instead of making a second one.
        """
        applied = self._write(
            side,
            "apply_change",
            lambda: self.connectors.apply_change(
                side.name, self.agency, side.connection, change
            ),
        )
        log.info(
            "%s: wrote a %s change to connector %s (%s).",
            self.where(),
            change.kind.value,
            side.name,
            ", ".join(f"{k} {v}" for k, v in applied.remote_ids.items()) or "no ids",
        )

        return applied

    def apply_many(self, side: Side, changes: list[Change]) -> list[Applied]:
        """Write many changes through a connector at once, as :meth:`apply` writes
        one."""
        applied = self._write(
            side,
            "apply_changes",
            lambda: self.connectors.apply_changes(
                side.name, self.agency, side.connection, changes
            ),
        )
        log.info(
            "%s: wrote %d change(s) to connector %s at once.",
            self.where(),
            len(changes),
            side.name,
        )

        return applied

    def _write(self, side: Side, hook: str, call):
        try:
            with saving_connection_state():
                return self._call(side, hook, call)
        except Exception:
            self.keep_connection_state()
            raise

    def keep_connection_state(self) -> None:
        """Commit what connectors wrote to their connections, and nothing else."""
        kept = {
            obj: dict(obj.state or {})
            for obj in db.session.dirty
            if isinstance(obj, Connection)
        }
        db.session.rollback()
        for connection, state in kept.items():
            connection.state = state
        db.session.commit()

    def _call(self, side: Side, hook: str, call):
        try:
            result = call()
        except RemoteError as exc:
            status = str(exc.remote_status or exc.code)
            REMOTE_CALLS.labels(side.name, hook, status).inc()
            raise
        except HubError as exc:
            REMOTE_CALLS.labels(side.name, hook, exc.code).inc()
            raise
        except Exception:
            REMOTE_CALLS.labels(side.name, hook, "error").inc()
            raise
        REMOTE_CALLS.labels(side.name, hook, "ok").inc()

        return result

    # -- the event ----------------------------------------------------------------

    def run(self) -> Result:
        """Sync the event's change; return how it ended.

        :raises HubError: when it cannot go through now (retried or needing
            attention, as the error says).
        """
        ref = self.change.ref
        if ref is None:
            return Result(
                EventStatus.DROPPED, "no_record", "The change names no record."
            )

        link = links.find(self.agency.id, self.source.name, ref)
        if link is None and self.change.other_ids:
            link = links.find_any(
                self.agency.id, self.target.name, self.change.other_ids
            )
            if link is not None:
                self.adopt(link, ref)

        if link is not None and (link.intent or "").startswith(BACKFILL):
            self.wait_for_backfill(link)
        if self.own_create(link):
            ECHOES_DROPPED.labels(self.source.name).inc()
            return Result(
                EventStatus.DROPPED, "echo", "The echo of the hub's own create."
            )

        if link is not None and not link.intent:
            self.settle(link)
        record = self.read_back(ref, link)
        if self.change.kind == ChangeKind.DEACTIVATED and record is not None:
            record = record.replace(active=False)
        if record is None:
            return self.gone(link)
        if link is None:
            return self.unlinked(record)
        if link.intent and link.intent.startswith("create:"):
            self.remember(link, self.source, record)
            return self.finish_intent(link)
        if link.intent:
            finished = self.finish_intent(link)
            carried = self.linked(link, record, after_own_write=True)
            return finished if carried.status == EventStatus.DROPPED else carried

        return self.linked(link, record)

    def settle(self, link: SyncLink) -> None:
        """Let an event that may be the echo of the hub's own write wait a moment,
        so that the records of its burst are read back together.

        :raises Deferred: when it should wait.
        """
        if self.read_ahead is None:
            return
        wait = self.read_ahead.settling(self.connectors, self.event, link)
        if wait:
            raise Deferred(
                "The hub wrote to this person moments ago; the event waits "
                f"{wait:.1f} s so that the echoes of that write are read back "
                "together.",
                retry_after=wait,
            )

    def wait_for_backfill(self, link: SyncLink) -> None:
        """Leave a person the backfill is creating or linking to the backfill, or
        take its intent over when the backfill has been gone for a while.

        :raises Deferred: while the backfill may still be at work on the person.
        """
        begun = link.intent_at
        if begun is not None and self.clock.now() - begun < CREATE_GRACE:
            link_id = link.id

            def still_held() -> bool:
                # The backfill makes the waiting events due once it is done with a
                # person; this catches the one it could not see, being run then.
                intent = db.session.scalar(
                    sa.select(SyncLink.intent).where(SyncLink.id == link_id)
                )
                return (intent or "").startswith(BACKFILL)

            raise Deferred(
                "The backfill is creating or linking this person right now; the "
                "event runs again once it has.",
                retry_after=30,
                still_waiting=still_held,
            )
        log.info("%s: took over link %s from a backfill.", self.where(), link.id)
        link.intent = link.intent.removeprefix(BACKFILL)
        db.session.commit()

    def own_create(self, link: SyncLink | None) -> bool:
        """Return whether the event says only that a record was created which the
        hub itself created, and consume the echo the hub awaited.

        Such an event holds nothing to carry over, so it needs no read-back: an
        edit made after the create sends a webhook of its own.
        """
        awaited = f"{self.source.name}:echo"
        if (
            self.change.kind != ChangeKind.CREATED
            or link is None
            or link.intent
            or awaited not in (link.fingerprints or {})
        ):
            return False
        link.fingerprints = {k: v for k, v in link.fingerprints.items() if k != awaited}
        db.session.commit()
        return True

    def adopt(self, link: SyncLink, ref: RecordRef) -> None:
        """Add a source record that names the other side's record to its link.

        :raises NeedsAttention: when the link holds another record of that kind,
            such as a duplicate contact naming the same prospect.
        """
        held = link.ids(self.source.name).get(ref.kind)
        if held is not None and held != str(ref.id):
            label, care = self.source.info.label, self.target.info.label
            raise NeedsAttention(
                f"The {label} {ref.kind} {ref.id} names a {care} record that is "
                f"linked to {label} {ref.kind} {held} already. Merge the two in "
                f"{label}, or clear the {care} id on one of them, then replay this "
                "event."
            )
        links.add_refs(link, self.source.name, {ref.kind: ref.id})
        db.session.commit()

    def gone(self, link: SyncLink | None) -> Result:
        """Handle a record its connector no longer has."""
        if link is not None and self.source.info.role == Role.CARE and link.active:
            link.active = False
            db.session.commit()
            return Result(
                EventStatus.DONE,
                "deactivated",
                f"The {self.source.info.label} record is gone; the link is inactive.",
            )

        return Result(
            EventStatus.DROPPED,
            "gone",
            f"The {self.source.info.label} record no longer exists.",
        )

    # -- a person the hub knows -----------------------------------------------------

    def linked(
        self, link: SyncLink, record: Prospect, after_own_write: bool = False
    ) -> Result:
        """Carry what changed on the source over to the target.

        :param after_own_write: the event just wrote to its own source, so the echo
            of that write is still to come.
        """
        source, target = self.source, self.target
        names = people.COMPARED
        if source.info.role != Role.CARE:
            names = tuple(n for n in names if n != "active")
        before = people.load(link.snapshots.get(source.name))
        changed = people.changed(before, record, names)
        self.remember(link, source, record)
        fingerprints = dict(link.fingerprints or {})
        awaited = None
        if not after_own_write:
            awaited = fingerprints.pop(f"{source.name}:echo", None)
        echo = awaited is not None or record.fingerprint() in (
            fingerprints.get(source.name),
            fingerprints.get(f"{source.name}:sent"),
        )

        if not changed:
            link.fingerprints = fingerprints
            db.session.commit()
            if echo:
                ECHOES_DROPPED.labels(source.name).inc()
                return Result(
                    EventStatus.DROPPED, "echo", "The echo of the hub's own write."
                )
            return Result(EventStatus.DROPPED, "unchanged", "Nothing synced changed.")

        if "active" in changed and not record.active:
            link.active = False
            db.session.commit()
            return Result(
                EventStatus.DONE,
                "deactivated",
                f"The {source.info.label} record was deactivated; the link is "
                f"inactive and {target.info.label} is left as it is.",
            )
        if not link.active:
            if source.info.role != Role.CARE:
                db.session.commit()
                return Result(
                    EventStatus.DROPPED,
                    "inactive",
                    "The person's link is inactive: their care record was deactivated.",
                )
            link.active = True

        wrote = self.carry_over(link, record, changed)
        db.session.commit()

        return Result(
            EventStatus.DONE,
            "synced",
            f"Wrote {people.describe_fields(wrote)} to {target.info.label}.",
        )

    def carry_over(
        self, link: SyncLink, record: Prospect, changed: list[str]
    ) -> list[str]:
        """Write the changed values to the target; return the names written."""
        source, target = self.source, self.target
        desired = people.load(link.snapshots.get(target.name))
        fields = [name for name in changed if name in PROSPECT_FIELDS]
        status = record.status if "status" in changed else None
        if (
            source.info.role == Role.CARE
            and "is_client" in changed
            and record.is_client
            and status is None
        ):
            status = ProspectStatus.CARE_STARTED

        wrote: list[str] = []
        target_ids = link.ids(target.name)
        target_ref = links.primary_ref(link, target.name)
        if fields:
            desired = desired.replace(
                **{name: getattr(record, name) for name in fields}
            )
            applied = self.apply(
                target,
                Change(
                    kind=ChangeKind.UPDATED,
                    ref=target_ref,
                    prospect=desired,
                    link_key=link.key,
                    remote_ids=target_ids,
                    other_ids=link.ids(source.name),
                    data={"changed": fields},
                ),
            )
            self.wrote(link, target, desired, applied)
            db.session.commit()
            wrote += fields

        if status is not None:
            desired = desired.replace(status=status)
            if target.info.role == Role.CARE and status == ProspectStatus.CARE_STARTED:
                desired = desired.replace(is_client=True)
            applied = self.apply(
                target,
                Change(
                    kind=ChangeKind.STATUS_CHANGED,
                    ref=target_ref,
                    prospect=desired,
                    link_key=link.key,
                    remote_ids=link.ids(target.name),
                    other_ids=link.ids(source.name),
                    data={"changed": ["status"]},
                ),
            )
            self.wrote(link, target, desired, applied)
            wrote.append("status")

        return wrote
