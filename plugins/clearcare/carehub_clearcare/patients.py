"""Translating between ClearCare's Patient and the hub's prospect."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from hub import Prospect, ProspectStatus

PHONE = re.compile(r"[2-9]\d{9}")

#: ClearCare's field names in its 422 messages, and the prospect's names for them.
NATIVE_FIELDS = {
    "name[0].family": "last_name",
    "name[0].given[0]": "first_name",
    "address[0].line[0]": "street",
    "address[0].city": "city",
    "address[0].state": "state",
    "address[0].postalCode": "postal_code",
    "telecom.phone": "phone",
    "telecom.email": "email",
    "locationId": "location",
}

#: Where each telecom field of the prospect lives: system and use.
TELECOM = {
    "phone": ("phone", "home"),
    "mobile_phone": ("phone", "mobile"),
    "email": ("email", None),
}
ADDRESS = {"city": "city", "state": "state", "postal_code": "postalCode"}


def normalise_phone(value: str | None) -> str | None:
    """Return a phone as ClearCare takes it (10 digits), or None when it cannot be.

    A leading country code 1 is dropped; an empty value stays empty.
    """
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    if digits == "":
        return ""
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if PHONE.fullmatch(digits) else None


def tag(resource: dict[str, Any], code: str) -> str | None:
    """Return the display of one ``meta.tag``, or None."""
    for item in (resource.get("meta") or {}).get("tag") or []:
        if isinstance(item, dict) and item.get("code") == code:
            return None if item.get("display") is None else str(item["display"])
    return None


def tags(resource: dict[str, Any]) -> dict[str, str]:
    """Return every ``meta.tag`` as a dictionary of code to display."""
    found = {}
    for item in (resource.get("meta") or {}).get("tag") or []:
        if isinstance(item, dict) and item.get("code"):
            found[str(item["code"])] = str(item.get("display"))
    return found


def is_true(value: Any) -> bool | None:
    """Return a tag's boolean, read in any case (``"True"``, ``"false"``), or None."""
    if value is None:
        return None
    return str(value).strip().lower() in ("true", "1", "yes")


def _first(resource: dict[str, Any], key: str) -> dict[str, Any]:
    items = resource.get(key) or []
    return dict(items[0]) if items and isinstance(items[0], dict) else {}


def _telecom_value(
    resource: dict[str, Any], system: str, use: str | None
) -> str | None:
    matching = [
        t
        for t in resource.get("telecom") or []
        if isinstance(t, dict) and t.get("system") == system
    ]
    if use is not None:
        preferred = [t for t in matching if (t.get("use") or "home") == use]
        if system == "phone" and use == "home":
            preferred = [t for t in matching if t.get("use") != "mobile"]
        matching = preferred
    return str(matching[0].get("value")) if matching else None


def to_prospect(
    resource: dict[str, Any], status_of: Callable[[str | None], ProspectStatus | None]
) -> Prospect:
    """Return a patient as a prospect, its status read through ``status_of``."""
    name = _first(resource, "name")
    address = _first(resource, "address")
    phone = _telecom_value(resource, "phone", "home")
    mobile = _telecom_value(resource, "phone", "mobile")

    return Prospect(
        first_name=(name.get("given") or [None])[0],
        last_name=name.get("family"),
        email=_telecom_value(resource, "email", None),
        phone=normalise_phone(phone) or phone,
        mobile_phone=normalise_phone(mobile) or mobile,
        street=(address.get("line") or [None])[0],
        city=address.get("city"),
        state=address.get("state"),
        postal_code=address.get("postalCode"),
        location=tag(resource, "locationId"),
        status=status_of(tag(resource, "status")),
        is_client=is_true(tag(resource, "isClient")),
        active=resource.get("active", True) is not False,
    )


def changed_fields(
    current: dict[str, Any], prospect: Prospect, wanted_tags: dict[str, str]
) -> dict[str, Any]:
    """Return the top-level patient fields to send so the patient says what the
    prospect says; the fields the prospect leaves as None keep their value."""
    body: dict[str, Any] = {}

    names = current.get("name") or []
    name = _first(current, "name")
    desired = copy.deepcopy(name) or {"use": "official"}
    if prospect.last_name is not None:
        desired["family"] = prospect.last_name
    if prospect.first_name is not None:
        desired["given"] = [prospect.first_name, *(name.get("given") or [])[1:]]
    if desired != name:
        body["name"] = [desired, *names[1:]]

    telecom = [dict(t) for t in current.get("telecom") or [] if isinstance(t, dict)]
    for field_name, (system, use) in TELECOM.items():
        value = getattr(prospect, field_name)
        if value is None:
            continue
        if system == "phone":
            value = normalise_phone(value)
        telecom = _set_telecom(telecom, system, use, value)
    if telecom != (current.get("telecom") or []):
        body["telecom"] = telecom

    addresses = current.get("address") or []
    address = _first(current, "address")
    desired_address = copy.deepcopy(address) or {"use": "home"}
    if prospect.street is not None:
        desired_address["line"] = [prospect.street] if prospect.street else []
    for field_name, native in ADDRESS.items():
        value = getattr(prospect, field_name)
        if value is not None:
            desired_address[native] = value
    if desired_address != address and (address or _has_address(prospect)):
        body["address"] = [desired_address, *addresses[1:]]

    present = tags(current)
    changed = {
        k: v for k, v in wanted_tags.items() if present.get(k, "").lower() != v.lower()
    }
    if changed:
        body["meta"] = {"tag": [{"code": k, "display": v} for k, v in changed.items()]}

    return body


def _has_address(prospect: Prospect) -> bool:
    return any(
        getattr(prospect, name) for name in ("street", "city", "state", "postal_code")
    )


def _set_telecom(
    telecom: list[dict[str, Any]], system: str, use: str | None, value: str
) -> list[dict[str, Any]]:
    def same_slot(item: dict[str, Any]) -> bool:
        if item.get("system") != system:
            return False
        if use is None:
            return True
        if use == "mobile":
            return item.get("use") == "mobile"
        return item.get("use") != "mobile"

    kept = []
    placed = False
    for item in telecom:
        if not same_slot(item):
            kept.append(item)
        elif not placed and value:
            kept.append({**item, "value": value})
            placed = True
    if value and not placed:
        entry = {"system": system, "value": value}
        if use is not None:
            entry["use"] = use
        kept.append(entry)
    return kept
