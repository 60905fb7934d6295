"""How the ClearCare sandbox checks, shows and searches patients."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

#: The prospect status ids the sandbox accepts, with ClearCare's labels.
STATUSES = {
    1: "New Lead",
    10: "Initial Phone Call",
    20: "Assessment Scheduled",
    30: "Assessment Performed",
    40: "Wants to Meet Candidates",
    50: "Needs Contract",
    60: "Expecting Client Signature",
    65: "Collect Payment Information",
    70: "Ready to Schedule Care",
    80: "Care Started",
    90: "Closed - Lost",
    100: "Closed - Won",
}

PHONE = re.compile(r"[2-9]\d{9}")

#: The events a subscription may name, and the part of a patient each watches.
#: Converting a prospect to a client counts as a status change.
WATCHED = {
    "patient.name.changed": lambda r: r.get("name"),
    "patient.address.changed": lambda r: r.get("address"),
    "patient.telecom.changed": lambda r: r.get("telecom"),
    "prospect.status.changed": lambda r: (tag(r, "status"), is_client(r)),
    "patient.deactivated.changed": lambda r: r.get("active", True),
}
CRITERIA = ("patient.created", *WATCHED)


def tag(resource: dict[str, Any], code: str) -> str | None:
    """Return the display of one ``meta.tag``, or None."""
    for item in (resource.get("meta") or {}).get("tag") or []:
        if isinstance(item, dict) and item.get("code") == code:
            value = item.get("display")
            return None if value is None else str(value)
    return None


def set_tag(resource: dict[str, Any], code: str, display: str) -> None:
    """Set one ``meta.tag`` in place."""
    tags = resource.setdefault("meta", {}).setdefault("tag", [])
    for item in tags:
        if item.get("code") == code:
            item["display"] = display
            return
    tags.append({"code": code, "display": display})


def _first(resource: dict[str, Any], key: str) -> dict[str, Any]:
    items = resource.get(key) or []
    return items[0] if items and isinstance(items[0], dict) else {}


def _telecom(resource: dict[str, Any], system: str) -> str | None:
    for item in resource.get("telecom") or []:
        if (
            isinstance(item, dict)
            and item.get("system") == system
            and item.get("value")
        ):
            return str(item["value"])
    return None


#: The fields an agency may require, by the name ClearCare's 422 message uses.
FIELD_READERS = {
    "name[0].family": lambda r: _first(r, "name").get("family"),
    "name[0].given[0]": lambda r: (_first(r, "name").get("given") or [None])[0],
    "birthDate": lambda r: r.get("birthDate"),
    "address[0].line[0]": lambda r: (_first(r, "address").get("line") or [None])[0],
    "address[0].city": lambda r: _first(r, "address").get("city"),
    "address[0].state": lambda r: _first(r, "address").get("state"),
    "address[0].postalCode": lambda r: _first(r, "address").get("postalCode"),
    "telecom.phone": lambda r: _telecom(r, "phone"),
    "telecom.email": lambda r: _telecom(r, "email"),
    "locationId": lambda r: tag(r, "locationId"),
}
ALWAYS_REQUIRED = ("name[0].family", "name[0].given[0]")


def problem(resource: dict[str, Any], required: list[str]) -> str | None:
    """Return the 422 message ClearCare would give for a patient, or None."""
    if not isinstance(resource, dict):
        return "The body must be a Patient resource."
    if not tag(resource, "agencyId"):
        return "'agencyId' is required."
    for name in (*ALWAYS_REQUIRED, *required):
        reader = FIELD_READERS.get(name)
        if reader is not None and not str(reader(resource) or "").strip():
            return f"'{name}' is required."
    for item in resource.get("telecom") or []:
        if item.get("system") == "phone" and not PHONE.fullmatch(
            str(item.get("value"))
        ):
            return (
                f"'telecom' phone '{item.get('value')}' must be 10 digits, without a "
                "country code, not starting with 0 or 1."
            )
    status = tag(resource, "status")
    if status is not None and (not status.isdigit() or int(status) not in STATUSES):
        return f"'status' {status} is not a prospect status."
    return None


def merged(old: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Return a patient with a partial update applied: only the keys sent change."""
    new = copy.deepcopy(old)
    for key, value in body.items():
        if key in ("id", "resourceType"):
            continue
        if key == "meta":
            for item in (value or {}).get("tag") or []:
                set_tag(new, item.get("code"), item.get("display"))
            continue
        new[key] = value
    return new


def criteria_fired(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Return the subscription criteria an update from ``old`` to ``new`` fires."""
    return [name for name, read in WATCHED.items() if read(old) != read(new)]


def is_client(resource: dict[str, Any]) -> bool:
    """Return whether the ``isClient`` tag says true, in any case."""
    return (tag(resource, "isClient") or "").strip().lower() == "true"


def shown(row) -> dict[str, Any]:
    """Return a stored patient as ClearCare answers it."""
    resource = copy.deepcopy(row.resource)
    resource["resourceType"] = "Patient"
    resource["id"] = str(row.id)
    resource.setdefault("active", True)
    set_tag(resource, "isClient", "True" if is_client(resource) else "False")
    resource["meta"]["lastUpdated"] = iso(row.updated)
    return resource


def iso(moment: float) -> str:
    """Return a timestamp as ClearCare writes it: UTC, to the second, no zone."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _text_filter(resource: dict[str, Any], name: str) -> str | None:
    return {
        "first_name": FIELD_READERS["name[0].given[0]"],
        "last_name": FIELD_READERS["name[0].family"],
        "mobile_phone": lambda r: _telecom(r, "phone"),
        "city": FIELD_READERS["address[0].city"],
        "state": FIELD_READERS["address[0].state"],
    }[name](resource)


TEXT_FILTERS = ("first_name", "last_name", "mobile_phone", "city", "state")
PREFIXES = {
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}


def parse_moment(value: str) -> tuple[str, float]:
    """Return the prefix and the time of a filter such as ``ge2026-07-01T00:00:00``.

    :raises ValueError: when the value is no such filter.
    """
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    raw = value[2:] if value[:2] in PREFIXES else value
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return prefix, moment.timestamp()


def matches(row, filters: dict[str, str]) -> bool:
    """Return whether a stored patient passes the search filters.

    :raises ValueError: when a filter cannot be read.
    """
    for key, wanted in filters.items():
        name, _, modifier = key.partition(":")
        if name in TEXT_FILTERS:
            value = (_text_filter(row.resource, name) or "").casefold()
            wanted = str(wanted).casefold()
            if modifier == "contains" and wanted not in value:
                return False
            if modifier == "" and value != wanted:
                return False
        elif name == "updated":
            prefix, moment = parse_moment(str(wanted))
            if not PREFIXES[prefix](int(row.updated), int(moment)):
                return False
    return True
