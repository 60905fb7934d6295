"""What an agency admin edits after setup: the status mapping, the locations and the
required fields."""

from __future__ import annotations

import logging
import re

from flask import flash, redirect, render_template, request, url_for

from hub.canonical import PROSPECT_FIELDS, Direction, ProspectStatus
from hub.errors import HubError, NeedsAttention
from hub.extensions import db
from hub.web.admin import bp, texts
from hub.web.admin.audit import record
from hub.web.admin.connections import connectors, queue_provisioning, setup_connectors
from hub.web.auth import agency_or_404, signed_in

log = logging.getLogger(__name__)

#: What a native status value may look like: an id or a short name.
NATIVE_VALUE = re.compile(r"^[\w .:-]{1,64}$")


def _native(info, connection, status: ProspectStatus) -> dict:
    """Return a status's native value on one connection, or why there is none."""
    if connection is None:
        return {"value": None, "problem": "Not connected."}
    try:
        value = connectors().map_status(
            info.name, connection, status, Direction.TO_NATIVE
        )
    except NeedsAttention as exc:
        return {"value": None, "problem": exc.message, "unconfirmed": True}
    except HubError as exc:
        return {"value": None, "problem": exc.message}

    return {"value": None if value is None else str(value), "problem": None}


def _mapping_page(agency, status=200, errors=None, given=None):
    infos = setup_connectors()
    overrides = agency.status_overrides
    rows = []
    for prospect_status in ProspectStatus:
        cells = []
        for info in infos:
            cell = _native(info, agency.connection(info.name), prospect_status)
            cell["name"] = f"{info.name}:{prospect_status.name}"
            cell["override"] = (given or {}).get(
                cell["name"],
                overrides.get(info.name, {}).get(prospect_status.label, ""),
            )
            cells.append(cell)
        rows.append({"status": prospect_status, "cells": cells})
    page = render_template(
        "admin/mapping.html",
        agency=agency,
        infos=infos,
        rows=rows,
        errors=errors or {},
    )

    return page, status


@bp.get("/agencies/<slug>/mapping")
@signed_in
def mapping(slug: str):
    """Show the 12 statuses beside each connector's native value, with overrides."""
    return _mapping_page(agency_or_404(slug))


@bp.post("/agencies/<slug>/mapping")
@signed_in
def save_mapping(slug: str):
    """Validate and store the status overrides; log what changed."""
    agency = agency_or_404(slug)
    infos = setup_connectors()
    given = {}
    errors = {}
    wanted: dict[str, dict[str, str]] = {}
    for info in infos:
        connection = agency.connection(info.name)
        seen: dict[str, str] = {}
        for prospect_status in ProspectStatus:
            name = f"{info.name}:{prospect_status.name}"
            value = request.form.get(f"override:{name}", "").strip()
            given[name] = value
            current = _native(info, connection, prospect_status)
            if value and not NATIVE_VALUE.match(value):
                errors[name] = (
                    "Use letters, digits, spaces, dots, colons or dashes, "
                    "at most 64 characters."
                )
                continue
            confirmed = request.form.get(f"confirm:{name}") == "yes"
            if value and current.get("unconfirmed") and not confirmed:
                errors[name] = (
                    f"Tick the box to confirm you checked this id in {info.label}."
                )
                continue
            if value:
                wanted.setdefault(info.name, {})[prospect_status.label] = value
            effective = value or current["value"]
            if effective and effective in seen:
                errors[name] = (
                    f"{seen[effective]} has this value already in {info.label}; "
                    "each status needs its own."
                )
            elif effective:
                seen[effective] = prospect_status.label
    if errors:
        return _mapping_page(agency, 400, errors, given)

    before = agency.status_overrides
    if wanted != {k: v for k, v in before.items() if v}:
        changes = [
            f"{connector} {label}: {value}"
            for connector, values in wanted.items()
            for label, value in values.items()
            if before.get(connector, {}).get(label) != value
        ]
        removed = [
            f"{connector} {label}: default"
            for connector, values in before.items()
            for label in values
            if label not in wanted.get(connector, {})
        ]
        agency.settings = {**(agency.settings or {}), "status_overrides": wanted}
        record(agency, "Status mapping changed", detail="; ".join(changes + removed))
        db.session.commit()
        flash("The status mapping is saved.")

    return redirect(url_for("admin.mapping", slug=slug))


@bp.get("/agencies/<slug>/locations")
@signed_in
def locations(slug: str):
    """List the agency's locations as its care system names them."""
    agency = agency_or_404(slug)
    return render_template("admin/locations.html", agency=agency)


@bp.post("/agencies/<slug>/locations/refresh")
@signed_in
def refresh_locations(slug: str):
    """Queue provisioning, which reads the locations and updates the CRM's options."""
    agency = agency_or_404(slug)
    queue_provisioning(agency)
    record(agency, "Locations refreshed")
    db.session.commit()
    flash(
        "The hub reads the locations again and updates the location options of the "
        "CRM; reload this page in a moment."
    )

    return redirect(url_for("admin.locations", slug=slug))


@bp.route("/agencies/<slug>/required-fields", methods=["GET", "POST"])
@signed_in
def required_fields(slug: str):
    """Show and change the fields the care system requires of a new prospect."""
    agency = agency_or_404(slug)
    error = None
    if request.method == "POST":
        chosen = [f for f in PROSPECT_FIELDS if request.form.get(f) == "yes"]
        if not {"first_name", "last_name"} <= set(chosen):
            error = "A prospect always needs a first and a last name; keep both ticked."
        elif chosen != agency.required_fields:
            agency.settings = {**(agency.settings or {}), "required_fields": chosen}
            record(agency, "Required fields changed", detail=", ".join(chosen))
            queue_provisioning(agency)
            db.session.commit()
            flash("Saved. The hub updates the field sync workflow of the CRM.")
            return redirect(url_for("admin.required_fields", slug=slug))

    page = render_template(
        "admin/required_fields.html",
        agency=agency,
        fields=PROSPECT_FIELDS,
        labels=texts.FIELD_LABELS,
        required=agency.required_fields,
        error=error,
    )

    return page, 400 if error else 200
