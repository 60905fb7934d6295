"""Writing changes into ClearCare: creating prospects safely, updating fields and
statuses, and checking what ClearCare would refuse before calling it."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from carehub_clearcare.api import ConnectAPI
from carehub_clearcare.patients import (
    NATIVE_FIELDS,
    changed_fields,
    normalise_phone,
    tag,
)
from carehub_clearcare.statuses import StatusTable
from hub import Applied, Change, ChangeKind, Prospect, ProspectStatus
from hub.canonical import PROSPECT_FIELDS
from hub.errors import NeedsAttention, NotFound, ValidationFailed

log = logging.getLogger(__name__)

#: Where the intents of creates not yet confirmed live in ``connection.state``.
INTENTS = "create_intents"
#: Seconds before an intent's time from which a lost create is looked for, to
#: allow for clocks that disagree.
LOOKBACK = 300


def label(field_name: str) -> str:
    """Return a prospect field's name as people read it."""
    return field_name.replace("_", " ")


def check_required(agency, prospect: Prospect, creating: bool) -> None:
    """Refuse a prospect that lacks a field the agency's ClearCare requires.

    A create needs every required field; an update must not empty one.

    :raises hub.errors.NeedsAttention: naming the missing fields.
    """
    missing = []
    for name in agency.required_fields:
        if name not in PROSPECT_FIELDS:
            continue
        value = getattr(prospect, name)
        empty = value is not None and not str(value).strip()
        if empty or (creating and value is None):
            missing.append(label(name))
    if missing:
        who = prospect.full_name or "A prospect without a name"
        them = "it" if len(missing) == 1 else "them"
        raise NeedsAttention(
            f"{who} lacks {', '.join(missing)}, which ClearCare requires for agency "
            f"'{agency.slug}'. Fill {them} in, and the change goes through."
        )


def check_phones(prospect: Prospect) -> None:
    """Refuse a phone number ClearCare would refuse, rather than send it.

    :raises hub.errors.NeedsAttention: naming the number and the rule.
    """
    for name in ("phone", "mobile_phone"):
        value = getattr(prospect, name)
        if value and value.strip() and normalise_phone(value) is None:
            raise NeedsAttention(
                f"The {label(name)} {value!r} of {prospect.full_name or 'a prospect'} "
                "cannot go to ClearCare: it takes 10 digits without a country code, "
                "not starting with 0 or 1. Correct the number, and the change goes "
                "through."
            )


def wanted_tags(
    agency, connection, prospect: Prospect, statuses: StatusTable, creating: bool
) -> dict[str, str]:
    """Return the ``meta.tag`` values a write sets: agency, status, client, location."""
    wanted = {"agencyId": str(connection.setting("agency_id")).strip()}
    status = prospect.status or (ProspectStatus.NEW_LEAD if creating else None)
    if status is not None:
        wanted["status"] = statuses.to_native(status)
    if status is ProspectStatus.CARE_STARTED:
        wanted["isClient"] = "true"
    elif creating:
        wanted["isClient"] = "false"
    location = location_id(agency, prospect.location)
    if location is None and creating and len(agency.locations) == 1:
        location = agency.locations[0].remote_id
    if location:
        wanted["locationId"] = location
    return wanted


def location_id(agency, location: str | None) -> str | None:
    """Return the ClearCare id of a location given by its id or by its name.

    :raises hub.errors.NeedsAttention: when the agency has locations and this is
        none of them.
    """
    if not location:
        return None
    for known in agency.locations:
        if location == known.remote_id or location.casefold() == known.name.casefold():
            return known.remote_id
    if agency.locations:
        names = ", ".join(known.name for known in agency.locations)
        raise NeedsAttention(
            f"The location {location!r} is not one of the ClearCare locations of "
            f"agency '{agency.slug}' ({names}). Choose one of them, or provision "
            "ClearCare again if the location is new."
        )
    return str(location)


def in_scope(prospect: Prospect, change: Change) -> Prospect:
    """Return the prospect with only the values the change is about.

    The engine names them in ``data["changed"]``; a status change without that list
    is about the status alone. Values left out become None, which writes nothing,
    so an edit made in ClearCare meanwhile to another field is not undone.
    """
    names = change.data.get("changed")
    if names is None and change.kind == ChangeKind.STATUS_CHANGED:
        names = ["status"]
    if not isinstance(names, list | tuple):
        return prospect

    return prospect.replace(
        **{name: None for name in PROSPECT_FIELDS if name not in names},
        status=prospect.status if "status" in names else None,
    )


