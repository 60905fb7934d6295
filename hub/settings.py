"""Validating a connection's settings through its connector's schema."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from hub.canonical import ConnectorInfo
from hub.errors import BadRequest
from hub.models import Connection, utcnow


def save_settings(
    connection: Connection, info: ConnectorInfo, raw: dict[str, Any]
) -> None:
    """Validate settings and store them, the secret ones encrypted.

    A secret field left empty keeps its stored value, so a form need not show it;
    another optional field left empty takes its default; and secrets the connector
    made up itself (``Connection.set_secret``) are kept.

    :raises BadRequest: naming each field that is wrong and why.
    """
    secret = info.secret_fields()
    schema_fields = set(info.settings_schema().fields)
    stored = connection.credentials
    kept = {k: v for k, v in stored.items() if k in schema_fields}
    made_up = {k: v for k, v in stored.items() if k not in schema_fields}
    fields = info.settings_schema().fields
    given = {
        name: value
        for name, value in raw.items()
        if not (value in ("", None) and name in secret and name in kept)
        and not (value == "" and name in fields and not fields[name].required)
    }
    try:
        loaded = info.settings_schema().load({**kept, **given})
    except ValidationError as exc:
        problems = "; ".join(
            f"{name}: {' '.join(map(str, messages))}"
            for name, messages in sorted(exc.normalized_messages().items())
        )
        raise BadRequest(
            f"The {info.label} settings are not valid: {problems}"
        ) from None

    credentials = {k: v for k, v in loaded.items() if k in secret and v is not None}
    if credentials != kept:
        now = utcnow()
        if kept:
            connection.credential_rotated_at = now
        else:
            connection.credential_added_at = now
    connection.credentials = {**made_up, **credentials}
    connection.settings = {k: v for k, v in loaded.items() if k not in secret}
