"""The CRM-neutral words every connector speaks.

A connector translates its vendor's objects into these values on the way in and out
of the hub, so the core and the sync engine never see a vendor's shapes.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Role(enum.StrEnum):
    """What kind of system a connector talks to."""

    #: A CRM that sells care, such as HubSpot.
    SALES = "sales"
    #: A care system that runs care, such as ClearCare.
    CARE = "care"


class ProspectStatus(enum.Enum):
    """The 12 prospect statuses, in the order a prospect moves through them."""

    NEW_LEAD = "New Lead"
    INITIAL_PHONE_CALL = "Initial Phone Call"
    ASSESSMENT_SCHEDULED = "Assessment Scheduled"
    ASSESSMENT_PERFORMED = "Assessment Performed"
    WANTS_TO_MEET_CANDIDATES = "Wants to Meet Candidates"
    NEEDS_CONTRACT = "Needs Contract"
    EXPECTING_CLIENT_SIGNATURE = "Expecting Client Signature"
    COLLECT_PAYMENT_INFORMATION = "Collect Payment Information"
    READY_TO_SCHEDULE_CARE = "Ready to Schedule Care"
    CARE_STARTED = "Care Started"
    CLOSED_WON = "Closed-Won"
    CLOSED_LOST = "Closed-Lost"

    @property
    def label(self) -> str:
        """Return the label shown to people, the same in HubSpot and ClearCare."""
        return self.value

    @property
    def position(self) -> int:
        """Return the status's place in the order, starting at 0."""
        return list(ProspectStatus).index(self)

    @property
    def is_closed(self) -> bool:
        """Return whether a deal in this status is closed."""
        return self in (ProspectStatus.CLOSED_WON, ProspectStatus.CLOSED_LOST)

    @classmethod
    def from_label(cls, label: str) -> ProspectStatus:
        """Return the status with this label, ignoring case and spacing.

        :raises ValueError: when no status has the label.
        """
        wanted = " ".join(label.replace("-", " ").split()).casefold()
        for status in cls:
            if " ".join(status.value.replace("-", " ").split()).casefold() == wanted:
                return status
        raise ValueError(f"{label!r} is not one of the 12 prospect statuses.")


class ChangeKind(enum.StrEnum):
    """What happened to a person on one side."""

    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    #: The other side now holds this person: store its id and create what is missing.
    LINKED = "linked"
    DEACTIVATED = "deactivated"


class Direction(enum.StrEnum):
    """Which way ``map_status`` translates."""

    TO_NATIVE = "to_native"
    FROM_NATIVE = "from_native"


#: The prospect's fields that sync, in the order forms show them.
PROSPECT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile_phone",
    "street",
    "city",
    "state",
    "postal_code",
    "location",
)


@dataclass(frozen=True)
class Prospect:
    """One person as both sides know them: the fields that sync and the status.

    ``None`` means the side does not hold a value; an empty string means it holds an
    empty one. ``location`` is the agency's location id as the care system names it.
    """

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile_phone: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    location: str | None = None
    status: ProspectStatus | None = None
    is_client: bool | None = None
    active: bool = True

    @property
    def full_name(self) -> str:
        """Return the first and last name joined, as a deal is named."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def fields(self) -> dict[str, str | None]:
        """Return the syncing fields as a dictionary."""
        return {name: getattr(self, name) for name in PROSPECT_FIELDS}

    def replace(self, **changes: Any) -> Prospect:
        """Return a copy with the given attributes changed."""
        return dataclasses.replace(self, **changes)

    def fingerprint(self, names: tuple[str, ...] | None = None) -> str:
        """Return a short hash of the fields (and status) the hub would write.

        Two prospects that would write the same values have the same fingerprint, so
        the sync engine can recognise the webhook its own write caused.
        """
        names = PROSPECT_FIELDS if names is None else names
        values = {name: _normalise(getattr(self, name)) for name in names}
        values["status"] = self.status.value if self.status else None
        raw = json.dumps(values, sort_keys=True).encode()

        return hashlib.sha256(raw).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        data: dict[str, Any] = self.fields()
        data["status"] = self.status.value if self.status else None
        data["is_client"] = self.is_client
        data["active"] = self.active

        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prospect:
        """Return a prospect from :meth:`to_dict`'s output."""
        values = {name: data.get(name) for name in PROSPECT_FIELDS}
        status = data.get("status")

        return cls(
            **values,
            status=ProspectStatus(status) if status else None,
            is_client=data.get("is_client"),
            active=data.get("active", True),
        )


def _normalise(value: str | None) -> str | None:
    if value is None:
        return None
    return " ".join(str(value).split()).casefold()


