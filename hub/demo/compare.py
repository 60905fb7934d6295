"""Comparing both sides of the demo's agency: every linked person read back from
the sales and the care connector, one row each, and the table that shows them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from hub.canonical import Prospect, RecordRef
from hub.models import Agency

CONTACTS = "/crm/objects/2026-09/contacts"
FIELDS = ("first_name", "last_name", "email", "phone", "city", "location")


@dataclass
class Row:
    """One person as both sides hold them, and what disagrees."""

    name: str
    contact: str
    stage: str
    patient: str
    care_status: str
    city: str
    problems: list[str]

    @property
    def agrees(self) -> bool:
        return not self.problems


def same(name: str, left, right) -> bool:
    """Return whether two values of a field agree, phones by their digits."""
    if name == "phone":
        left, right = (
            "".join(c for c in v or "" if c.isdigit()) for v in (left, right)
        )
    return (left or None) == (right or None)


def compare_agency(agency: Agency, links: list[dict], hs) -> list[Row]:
    """Read every linked person back from both sides; return one row each."""
    facade = current_app.extensions["hub.connectors"]
    hubspot, clearcare = agency.connection("hubspot"), agency.connection("clearcare")
    rows = []
    for ids in links:
        contact = facade.fetch_record(
            "hubspot", hubspot, RecordRef("contact", ids["contact"])
        )
        deal = facade.fetch_record("hubspot", hubspot, RecordRef("deal", ids["deal"]))
        patient = facade.fetch_record(
            "clearcare", clearcare, RecordRef("patient", ids["patient"])
        )
        contact, deal, patient = (p or Prospect() for p in (contact, deal, patient))
        problems = [
            f for f in FIELDS if not same(f, getattr(contact, f), getattr(patient, f))
        ]
        if deal.status != patient.status:
            problems.append("status")
        linked = hs(
            "GET",
            f"{CONTACTS}/{ids['contact']}",
            params={"properties": "clearcare_prospect_id"},
        )["properties"].get("clearcare_prospect_id")
        if linked != ids["patient"]:
            problems.append("prospect id")
        rows.append(
            Row(
                name=f"{contact.first_name} {contact.last_name}",
                contact=ids["contact"],
                stage=deal.status.value if deal.status else "-",
                patient=ids["patient"],
                care_status=patient.status.value if patient.status else "-",
                city=f"{contact.city}/{patient.city}",
                problems=problems,
            )
        )

    return rows


def render_table(rows: list[Row]) -> list[str]:
    """Return the comparison as lines of a plain-text table."""
    header = (
        "Person",
        "Contact",
        "Deal stage",
        "Prospect",
        "ClearCare status",
        "City (HS/CC)",
        "Agree",
    )
    cells = [
        (
            r.name,
            r.contact,
            r.stage,
            r.patient,
            r.care_status,
            r.city,
            "yes" if r.agrees else "NO: " + ", ".join(r.problems),
        )
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))

    return lines
