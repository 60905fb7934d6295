"""The ClearCare connector's hook implementations."""

from __future__ import annotations

from marshmallow import Schema, fields

from carehub_clearcare import events, provisioning
from carehub_clearcare.api import NAME, client_for
from carehub_clearcare.patients import to_prospect
from carehub_clearcare.statuses import StatusTable
from carehub_clearcare.writes import PatientWriter
from hub import (
    AgencyFacts,
    Applied,
    Change,
    ChangeBatch,
    Connected,
    ConnectorInfo,
    Direction,
    Prospect,
    RecordRef,
    Role,
    hookimpl,
)
from hub.errors import NeedsAttention, NotFound


class ClearCareSettings(Schema):
    """What an agency admin enters to connect ClearCare (WellSky Personal Care)."""

    client_id = fields.String(required=True, metadata={"label": "ClearCare client id"})
    client_secret = fields.String(
        required=True, metadata={"secret": True, "label": "ClearCare client secret"}
    )
    agency_id = fields.String(required=True, metadata={"label": "ClearCare agency id"})
    collect_payment_status_id = fields.String(
        load_default="65",
        metadata={"label": "ClearCare id of the status Collect Payment Information"},
    )
    collect_payment_status_confirmed = fields.Boolean(
        load_default=False,
        metadata={"label": "I checked that id in ClearCare"},
    )
    poll_overlap_seconds = fields.Integer(
        load_default=events.DEFAULT_OVERLAP,
        metadata={"label": "Seconds each poll looks back"},
    )


def _sandbox(app):
    from carehub_clearcare.sandbox import create_blueprint

    return create_blueprint(app)


@hookimpl
def register_connectors(register):
    """Register the ClearCare connector with its settings, webhook and sandbox."""
    register(
        ConnectorInfo(
            name=NAME,
            label="ClearCare",
            role=Role.CARE,
            settings_schema=ClearCareSettings,
            webhook_purposes=(provisioning.PURPOSE,),
            sandbox=_sandbox,
            provision_steps=provisioning.STEPS,
        )
    )


@hookimpl
def connect(connector, agency, connection):
    """Check the credentials; return the agency's name and locations."""
    agency_id = str(connection.setting("agency_id")).strip()
    with client_for(connection) as api:
        api.access_token()
        organizations = api.organizations()
        locations = provisioning.read_locations(api)

    organization = next(
        (o for o in organizations if str(o.get("id")) == agency_id), None
    )
    if organizations and organization is None:
        seen = ", ".join(str(o.get("id")) for o in organizations)
        raise NeedsAttention(
            f"These ClearCare credentials belong to agency {seen}, not to agency "
            f"{agency_id}. Correct the agency id in the ClearCare settings."
        )
    organization = organization or {}
    name = organization.get("name") or "unnamed"

    return Connected(
        account=f"ClearCare agency {agency_id} ({name})",
        facts={
            "agency_id": agency_id,
            "organization": organization.get("name"),
            "subdomain": organization.get("subdomain"),
        },
        agency_facts=AgencyFacts(locations=locations),
    )


@hookimpl
def provision(connector, agency, connection, report):
    """Read the locations and register the subscriptions; return the locations."""
    with client_for(connection) as api:
        return provisioning.provision(agency, connection, report, api)


@hookimpl
def receive_event(connector, agency, connection, inbound):
    """Return the change a subscription delivery names, once its header checks."""
    return events.parse_delivery(connection, inbound)


@hookimpl
def fetch_record(connector, connection, ref: RecordRef) -> Prospect | None:
    """Return the patient as a prospect, or None when it is gone."""
    if ref.kind != "patient":
        return None
    statuses = StatusTable.for_connection(connection)
    with client_for(connection) as api:
        try:
            resource = api.patient(ref.id)
        except NotFound:
            return None
    return to_prospect(resource, statuses.from_native)


@hookimpl
def map_status(connector, connection, status, direction):
    """Return the status id for a status, or the status for an id or label."""
    statuses = StatusTable.for_connection(connection)
    if Direction(direction) == Direction.TO_NATIVE:
        return statuses.to_native(status)
    return statuses.from_native(status)


@hookimpl
def apply_change(connector, agency, connection, change: Change) -> Applied:
    """Write the change into ClearCare; return the patient id and fingerprint."""
    with client_for(connection) as api:
        return PatientWriter(agency, connection, api).apply(change)


@hookimpl
def fetch_changes(connector, connection, cursor) -> ChangeBatch:
    """Return the patients updated since the cursor."""
    with client_for(connection) as api:
        return events.changed_since(connection, api, cursor)
