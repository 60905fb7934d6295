"""Webhook ingress: ``POST /hooks/<connector>/<token>``.

A request is checked, handed to its connector's ``receive_event``, and stored as
events in one transaction before it is answered; the worker does the rest later.
"""

from __future__ import annotations

import functools
import hmac
import logging
from dataclasses import replace

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from hub.canonical import Inbound
from hub.crypto import vault
from hub.errors import (
    HubError,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    UnsupportedMediaType,
)
from hub.extensions import db
from hub.inbox import notify_stored, store_changes
from hub.models import Connection, WebhookEndpoint

log = logging.getLogger(__name__)

bp = Blueprint("ingress", __name__)

UNKNOWN = "No webhook is registered at this address."


@bp.post("/hooks/<connector>/<token>")
def receive(connector: str, token: str):
    """Store one webhook's changes as events and acknowledge it."""
    endpoint = find_endpoint(connector, token)
    if endpoint is None:
        log.info("Refused a webhook for connector %s: unknown token.", connector)
        raise NotFound(UNKNOWN)

    connection = endpoint.connection
    agency = connection.agency
    # Read before the commit expires them, so logging needs no query.
    slug, purpose = agency.slug, endpoint.purpose
    try:
        inbound = read_inbound(endpoint)
        changes = current_app.extensions["hub.connectors"].receive_event(
            connector, agency, connection, inbound
        )
    except HubError as exc:
        log.info(
            "Refused a webhook for agency %s, connector %s, purpose %s (%s): %s",
            slug,
            connector,
            purpose,
            exc.status,
            exc.message,
        )
        raise

    changes = [
        change if change.purpose else replace(change, purpose=purpose)
        for change in changes
    ]
    event_ids = store(connection, changes)
    notify_stored(event_ids, connector)
    log.info(
        "Stored %d event(s) for agency %s, connector %s, purpose %s: %s",
        len(event_ids),
        slug,
        connector,
        purpose,
        event_ids,
    )

    return jsonify(stored=len(event_ids))


@functools.cache
def endpoint_query():
    """Return the one query that finds an endpoint with its connection and agency,
    made once: building a statement costs more than running it."""
    return (
        sa.select(WebhookEndpoint)
        .options(joinedload(WebhookEndpoint.connection).joinedload(Connection.agency))
        .where(WebhookEndpoint.token_hash.in_(sa.bindparam("hashes", expanding=True)))
    )


def find_endpoint(connector: str, token: str) -> WebhookEndpoint | None:
    """Return the live endpoint a token opens, comparing hashes in constant time."""
    if not token or len(token) > 128:
        return None

    hashes = vault().token_hashes(token)
    try:
        candidates = db.session.scalars(endpoint_query(), {"hashes": hashes}).all()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("The database failed while looking up a webhook token: %s", exc)
        raise StorageUnavailable("The hub cannot store events right now.") from None

    for endpoint in candidates:
        if (
            any(hmac.compare_digest(endpoint.token_hash, h) for h in hashes)
            and endpoint.revoked_at is None
            and endpoint.connection.connector == connector
        ):
            return endpoint
    return None


def read_inbound(endpoint: WebhookEndpoint) -> Inbound:
    """Return the request as an ``Inbound``, refusing what is too large or not JSON."""
    limit = current_app.config["HUB_MAX_WEBHOOK_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")

    mimetype = request.mimetype or ""
    if not is_json(mimetype):
        raise UnsupportedMediaType(
            f"The content type must be JSON (application/json or a +json type), "
            f"not {mimetype or 'none'!r}."
        )

    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")

    return Inbound(
        method=request.method,
        url=signed_url(),
        headers={key: value for key, value in request.headers.items()},
        body=body,
        query={key: value for key, value in request.args.items()},
        purpose=endpoint.purpose,
    )


def is_json(mimetype: str) -> bool:
    """Return whether a content type names JSON."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def signed_url() -> str:
    """Return the URL as the vendor called it: the public URL, the path, the query."""
    url = current_app.config["HUB_PUBLIC_URL"].rstrip("/") + request.path
    query = request.query_string.decode("latin-1")

    return f"{url}?{query}" if query else url


def store(connection: Connection, changes) -> list[int]:
    """Store the changes in one transaction, or answer 503 so the sender retries."""
    try:
        event_ids = store_changes(connection, changes)
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error(
            "Could not store events for agency %s, connector %s: %s",
            connection.agency_id,
            connection.connector,
            exc.__class__.__name__,
        )
        raise StorageUnavailable(
            "The hub cannot store events right now; send the webhook again later."
        ) from None

    return event_ids
