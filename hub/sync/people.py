"""Comparing what one side holds of a person with what the hub last knew."""

from __future__ import annotations

import re
from collections.abc import Iterable

from hub.canonical import PROSPECT_FIELDS, Prospect, ProspectStatus

#: Everything the engine compares between a read-back record and its snapshot.
COMPARED = (*PROSPECT_FIELDS, "status", "is_client", "active")

PHONES = ("phone", "mobile_phone")

#: How each field is named to people, in messages.
LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "phone": "phone",
    "mobile_phone": "mobile phone",
    "street": "street address",
    "city": "city",
    "state": "state",
    "postal_code": "postal code",
    "location": "location",
    "status": "status",
    "is_client": "client flag",
    "active": "active flag",
}


def comparable(name: str, value) -> object:
    """Return a value in the form two sides agree on, so formatting is no change.

    Phones compare by their digits (a leading country code 1 dropped), text by its
    words without regard to case.
    """
    if value is None:
        return None
    if isinstance(value, ProspectStatus):
        return value.value
    if isinstance(value, bool):
        return value
    if name in PHONES:
        digits = re.sub(r"\D", "", str(value))
        return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits

    return " ".join(str(value).split()).casefold()


def changed(
    before: Prospect, after: Prospect, names: Iterable[str] = COMPARED
) -> list[str]:
    """Return the names whose value ``after`` holds and that differ from ``before``."""
    return [
        name
        for name in names
        if getattr(after, name) is not None
        and comparable(name, getattr(after, name))
        != comparable(name, getattr(before, name))
    ]


def merge(
    base: Prospect, update: Prospect, names: Iterable[str] = COMPARED
) -> Prospect:
    """Return ``base`` with every value that ``update`` holds among ``names``."""
    values = {
        name: getattr(update, name)
        for name in names
        if getattr(update, name) is not None
    }

    return base.replace(**values)


def load(snapshot: dict | None) -> Prospect:
    """Return a snapshot stored on a sync link as a prospect (empty when missing)."""
    return Prospect.from_dict(snapshot) if snapshot else Prospect()


def describe_fields(names: Iterable[str]) -> str:
    """Return field names as people read them: ``last name, phone and location``."""
    words = [LABELS.get(name, name.replace("_", " ")) for name in names]
    if len(words) < 2:
        return "".join(words)

    return ", ".join(words[:-1]) + " and " + words[-1]
