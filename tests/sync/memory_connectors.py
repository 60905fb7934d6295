"""Two in-memory connectors for the sync engine's tests: a CRM and a care system.

Each keeps its records in a dictionary, writes as the real connectors do (the deal
upserted by link key, the prospect created after recording an intent), queues the
webhook its vendor would send for every write, and fails on demand.
"""

from __future__ import annotations

import hmac
import itertools
import json
import time
from dataclasses import dataclass, field

from marshmallow import Schema, fields

from hub import (
    Applied,
    Change,
    ChangeBatch,
    ChangeKind,
    ConnectorInfo,
    Direction,
    Prospect,
    ProspectStatus,
    RecordPage,
    RecordRef,
    Role,
    hookimpl,
)
from hub.errors import MalformedEvent, VerificationFailed


class KeySettings(Schema):
    api_key = fields.String(required=True, metadata={"secret": True})


class WorkerKilled(BaseException):
    """Stands for ``kill -9``: nothing after it runs, not even ``except Exception``."""


@dataclass
class Fault:
    """Makes the next ``count`` calls of a hook fail, before or after they act."""

    hook: str
    error: BaseException
    count: int = 1
    after: bool = False
    #: Matching calls to let through before failing.
    skip: int = 0


@dataclass
class Remote:
    """The state of one fake vendor: records, queued webhooks, faults, call log."""

    records: dict[str, dict[str, Prospect]] = field(default_factory=dict)
    outbox: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    #: Seconds each fetch takes, and the fetches running at once, for ordering tests.
    delay: float = 0.0
    busy: list[str] = field(default_factory=list)
    overlaps: int = 0
    ids: itertools.count = field(default_factory=lambda: itertools.count(101))

    def get(self, kind: str, record_id: str) -> Prospect | None:
        return self.records.get(kind, {}).get(str(record_id))

    def put(self, kind: str, record_id: str, prospect: Prospect) -> None:
        self.records.setdefault(kind, {})[str(record_id)] = prospect

    def all(self, kind: str) -> dict[str, Prospect]:
        return self.records.get(kind, {})

    def new_id(self) -> str:
        return str(next(self.ids))

    def fail(
        self, hook: str, error: BaseException, count=1, after=False, skip=0
    ) -> None:
        self.faults.append(Fault(hook, error, count, after, skip))

    def check(self, hook: str, after: bool = False) -> None:
        self.calls.append(hook if not after else f"{hook}:after")
        for fault in self.faults:
            if fault.hook == hook and fault.after == after and fault.count > 0:
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.count -= 1
                raise fault.error


class MemoryConnector:
    """What both fake connectors share: webhooks by ``X-Key`` and a JSON body."""

    name = ""
    role = Role.SALES
    purposes: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.remote = Remote()

    @hookimpl
    def register_connectors(self, register):
        register(
            ConnectorInfo(
                name=self.name,
                label=self.label,
                role=self.role,
                settings_schema=KeySettings,
                webhook_purposes=self.purposes,
                provision_steps=("setup",),
            )
        )

    @hookimpl
    def receive_event(self, connector, connection, inbound):
        if connector != self.name:
            return None
        given = inbound.header("X-Key") or ""
        if not hmac.compare_digest(given, connection.credentials["api_key"]):
            raise VerificationFailed("The X-Key header is wrong.")
        body = inbound.json()
        if not isinstance(body, dict) or "id" not in body:
            raise MalformedEvent("The body must be an object with an 'id'.")
        return [
            Change(
                kind=ChangeKind(body.get("kind", "updated")),
                ref=RecordRef(body["type"], str(body["id"])),
                dedup_key=body.get("delivery"),
                other_ids=body.get("other") or {},
            )
        ]

    @hookimpl
    def fetch_record(self, connector, ref):
        if connector != self.name:
            return None
        self.remote.check("fetch_record")
        self.reading(ref.id)
        return self.remote.get(ref.kind, ref.id)

    def reading(self, name: str) -> None:
        """Take the remote's delay, counting calls that overlap."""
        self.remote.busy.append(name)
        if len(self.remote.busy) > 1:
            self.remote.overlaps += 1
        time.sleep(self.remote.delay)
        self.remote.busy.remove(name)

    @hookimpl
    def map_status(self, connector, status, direction):
        if connector != self.name:
            return None
        if direction == Direction.TO_NATIVE:
            return status.name.lower()
        return ProspectStatus[status.upper()]

    @hookimpl
    def fetch_changes(self, connector, cursor):
        if connector != self.name:
            return None
        return ChangeBatch(changes=[], cursor=cursor)

    @hookimpl
    def provision(self, connector, agency, connection, report):
        if connector != self.name:
            return None
        self.remote.check("provision")
        report("setup", "running", "")
        connection.update_state(provisioned=True)
        report("setup", "done", f"{self.label} is ready.")
        return self.facts()

    def facts(self):
        return None

    @hookimpl
    def apply_change(self, connector, agency, connection, change):
        if connector != self.name:
            return None
        self.remote.check("apply_change")
        applied = self.write(connection, change)
        self.remote.check("apply_change", after=True)
        return applied

    def queue(self, purpose: str, object_kind: str, record_id: str, **extra) -> None:
        body = {
            "type": object_kind,
            "id": record_id,
            "kind": extra.pop("kind", "updated"),
        }
        self.remote.outbox.append({"purpose": purpose, "body": {**body, **extra}})


