"""The HubSpot connector's hook implementations."""

from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from carehub_hubspot import (
    apply,
    changes,
    events,
    linking,
    listing,
    provisioning,
    records,
    signatures,
)
from carehub_hubspot import connect as connecting
from carehub_hubspot import status as statuses
from carehub_hubspot.access import client_for
from carehub_hubspot.properties import refresh_locations
from carehub_hubspot.runtime import runtime
from hub import ConnectorInfo, Role, hookimpl

NAME = "hubspot"


class HubSpotSettings(Schema):
    """What an agency admin enters to connect a HubSpot portal."""

    access_token = fields.String(
        required=True,
        metadata={
            "secret": True,
            "label": "HubSpot access token",
            "help": "A Service Key or a private-app token; it replaced the API key.",
        },
    )
    app_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^\d+$", error="The HubSpot app id is a number, such as 1234567."
        ),
        metadata={
            "label": "HubSpot app id",
            "help": "Optional: with its client secret, webhooks are signed.",
        },
    )
    client_secret = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"secret": True, "label": "HubSpot app client secret"},
    )

    @pre_load
    def _blank_is_unset(self, data, **kwargs):
        """Return the data with the optional fields a form left blank unset."""
        return {
            key: None if key != "access_token" and value == "" else value
            for key, value in data.items()
        }


def _sandbox(app):
    from carehub_hubspot.sandbox import create_blueprint

    return create_blueprint(app)


def signing_secret(connection) -> str | None:
    """Return the client secret webhooks are signed with, when signatures are on.

    Signatures are on when both the app id (which the workflows name) and its
    client secret are set.
    """
    credentials = connection.credentials or {}
    if connection.setting("app_id") and credentials.get("client_secret"):
        return credentials["client_secret"]
    return None


@hookimpl
def register_connectors(register):
    """Register the HubSpot connector."""
    register(
        ConnectorInfo(
            name=NAME,
            label="HubSpot",
            role=Role.SALES,
            settings_schema=HubSpotSettings,
            webhook_purposes=(
                "contact.created",
                "contact.changed",
                "deal.stage_changed",
            ),
            sandbox=_sandbox,
            sandbox_account={"tier": "professional", "operations_hub": True},
            provision_steps=provisioning.STEPS,
        )
    )


@hookimpl
def connect(connector, agency, connection):
    """Check the token; return the portal it opens."""
    token = (connection.credentials or {}).get("access_token") or ""
    return connecting.connect(client_for(connection), connection, token)


@hookimpl
def provision(connector, agency, connection, report):
    """Make the portal's pipeline, properties and workflows, reporting each step."""
    provisioning.provision(client_for(connection), agency, connection, report)


@hookimpl
def receive_event(connector, agency, connection, inbound):
    """Verify a workflow webhook and return the change it announces."""
    secret = signing_secret(connection)
    if secret:
        signatures.verify(inbound, secret, runtime().clock())
    return events.parse(inbound, portal_id=(connection.state or {}).get("portal_id"))


@hookimpl
def fetch_record(connector, connection, ref):
    """Return a contact or deal as a prospect, or None when it is gone."""
    return records.fetch_record(client_for(connection), connection, ref)


@hookimpl
def fetch_records(connector, connection, refs):
    """Return contacts and deals as prospects, read in batches of 100."""
    return records.fetch_records(client_for(connection), connection, refs)


@hookimpl
def list_records(connector, connection, after, limit):
    """Return one page of the portal's contacts, each with its deal's status."""
    return listing.list_records(client_for(connection), connection, after, limit)


@hookimpl
def map_status(connector, connection, status, direction):
    """Translate between a status and a stage id of the provisioned pipeline."""
    return statuses.map_status(connection, status, direction)


@hookimpl
def apply_change(connector, agency, connection, change):
    """Write a change into HubSpot; return what was touched."""
    client = client_for(connection)
    refresh_locations(client, agency, connection)
    return apply.apply_change(client, agency, connection, change)


@hookimpl
def apply_changes(connector, agency, connection, changes):
    """Write many changes, the linked ones 100 at a time; return one Applied each."""
    client = client_for(connection)
    refresh_locations(client, agency, connection)
    return linking.apply_changes(client, agency, connection, changes)


@hookimpl
def fetch_changes(connector, connection, cursor):
    """Return the contacts and deals changed since the cursor."""
    return changes.fetch_changes(
        client_for(connection), connection, cursor, runtime().clock()
    )
