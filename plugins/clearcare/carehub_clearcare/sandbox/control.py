"""The sandbox's control API under ``/_control/``, shared by every sandbox, plus
ClearCare's own verbs: ``prospect_status`` and ``refuse_writes``."""

from __future__ import annotations

import re
import secrets
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request

from carehub_clearcare.sandbox import patients, state, store
from carehub_clearcare.sandbox.api import save_patient
from carehub_clearcare.sandbox.gateway import message
from hub.sandbox import transaction

#: The locations a new agency starts with, as WellSky support sets one up.
SEEDED_LOCATIONS = ("Main Office", "North Branch")


def body() -> dict[str, Any]:
    """Return the control call's JSON object, or an empty one."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def reset() -> Response:
    """Empty the sandbox."""
    with state().engine.begin() as conn:
        for table in store.RESETTABLE:
            conn.execute(table.delete())
    return jsonify({})


def create_account() -> Response:
    """Create an agency with its organization and locations; return credentials."""
    data = body()
    name = str(data.get("name") or "").strip()
    if not name:
        return message(400, "Give the account a name.")
    required = data.get("required_fields") or []
    unknown = [f for f in required if f not in patients.FIELD_READERS]
    if unknown:
        return message(
            400,
            f"Unknown required fields {unknown}; use some of "
            f"{sorted(patients.FIELD_READERS)}.",
        )

    with transaction(state().engine, "clearcare") as conn:
        agency_id = store.next_id(
            conn, store.accounts, "agency_id", store.FIRST_AGENCY_ID
        )
        credentials = {
            "client_id": secrets.token_hex(16),
            "client_secret": secrets.token_urlsafe(24),
        }
        conn.execute(
            store.accounts.insert().values(
                agency_id=agency_id,
                name=name,
                subdomain=re.sub(r"[^a-z0-9]+", "", name.lower()) or "agency",
                required_fields=list(required),
                refuse_writes=False,
                locations_get=bool(data.get("locations_get", True)),
                **credentials,
            )
        )
        for location in data.get("locations") or SEEDED_LOCATIONS:
            conn.execute(
                store.locations.insert().values(agency_id=agency_id, name=location)
            )

    return jsonify(**credentials, agency_id=str(agency_id), account=str(agency_id))


def add_fault() -> Response:
    """Make the next ``count`` matching requests fail or slow down."""
    data = body()
    try:
        count = int(data.get("count", 1))
        status = int(data["status"]) if data.get("status") is not None else None
        latency = (
            int(data["latency_ms"]) if data.get("latency_ms") is not None else None
        )
    except (TypeError, ValueError):
        return message(400, "count, status and latency_ms must be whole numbers.")
    with state().engine.begin() as conn:
        conn.execute(
            store.faults.insert().values(
                status=status,
                latency_ms=latency,
                remaining=count,
                path_prefix=str(data.get("path_prefix") or ""),
            )
        )
    return jsonify({})


def counters() -> Response:
    """Return the reads, writes and requests per route, for one account or all.

    Token requests count only in ``by_path``; ``refused`` counts the gateway's 403s
    for a wrong path or scheme.
    """
    table = store.requests_log
    query = sa.select(table.c.route, table.c.kind, sa.func.count()).group_by(
        table.c.route, table.c.kind
    )
    account = request.args.get("account")
    if account:
        query = query.where(table.c.account == account)
    with state().engine.begin() as conn:
        rows = conn.execute(query).all()

    totals = {"reads": 0, "writes": 0, "refused": 0, "by_path": {}}
    total_of = {"read": "reads", "write": "writes", "refused": "refused"}
    for route, kind, n in rows:
        if kind in total_of:
            totals[total_of[kind]] += n
        totals["by_path"][route] = totals["by_path"].get(route, 0) + n
    return jsonify(totals)


def advance_clock() -> Response:
    """Move the sandbox's clock forward and let due webhooks go."""
    try:
        seconds = float(body().get("advance_seconds", 0))
    except (TypeError, ValueError):
        return message(400, "advance_seconds must be a number.")
    sandbox = state()
    with sandbox.engine.begin() as conn:
        store.advance(conn, seconds)
    sandbox.sender.wake()
    return jsonify({})


def prospect_status() -> Response:
    """Change a prospect's status as a ClearCare user would, firing subscriptions.

    Takes ``patient_id`` and ``status`` (an id or a label); Care Started also makes
    the prospect a client, as ClearCare's screen does.
    """
    data = body()
    wanted = str(data.get("status", "")).strip()
    status_id = next(
        (
            sid
            for sid, label in patients.STATUSES.items()
            if wanted == str(sid) or _plain(wanted) == _plain(label)
        ),
        None,
    )
    if status_id is None:
        return message(400, f"{wanted!r} is not a ClearCare prospect status.")

    sandbox = state()
    with sandbox.engine.begin() as conn:
        row = conn.execute(
            sa.select(store.patients).where(
                store.patients.c.id == int(data.get("patient_id") or 0)
            )
        ).first()
        if row is None:
            return message(404, f"Patient {data.get('patient_id')} was not found.")
        resource = patients.merged(row.resource, {})
        patients.set_tag(resource, "status", str(status_id))
        if status_id == 80:
            patients.set_tag(resource, "isClient", "true")
        fired = save_patient(conn, row, resource)
    sandbox.sender.wake()

    return jsonify(fired=fired)


def _plain(label: str) -> str:
    return " ".join(label.replace("-", " ").split()).casefold()


def refuse_writes() -> Response:
    """Make ClearCare refuse (403) every write made with one credential."""
    data = body()
    with state().engine.begin() as conn:
        changed = conn.execute(
            store.accounts.update()
            .where(store.accounts.c.client_id == str(data.get("client_id", "")))
            .values(refuse_writes=bool(data.get("refuse", True)))
        )
    if not changed.rowcount:
        return message(404, "No account has that client_id.")
    return jsonify({})


def register(bp: Blueprint) -> None:
    """Add the control routes to the blueprint."""
    for rule, view, method in (
        ("/_control/reset", reset, "POST"),
        ("/_control/accounts", create_account, "POST"),
        ("/_control/faults", add_fault, "POST"),
        ("/_control/counters", counters, "GET"),
        ("/_control/clock", advance_clock, "POST"),
        ("/_control/prospect_status", prospect_status, "POST"),
        ("/_control/refuse_writes", refuse_writes, "POST"),
    ):
        bp.add_url_rule(
            rule, endpoint=f"control_{view.__name__}", view_func=view, methods=[method]
        )