class MemorySales(MemoryConnector):
    """A CRM of contacts and deals, like HubSpot."""

    name = "memsales"
    label = "SalesCRM"
    role = Role.SALES
    purposes = ("contact.created", "contact.changed", "deal.stage_changed")

    def __init__(self) -> None:
        super().__init__()
        #: The care id written onto each contact, by contact id.
        self.care_ids: dict[str, str] = {}
        #: The deal of each link key, and the contact each deal belongs to.
        self.deal_by_link: dict[str, str] = {}
        self.deal_contact: dict[str, str] = {}
        self.deal_names: dict[str, str] = {}

    def create_contact(self, prospect: Prospect, **other) -> str:
        """Add a contact as a person would, queueing the workflow's webhook."""
        contact_id = self.remote.new_id()
        self.remote.put("contact", contact_id, prospect)
        self.queue("contact.created", "contact", contact_id, kind="created", **other)
        return contact_id

    def edit_contact(self, contact_id: str, **values) -> None:
        current = self.remote.get("contact", contact_id)
        self.remote.put("contact", contact_id, current.replace(**values))
        self.queue("contact.changed", "contact", contact_id)

    def move_deal(self, deal_id: str, status: ProspectStatus) -> None:
        self.remote.put("deal", deal_id, Prospect(status=status))
        self.queue("deal.stage_changed", "deal", deal_id, kind="status_changed")

    def deal_of(self, contact_id: str) -> str | None:
        return next((d for d, c in self.deal_contact.items() if c == contact_id), None)

    def add_existing(self, prospect: Prospect, status=None, care_id=None) -> str:
        """Add a contact (with a deal when ``status`` is given) that was there
        before the hub, so no webhook is queued for it."""
        contact_id = self.remote.new_id()
        self.remote.put("contact", contact_id, prospect)
        if status is not None:
            deal = self.remote.new_id()
            self.remote.put("deal", deal, Prospect(status=status))
            self.deal_contact[deal] = contact_id
        if care_id is not None:
            self.care_ids[contact_id] = care_id
        return contact_id

    @hookimpl
    def list_records(self, connector, after, limit):
        if connector != self.name:
            return None
        self.remote.check("list_records")
        ids = sorted(self.remote.all("contact"), key=int)
        ids = [i for i in ids if after is None or int(i) > int(after)][:limit]
        records = []
        for contact in ids:
            deal = self.deal_of(contact)
            status = self.remote.get("deal", deal).status if deal else None
            care_id = self.care_ids.get(contact)
            records.append(
                Change(
                    ChangeKind.CREATED,
                    ref=RecordRef("contact", contact),
                    prospect=self.remote.get("contact", contact).replace(status=status),
                    remote_ids={"contact": contact, **({"deal": deal} if deal else {})},
                    other_ids={"patient": care_id} if care_id else {},
                    purpose="contact.created",
                    dedup_key=f"memsales:backfill:{contact}",
                )
            )
        more = len(ids) == limit and ids[-1] != max(self.remote.all("contact"), key=int)
        return RecordPage(records=records, after=ids[-1] if more else None)

    @hookimpl
    def fetch_records(self, connector, refs):
        if connector != self.name:
            return None
        self.remote.check("fetch_records")
        self.reading(",".join(ref.id for ref in refs))
        return {ref: self.remote.get(ref.kind, ref.id) for ref in refs}

    @hookimpl
    def apply_changes(self, connector, agency, connection, changes):
        if connector != self.name:
            return None
        self.remote.check("apply_changes")
        applied = [self.write(connection, change) for change in changes]
        self.remote.check("apply_changes", after=True)
        return applied

    def write(self, connection, change: Change) -> Applied:
        ids = dict(change.remote_ids)
        prospect = change.prospect
        if change.kind == ChangeKind.CREATED and "contact" not in ids:
            ids["contact"] = self.remote.new_id()
            self.remote.put("contact", ids["contact"], prospect.replace(status=None))
        elif change.kind in (ChangeKind.UPDATED, ChangeKind.LINKED, ChangeKind.CREATED):
            contact = ids["contact"]
            fields_only = prospect.replace(status=None, is_client=None)
            current = self.remote.get("contact", contact) or Prospect()
            if change.kind != ChangeKind.LINKED:
                merged = current.replace(
                    **{k: v for k, v in fields_only.fields().items() if v is not None}
                )
                if merged != current:
                    self.remote.put("contact", contact, merged)
                    self.queue("contact.changed", "contact", contact)
        if change.other_ids.get("patient"):
            self.care_ids[ids["contact"]] = change.other_ids["patient"]

        if change.kind in (ChangeKind.CREATED, ChangeKind.LINKED):
            deal = (
                self.deal_by_link.get(change.link_key)
                or ids.get("deal")
                or self.remote.new_id()
            )
            self.deal_by_link[change.link_key] = deal
            self.deal_contact[deal] = ids["contact"]
            self.deal_names[deal] = prospect.full_name
            self.remote.put(
                "deal",
                deal,
                Prospect(status=prospect.status or ProspectStatus.NEW_LEAD),
            )
            ids["deal"] = deal
        elif change.kind == ChangeKind.STATUS_CHANGED:
            deal = ids["deal"]
            if self.remote.get("deal", deal).status != prospect.status:
                self.remote.put("deal", deal, Prospect(status=prospect.status))
                self.queue("deal.stage_changed", "deal", deal, kind="status_changed")

        return Applied(remote_ids=ids, fingerprint=prospect.fingerprint())


