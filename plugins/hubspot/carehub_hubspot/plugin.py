"""The HubSpot connector's hook implementations."""

from __future__ import annotations

from marshmallow import Schema, fields

from hub import ConnectorInfo, Role, hookimpl

NAME = "hubspot"


class HubSpotSettings(Schema):
    """What an agency admin enters to connect a HubSpot portal."""

    access_token = fields.String(
        required=True,
        metadata={"secret": True, "label": "HubSpot access token"},
    )
    app_id = fields.String(load_default=None, metadata={"label": "HubSpot app id"})
    client_secret = fields.String(
        load_default=None,
        metadata={"secret": True, "label": "HubSpot app client secret"},
    )


def _sandbox(app):
    from carehub_hubspot.sandbox import create_blueprint

    return create_blueprint(app)


@hookimpl
def register_connectors(register):
    register(
        ConnectorInfo(
            name=NAME,
            label="HubSpot",
            role=Role.SALES,
            settings_schema=HubSpotSettings,
            webhook_purposes=("contact.created", "contact.changed", "deal.stage_changed"),
            sandbox=_sandbox,
            provision_steps=("pipeline", "properties", "contact_workflows", "deal_workflow"),
        )
    )
