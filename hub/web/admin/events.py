"""The agency's events: a filterable list, one event's page, and Replay."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for

from hub.canonical import RecordRef
from hub.errors import NotFound
from hub.extensions import db
from hub.inbox import notify_stored
from hub.models import Event, EventStatus, mask
from hub.sync.links import find as find_link
from hub.sync.replay import requeue
from hub.web.admin import bp
from hub.web.admin.audit import record
from hub.web.admin.connections import setup_connectors
from hub.web.auth import agency_or_404, signed_in

log = logging.getLogger(__name__)

#: Keys whose values are masked wherever an event's data is shown.
SECRET_WORDS = ("secret", "token", "password", "signature", "authorization", "key")
PAGE_SIZE = 50


def masked(value: Any, key: str = "") -> Any:
    """Return event data with every value under a secret-sounding key masked."""
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if any(word in key.lower() for word in SECRET_WORDS) and value:
        return mask(str(value)) or "…"

    return value


def _event_or_404(agency, event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None or event.agency_id != agency.id:
        raise NotFound(f"There is no event {event_id} in this agency.")
    return event


@bp.get("/agencies/<slug>/events")
@signed_in
def events(slug: str):
    """List the agency's events, newest first, filtered by status and connector."""
    agency = agency_or_404(slug)
    status = request.args.get("status", "")
    connector = request.args.get("connector", "")
    query = sa.select(Event).where(Event.agency_id == agency.id)
    if status:
        query = query.where(Event.status == status)
    if connector:
        query = query.where(Event.connector == connector)
    page = max(1, request.args.get("page", 1, type=int))
    rows = db.session.scalars(
        query.order_by(Event.received_at.desc(), Event.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()

    return render_template(
        "admin/events.html",
        agency=agency,
        events=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        status=status,
        connector=connector,
        statuses=[s.value for s in EventStatus],
        labels={i.name: i.label for i in setup_connectors()},
    )


@bp.get("/agencies/<slug>/events/<int:event_id>")
@signed_in
def event(slug: str, event_id: int):
    """Show what arrived, each attempt and its error, and the person's ids."""
    agency = agency_or_404(slug)
    row = _event_or_404(agency, event_id)
    payload = masked(row.payload or {})
    ref = payload.get("ref")
    link = None
    if ref:
        link = find_link(agency.id, row.connector, RecordRef(ref["kind"], ref["id"]))
    labels = {i.name: i.label for i in setup_connectors()}
    linked = [
        (labels.get(r.connector, r.connector), r.kind, r.remote_id)
        for r in (link.refs if link else [])
    ]

    return render_template(
        "admin/event.html",
        agency=agency,
        event=row,
        payload=payload,
        prospect=payload.get("prospect") or {},
        labels=labels,
        linked=linked,
    )


@bp.post("/agencies/<slug>/events/<int:event_id>/replay")
@signed_in
def replay(slug: str, event_id: int):
    """Queue an event to be processed again, now."""
    agency = agency_or_404(slug)
    row = _event_or_404(agency, event_id)
    if row.status in (EventStatus.PENDING.value, EventStatus.PROCESSING.value):
        flash(f"Event {row.id} is already waiting to be processed.")
        return redirect(url_for("admin.event", slug=slug, event_id=row.id))

    record(agency, "Replayed event", detail=f"event {row.id}")
    requeue(row.id)
    notify_stored([row.id])
    log.info("Agency %s: event %s queued again by replay.", agency.slug, row.id)
    flash(f"Event {row.id} will be processed again.")

    return redirect(url_for("admin.event", slug=slug, event_id=row.id))