class MemoryCare(MemoryConnector):
    """A care system of patients, like ClearCare."""

    name = "memcare"
    label = "CareSys"
    role = Role.CARE
    purposes = ("patient",)

    def __init__(self) -> None:
        super().__init__()
        #: The patient made for each link key, as a search of the remote finds it.
        self.made_for: dict[str, str] = {}
        self.locations = None

    def facts(self):
        from hub import AgencyFacts

        return AgencyFacts(locations=self.locations) if self.locations else None

    def create_patient(self, prospect: Prospect) -> str:
        patient_id = self.remote.new_id()
        self.remote.put("patient", patient_id, prospect)
        self.queue("patient", "patient", patient_id, kind="created")
        return patient_id

    def edit_patient(self, patient_id: str, **values) -> None:
        current = self.remote.get("patient", patient_id)
        self.remote.put("patient", patient_id, current.replace(**values))
        kind = "deactivated" if values.get("active") is False else "updated"
        self.queue("patient", "patient", patient_id, kind=kind)

    def create_once(self, connection, change: Change) -> str:
        """Create a patient after recording the intent on the connection; a try
        that finds the intent, or that the hub says may follow an earlier one,
        looks for the patient first, as ClearCare's does."""
        key = change.link_key
        intents = dict((connection.state or {}).get("intents", {}))
        if key in intents or change.data.get("tried_before"):
            self.remote.check("look")
            if key in self.made_for:
                intents.pop(key, None)
                connection.update_state(intents=intents)
                return self.made_for[key]
        connection.update_state(intents={**intents, key: True})
        self.reading(key)
        patient = self.create_patient(change.prospect)
        self.made_for[key] = patient
        self.remote.check("create", after=True)
        intents.pop(key, None)
        connection.update_state(intents=intents)
        return patient

    def write(self, connection, change: Change) -> Applied:
        prospect = change.prospect
        patient = change.remote_ids.get("patient")
        if change.kind == ChangeKind.CREATED and patient is None:
            patient = self.create_once(connection, change)
            return Applied(
                remote_ids={"patient": patient}, fingerprint=prospect.fingerprint()
            )

        current = self.remote.get("patient", patient)
        if current != prospect:
            self.remote.put("patient", patient, prospect)
            self.queue("patient", "patient", patient)
        return Applied(
            remote_ids={"patient": patient}, fingerprint=prospect.fingerprint()
        )


def webhook_body(item: dict) -> str:
    return json.dumps(item["body"])