@dataclass(frozen=True)
class RecordRef:
    """Names one remote object: its kind in the connector's words and its id."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Change:
    """One thing that happened to a person, or that the hub wants to happen.

    Inbound (from ``receive_event`` and ``fetch_changes``) a change names the remote
    object in ``ref`` and may carry what the event said. Outbound (to
    ``apply_change``) it carries the prospect to write and what the hub knows of the
    person on that connector.
    """

    kind: ChangeKind
    #: The remote object the change is about; ``None`` for a create not made yet.
    ref: RecordRef | None = None
    prospect: Prospect | None = None
    #: The purpose of the webhook that brought it, such as ``contact.created``.
    purpose: str = ""
    #: A key that is equal for two deliveries of the same event; ``None`` when the
    #: connector cannot tell deliveries apart.
    dedup_key: str | None = None
    #: The hub's id for the person, stable across both sides; a connector may store it
    #: on the remote object to make creates safe to retry.
    link_key: str | None = None
    #: What this connector already holds for the person, such as
    #: ``{"contact": "51", "deal": "7"}``.
    remote_ids: Mapping[str, str] = field(default_factory=dict)
    #: What the other side holds for the person, such as ``{"patient": "12"}``.
    other_ids: Mapping[str, str] = field(default_factory=dict)
    #: Anything else the connector wants to keep from the event, JSON-ready.
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary, as the event inbox stores it."""
        return {
            "kind": self.kind.value,
            "ref": {"kind": self.ref.kind, "id": self.ref.id} if self.ref else None,
            "prospect": self.prospect.to_dict() if self.prospect else None,
            "purpose": self.purpose,
            "dedup_key": self.dedup_key,
            "link_key": self.link_key,
            "remote_ids": dict(self.remote_ids),
            "other_ids": dict(self.other_ids),
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Return a change from :meth:`to_dict`'s output."""
        ref = data.get("ref")
        prospect = data.get("prospect")

        return cls(
            kind=ChangeKind(data["kind"]),
            ref=RecordRef(ref["kind"], str(ref["id"])) if ref else None,
            prospect=Prospect.from_dict(prospect) if prospect else None,
            purpose=data.get("purpose", ""),
            dedup_key=data.get("dedup_key"),
            link_key=data.get("link_key"),
            remote_ids=dict(data.get("remote_ids") or {}),
            other_ids=dict(data.get("other_ids") or {}),
            data=dict(data.get("data") or {}),
        )


@dataclass(frozen=True)
class Applied:
    """What ``apply_change`` did: the remote ids it touched and what it wrote."""

    #: The ids the person now has on this connector, such as ``{"contact": "51"}``.
    remote_ids: Mapping[str, str]
    #: :meth:`Prospect.fingerprint` of what was written, to recognise its echo.
    fingerprint: str | None = None
    #: Whether anything was written; ``False`` when the remote already agreed.
    wrote: bool = True


@dataclass(frozen=True)
class ChangeBatch:
    """What ``fetch_changes`` found and the cursor to ask from next time."""

    changes: list[Change]
    cursor: str | None


@dataclass(frozen=True)
class RecordPage:
    """One page of the people a connector holds, from ``list_records``.

    Each record is a ``Change`` of kind ``created`` whose ``prospect`` holds the whole
    person (with the status of their deal, if they have one), whose ``remote_ids``
    name every object the person has on the connector, and whose ``other_ids`` name
    the care record the person already carries, if any.
    """

    records: list[Change]
    #: Where the next page starts; ``None`` when this page was the last.
    after: str | None
    #: How many records the remote holds in all, when it can say so cheaply.
    total: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One webhook request as the vendor sent it, without Flask's request object."""

    method: str
    #: The URL as the vendor signed it: the public URL, the path and the query.
    url: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str]
    #: The purpose of the endpoint it arrived at, such as ``deal.stage_changed``.
    purpose: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a header's value, matching its name without regard to case."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default

    def json(self) -> Any:
        """Return the body parsed as JSON.

        :raises hub.errors.MalformedEvent: when the body is not JSON.
        """
        from hub.errors import MalformedEvent

        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedEvent(f"The body is not valid JSON: {exc}.") from None


#: A callable a connector's ``provision`` calls as each step moves.
Report = Callable[[str, str, str], None]


class StepStatus(enum.StrEnum):
    """Where one provisioning step stands."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    #: The admin has to do it by hand; the detail says how.
    MANUAL = "manual"
    #: The portal cannot do it at all; the detail says what happens instead.
    UNAVAILABLE = "unavailable"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class ConnectorInfo:
    """What a connector tells the hub about itself in ``register_connectors``."""

    #: The short name used in URLs, settings and hook calls, such as ``hubspot``.
    name: str
    #: The name shown to people, such as ``HubSpot``.
    label: str
    role: Role
    #: A marshmallow schema class for the connection's settings. Fields whose
    #: ``metadata`` has ``{"secret": True}`` are encrypted and never shown.
    settings_schema: type
    #: The webhook purposes the connector receives, such as ``("contact.created",)``.
    webhook_purposes: tuple[str, ...] = ()
    #: A callable ``(app) -> flask.Blueprint`` serving the vendor's sandbox.
    sandbox: Callable[..., Any] | None = None
    #: What ``make run`` asks the sandbox's ``POST _control/accounts`` for, besides
    #: a name, so a development account can do everything the product needs.
    sandbox_account: Mapping[str, Any] = field(default_factory=dict)
    #: The provisioning steps in order, so the wizard can list them before they run.
    provision_steps: tuple[str, ...] = ()
    #: The connector's version, shown by ``flask hub connectors``.
    version: str = ""

    def secret_fields(self) -> set[str]:
        """Return the names of the settings fields marked secret."""
        schema = self.settings_schema()
        return {
            name
            for name, schema_field in schema.fields.items()
            if schema_field.metadata.get("secret")
        }


@dataclass(frozen=True)
class LocationInfo:
    """One of the agency's care locations, as the care system names it."""

    id: str
    name: str


@dataclass(frozen=True)
class AgencyFacts:
    """Facts about the agency that one connector found and the others need.

    The core stores them on the agency; ``None`` leaves a fact as it was.
    """

    locations: list[LocationInfo] | None = None
    required_fields: list[str] | None = None


@dataclass(frozen=True)
class Connected:
    """What ``connect`` found when it checked the credentials."""

    #: Names the remote account for people, such as ``HubSpot portal 4471 (UTC)``.
    account: str
    #: Facts to keep on the connection, such as the portal id; JSON-ready.
    facts: Mapping[str, Any] = field(default_factory=dict)
    agency_facts: AgencyFacts | None = None
