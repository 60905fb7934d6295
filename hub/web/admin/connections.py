"""Connecting an agency to its connectors from a form: fields, checks and facts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app
from marshmallow import fields as marshmallow_fields

from hub.canonical import ConnectorInfo, Role
from hub.errors import HubError
from hub.extensions import db
from hub.models import Agency, Connection
from hub.settings import save_settings
from hub.sync.provisioning import enqueue, keep_connected
from hub.web.admin.audit import record

log = logging.getLogger(__name__)

#: The order connectors are set up in: the care system's facts feed the CRM's.
ROLE_ORDER = (Role.CARE, Role.SALES)


@dataclass(frozen=True)
class Field:
    """One input of a connector's settings form."""

    name: str
    label: str
    secret: bool
    required: bool
    #: How the form asks for it: ``text``, ``number`` or ``checkbox``.
    kind: str = "text"


def connectors():
    """Return the connectors facade of the running app."""
    return current_app.extensions["hub.connectors"]


def setup_connectors() -> list[ConnectorInfo]:
    """Return the connectors an agency sets up: the first of each role, care first."""
    chosen = []
    for role in ROLE_ORDER:
        infos = [c.info for c in connectors().all() if c.info.role == role]
        if infos:
            chosen.append(infos[0])

    return chosen


def form_fields(info: ConnectorInfo) -> list[Field]:
    """Return the inputs of a connector's settings form, in the schema's order."""
    schema = info.settings_schema()
    return [
        Field(
            name=name,
            label=field.metadata.get("label") or name.replace("_", " ").capitalize(),
            secret=bool(field.metadata.get("secret")),
            required=bool(field.required),
            kind=_kind(field),
        )
        for name, field in schema.fields.items()
        if not field.dump_only
    ]


def _kind(field) -> str:
    if isinstance(field, marshmallow_fields.Boolean):
        return "checkbox"
    if isinstance(field, marshmallow_fields.Number):
        return "number"
    return "text"


def primary_secret(info: ConnectorInfo, connection: Connection | None) -> str | None:
    """Return the connection's first secret setting, the one the audit log names."""
    if connection is None:
        return None
    credentials = connection.credentials
    for field in form_fields(info):
        if field.secret and credentials.get(field.name):
            return credentials[field.name]

    return None


def field_errors(
    info: ConnectorInfo, connection: Connection | None, raw: dict[str, Any]
) -> dict[str, str]:
    """Return a message for each field of the form that is wrong."""
    kept = connection.credentials if connection else {}
    problems = {}
    for field in form_fields(info):
        if field.required and not raw.get(field.name) and field.name not in kept:
            problems[field.name] = f"Enter the {field.label}."
    given = {k: v for k, v in raw.items() if not (v in ("", None) and k in kept)}
    for name, messages in info.settings_schema().validate({**kept, **given}).items():
        problems.setdefault(name, " ".join(map(str, messages)))

    return problems


def read_form(info: ConnectorInfo, form) -> dict[str, Any]:
    """Return the connector's settings as the form gave them, trimmed.

    An optional field left empty is left out, so the connector's default applies.
    """
    raw: dict[str, Any] = {}
    for field in form_fields(info):
        if field.kind == "checkbox":
            raw[field.name] = form.get(field.name) == "yes"
            continue
        value = form.get(field.name, "")
        value = value if field.secret else value.strip()
        if value or field.required:
            raw[field.name] = value

    return raw


def connect(agency: Agency, info: ConnectorInfo, raw: dict[str, Any]) -> Connection:
    """Store the settings and check them with the connector, or change nothing.

    :raises HubError: from the connector; the session is rolled back first.
    """
    connection = agency.connection(info.name)
    before = primary_secret(info, connection)
    if connection is None:
        connection = Connection(agency=agency, connector=info.name, settings={})
        db.session.add(connection)
    save_settings(connection, info, raw)
    db.session.flush()
    try:
        found = connectors().connect(info.name, agency, connection)
    except HubError as exc:
        db.session.rollback()
        log.info(
            "Agency %s: %s refused to connect: %s", agency.slug, info.name, exc.message
        )
        raise

    keep_connected(agency, connection, found)
    after = primary_secret(info, connection)
    if before is None:
        record(agency, "Created", after, f"{info.label} connected.")
    elif before != after:
        record(agency, "Rotated", after, f"{info.label} credentials replaced.")
    db.session.commit()
    log.info("Agency %s: connected %s (%s).", agency.slug, info.name, found.account)

    return connection


def queue_provisioning(agency: Agency) -> None:
    """Queue provisioning for the worker, with each known step shown as pending."""
    from hub.models import ProvisioningStep

    for connection in agency.connections:
        try:
            info = connectors().info(connection.connector)
        except HubError:
            continue
        rows = {row.step: row for row in connection.steps}
        for position, step in enumerate(info.provision_steps):
            row = rows.get(step)
            if row is None:
                connection.steps.append(
                    ProvisioningStep(step=step, position=position, status="pending")
                )
            elif row.status == "failed":
                row.status = "pending"
    enqueue(agency)
    log.info("Agency %s: provisioning queued.", agency.slug)