def with_agency_tag(body: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """Return a write's body with the ``agencyId`` tag ClearCare requires on writes."""
    meta = body.setdefault("meta", {})
    tags = [t for t in meta.get("tag") or [] if t.get("code") != "agencyId"]
    meta["tag"] = [{"code": "agencyId", "display": agency_id}, *tags]
    return body


def explain_refusal(exc: ValidationFailed, agency) -> NeedsAttention | ValidationFailed:
    """Return a 422 turned into advice when it names a field the agency requires."""
    for native, canonical in NATIVE_FIELDS.items():
        if f"'{native}' is required" in exc.message:
            return NeedsAttention(
                f"{exc.message} Add {label(canonical)} to the required fields of "
                f"agency '{agency.slug}', so the hub names it before writing, and "
                "fill it in."
            )
    return exc


class PatientWriter:
    """Applies one change to one agency's ClearCare.

    :param clock: returns the time in seconds, for the intents of creates.
    """

    def __init__(
        self,
        agency,
        connection,
        api: ConnectAPI,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agency = agency
        self.connection = connection
        self.api = api
        self.clock = clock
        self.statuses = StatusTable.for_connection(connection)
        self.agency_id = str(connection.setting("agency_id")).strip()

    def apply(self, change: Change) -> Applied:
        """Write the change; return the patient's id and the prospect's fingerprint.

        Everything that can be checked without ClearCare (required fields, phones,
        the status id) is checked before the first call.
        """
        prospect = change.prospect
        if prospect is None:
            raise NeedsAttention(
                "The change to write into ClearCare carries no prospect; replay it "
                "once the other side's record can be read."
            )
        patient_id = change.remote_ids.get("patient")
        if patient_id is None and change.ref and change.ref.kind == "patient":
            patient_id = change.ref.id
        creating = patient_id is None
        scoped = prospect if creating else in_scope(prospect, change)
        check_phones(scoped)
        check_required(self.agency, scoped, creating=creating)
        tags = wanted_tags(
            self.agency, self.connection, scoped, self.statuses, creating=creating
        )

        try:
            if creating:
                patient_id = self.create(change, scoped, tags)
                wrote = True
            else:
                wrote = self.update(str(patient_id), change, scoped, tags)
        except ValidationFailed as exc:
            raise explain_refusal(exc, self.agency) from exc

        return Applied(
            remote_ids={"patient": str(patient_id)},
            fingerprint=prospect.fingerprint(),
            wrote=wrote,
        )

    def update(
        self, patient_id: str, change: Change, prospect: Prospect, tags: dict[str, str]
    ) -> bool:
        """Send only what differs from the patient ClearCare holds; return whether
        anything was sent."""
        try:
            current = self.api.patient(patient_id)
        except NotFound:
            raise NeedsAttention(
                f"ClearCare patient {patient_id} of agency '{self.agency.slug}' is "
                "gone. Link the person to another patient, or create it again."
            ) from None

        body = changed_fields(current, prospect, tags)
        if change.kind == ChangeKind.DEACTIVATED and current.get("active", True):
            body["active"] = False
        if not body:
            return False

        self.api.update_patient(patient_id, with_agency_tag(body, self.agency_id))
        log.info(
            "Updated ClearCare patient %s of agency %s: %s",
            patient_id,
            self.agency.slug,
            ", ".join(sorted(body)),
        )
        return True

    def create(self, change: Change, prospect: Prospect, tags: dict[str, str]) -> str:
        """Create the patient, unless an earlier try whose answer was lost did.

        When the hub passes ``intent_at`` it holds the create's intent itself and
        says in ``tried_before`` whether an earlier try may have reached ClearCare,
        so the connector looks first exactly then and keeps no record of its own.
        Without ``intent_at`` it records the intent in the connection's state
        before the call, and looks first when a record is there.
        """
        if "intent_at" in change.data:
            intent = (
                {"at": _timestamp(change.data["intent_at"], self.clock())}
                if change.data.get("tried_before")
                else None
            )
            return self._create_once(prospect, tags, intent)

        key = change.link_key or _identity(prospect)
        intents = dict((self.connection.state or {}).get(INTENTS, {}))
        earlier = intents.get(key)
        if earlier is None:
            intents[key] = {"at": self.clock()}
            self.connection.update_state(**{INTENTS: intents})
        patient_id = self._create_once(prospect, tags, earlier)
        intents.pop(key, None)
        self.connection.update_state(**{INTENTS: intents})
        return patient_id

    def _create_once(
        self, prospect: Prospect, tags: dict[str, str], intent: dict | None
    ) -> str:
        """Look for what an earlier try made when ``intent`` says one began, then
        create the patient if nothing was found."""
        if intent is not None:
            found = self.find_created(prospect, since=intent["at"] - LOOKBACK)
            if found is not None:
                log.info(
                    "Found ClearCare patient %s of agency %s, made by a create whose "
                    "answer was lost.",
                    found,
                    self.agency.slug,
                )
                return found

        resource = {
            "resourceType": "Patient",
            "active": True,
            **changed_fields({}, prospect, tags),
        }
        patient_id = self.api.create_patient(with_agency_tag(resource, self.agency_id))
        log.info(
            "Created ClearCare patient %s of agency %s.", patient_id, self.agency.slug
        )
        return patient_id

    def find_created(self, prospect: Prospect, since: float) -> str | None:
        """Return the id of a patient with the prospect's name and phone, updated
        since ``since``, the newest first; None when there is none."""
        filters: dict[str, Any] = {
            "updated": "ge"
            + datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        }
        if prospect.last_name:
            filters["last_name"] = prospect.last_name
        if prospect.first_name:
            filters["first_name"] = prospect.first_name
        phones = {
            normalise_phone(p) for p in (prospect.phone, prospect.mobile_phone) if p
        }

        candidates = []
        for resource in self.api.search_patients(**filters):
            if tag(resource, "agencyId") not in (None, self.agency_id):
                continue
            held = {
                normalise_phone(str(t.get("value")))
                for t in resource.get("telecom") or []
                if t.get("system") == "phone"
            }
            if phones and not phones & held:
                continue
            candidates.append(str(resource.get("id")))
        if not candidates:
            return None
        return max(candidates, key=lambda i: (len(i), i))


def _timestamp(value: Any, default: float) -> float:
    """Return an ISO time (such as the engine's ``intent_at``) in seconds."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _identity(prospect: Prospect) -> str:
    raw = "|".join(str(v or "") for v in prospect.fields().values())
    return "prospect:" + hashlib.sha256(raw.encode()).hexdigest()[:24]
