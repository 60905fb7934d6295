"""Credentials: masked, shown again after the password, rotated after a check, and
the audit log of all of it."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from werkzeug.security import check_password_hash

from hub.errors import HubError, NotFound
from hub.extensions import db
from hub.models import AuditEntry, mask, utcnow
from hub.web.admin import bp
from hub.web.admin.audit import record
from hub.web.admin.connections import (
    connect,
    form_fields,
    primary_secret,
    setup_connectors,
)
from hub.web.auth import agency_or_404, current_user, signed_in

log = logging.getLogger(__name__)

#: Ages of a credential that earn a warning, oldest first, as the guide advises.
AGE_WARNINGS = (
    (timedelta(days=182), "is six months old: rotate it now."),
    (timedelta(days=152), "is five months old: plan to rotate it within a month."),
)


def age_warning(connection) -> str | None:
    """Return a warning when a connection's credentials are old, or None."""
    since = connection.credential_rotated_at or connection.credential_added_at
    if since is None:
        return None
    age = utcnow() - since
    for limit, message in AGE_WARNINGS:
        if age >= limit:
            return message

    return None


def _cards(agency, shown: str | None = None) -> list[dict]:
    cards = []
    for info in setup_connectors():
        connection = agency.connection(info.name)
        if connection is None:
            continue
        credentials = connection.credentials
        secrets = [
            {
                "name": f.name,
                "label": f.label,
                "value": credentials.get(f.name),
                "masked": mask(credentials.get(f.name)) or "not set",
            }
            for f in form_fields(info)
            if f.secret
        ]
        warning = age_warning(connection)
        cards.append(
            {
                "info": info,
                "connection": connection,
                "secrets": secrets,
                "shown": shown == info.name,
                "warning": f"The {info.label} credential {warning}"
                if warning
                else None,
            }
        )

    return cards


def _page(agency, status=200, shown=None, errors=None):
    entries = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.agency_id == agency.id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(200)
    ).all()
    page = render_template(
        "admin/credentials.html",
        agency=agency,
        cards=_cards(agency, shown),
        entries=entries,
        errors=errors or {},
    )

    return page, status, {"Cache-Control": "no-store"}


def _connection_or_404(agency, connector: str):
    info = next((i for i in setup_connectors() if i.name == connector), None)
    connection = agency.connection(connector) if info else None
    if connection is None:
        raise NotFound(f"This agency has no {connector!r} connection.")
    return info, connection


@bp.get("/agencies/<slug>/credentials")
@signed_in
def credentials(slug: str):
    """Show each connection's credentials masked, and the audit log."""
    return _page(agency_or_404(slug))


@bp.post("/agencies/<slug>/credentials/<connector>/show")
@signed_in
def show_credentials(slug: str, connector: str):
    """Show a connection's secrets once the password is given again; log it."""
    agency = agency_or_404(slug)
    info, connection = _connection_or_404(agency, connector)
    if not check_password_hash(
        current_user().password_hash, request.form.get("password", "")
    ):
        log.info(
            "Agency %s: wrong password to show %s credentials.", agency.slug, connector
        )
        errors = {f"{connector}:password": "That password is wrong. Enter yours again."}
        return _page(agency, 403, errors=errors)

    record(
        agency,
        "Viewed",
        primary_secret(info, connection),
        f"{info.label} credentials shown.",
    )
    db.session.commit()

    return _page(agency, shown=connector)


@bp.post("/agencies/<slug>/credentials/<connector>/rotate")
@signed_in
def rotate_credentials(slug: str, connector: str):
    """Check a new credential with the connector, and only then replace the old."""
    agency = agency_or_404(slug)
    info, connection = _connection_or_404(agency, connector)
    secret_fields = [f for f in form_fields(info) if f.secret]
    given = {f.name: request.form.get(f.name, "") for f in secret_fields}
    given = {name: value for name, value in given.items() if value}
    if not given:
        first = secret_fields[0].name if secret_fields else "secret"
        errors = {f"{connector}:{first}": "Paste the new credential, then Rotate."}
        return _page(agency, 400, errors=errors)
    current = connection.credentials
    if all(current.get(name) == value for name, value in given.items()):
        name = next(iter(given))
        errors = {f"{connector}:{name}": "That is the credential in use already."}
        return _page(agency, 400, errors=errors)

    try:
        connect(agency, info, {**(connection.settings or {}), **given})
    except HubError as exc:
        agency = agency_or_404(slug)
        name = next(iter(given))
        return _page(agency, 400, errors={f"{connector}:{name}": exc.message})

    flash(f"The {info.label} credential was checked and replaced.")
    return redirect(url_for("admin.credentials", slug=slug))


@bp.post("/agencies/<slug>/credentials/<connector>/disconnect")
@signed_in
def disconnect(slug: str, connector: str):
    """Forget a connection's credentials; the hub stops syncing with it."""
    agency = agency_or_404(slug)
    info, connection = _connection_or_404(agency, connector)
    secret = primary_secret(info, connection)
    connection.credentials = {}
    connection.connected_at = None
    record(agency, "Disconnected", secret, f"{info.label} disconnected.")
    db.session.commit()
    flash(f"Disconnected {info.label}. Connect it again in the setup wizard.")

    return redirect(url_for("admin.credentials", slug=slug))
