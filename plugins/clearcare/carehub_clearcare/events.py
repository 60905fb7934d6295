"""What ClearCare tells the hub: webhook deliveries and polls of changed patients."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from carehub_clearcare.api import ConnectAPI
from carehub_clearcare.patients import to_prospect
from carehub_clearcare.provisioning import SECRET
from carehub_clearcare.statuses import StatusTable
from hub import Change, ChangeBatch, ChangeKind, Inbound, RecordRef
from hub.errors import MalformedEvent, VerificationFailed

log = logging.getLogger(__name__)

#: What a delivery's criteria (in the endpoint's query) says happened.
KINDS = {
    "prospect.status.changed": ChangeKind.STATUS_CHANGED,
    "patient.created": ChangeKind.CREATED,
    "patient.deactivated.changed": ChangeKind.DEACTIVATED,
}
POLL_PURPOSE = "clearcare.poll"
#: Seconds a poll looks back before its cursor, for clocks and slow commits.
OVERLAP_SETTING = "poll_overlap_seconds"
DEFAULT_OVERLAP = 300
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def parse_delivery(connection, inbound: Inbound) -> list[Change]:
    """Check a delivery's header in constant time and return the change it names.

    Deliveries carry no event id, so two status changes of one patient look alike:
    nothing is deduplicated here.
    """
    secret = connection.credentials.get(SECRET)
    if not secret:
        raise VerificationFailed(
            "The ClearCare connection has no webhook secret yet; provision it again."
        )
    presented = (inbound.header("Authorization") or "").encode()
    if not hmac.compare_digest(presented, f"Bearer {secret}".encode()):
        raise VerificationFailed(
            "The webhook's Authorization header is not the one the hub registered "
            "with ClearCare; if the secret changed, provision ClearCare again."
        )

    body = inbound.json()
    patient_id = body.get("id") if isinstance(body, dict) else None
    if isinstance(patient_id, bool) or not isinstance(patient_id, int | str):
        raise MalformedEvent("The webhook's body does not name a patient id.")
    if body.get("resourceType", "Patient") != "Patient":
        raise MalformedEvent("The webhook's body does not name a Patient.")
    patient_id = str(patient_id).strip()
    if not patient_id.isascii() or not patient_id.isdigit() or len(patient_id) > 20:
        raise MalformedEvent("The webhook's patient id is not a ClearCare id.")
    criteria = inbound.query.get("criteria", "")

    return [
        Change(
            kind=KINDS.get(criteria, ChangeKind.UPDATED),
            ref=RecordRef("patient", patient_id),
            purpose=inbound.purpose,
            data={"criteria": criteria} if criteria else {},
        )
    ]


def changed_since(
    connection,
    api: ConnectAPI,
    cursor: str | None,
    clock: Callable[[], float] = time.time,
) -> ChangeBatch:
    """Return the patients updated since the cursor, looking back an overlap window.

    Each change carries the prospect as read, and a deduplication key made of the
    patient and its update time, so the overlap does not store one update twice.
    """
    now = datetime.fromtimestamp(clock(), UTC)
    next_cursor = now.strftime(TIME_FORMAT)
    if cursor is None:
        return ChangeBatch(changes=[], cursor=next_cursor)

    try:
        start = datetime.strptime(cursor, TIME_FORMAT)
    except (TypeError, ValueError):
        log.warning(
            "Ignoring the ClearCare poll cursor %r of agency %s: it is not a time; "
            "polling starts again from now.",
            cursor,
            connection.setting("agency_id"),
        )
        return ChangeBatch(changes=[], cursor=next_cursor)
    overlap = int(connection.setting(OVERLAP_SETTING, DEFAULT_OVERLAP) or 0)
    since = start - timedelta(seconds=overlap)
    statuses = StatusTable.for_connection(connection)
    changes = []
    for resource in api.search_patients(updated="ge" + since.strftime(TIME_FORMAT)):
        patient_id = str(resource.get("id"))
        updated = (resource.get("meta") or {}).get("lastUpdated")
        changes.append(
            Change(
                kind=ChangeKind.UPDATED,
                ref=RecordRef("patient", patient_id),
                prospect=to_prospect(resource, statuses.from_native),
                purpose=POLL_PURPOSE,
                dedup_key=f"poll:{patient_id}:{updated}" if updated else None,
            )
        )
    log.info(
        "Polled ClearCare for agency %s since %s: %d patient(s).",
        connection.setting("agency_id"),
        since.strftime(TIME_FORMAT),
        len(changes),
    )

    return ChangeBatch(changes=changes, cursor=next_cursor)
