"""A connector with one hook besides its registration."""

from marshmallow import Schema

from hub import ConnectorInfo, ProspectStatus, Role, hookimpl


@hookimpl
def register_connectors(register):
    register(ConnectorInfo("tiny", "Tiny CRM", Role.SALES, settings_schema=Schema))


@hookimpl
def map_status(status, direction):
    return f"tiny-{ProspectStatus(status).position}"
