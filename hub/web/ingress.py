"""Webhook ingress: ``POST /hooks/<connector>/<token>``.

A request is checked, handed to its connector's ``receive_event``, and stored as
events in one transaction before it is answered; the worker does the rest later.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from functools import cache, partial

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.exc import DetachedInstanceError
from werkzeug.exceptions import ClientDisconnected

from hub.canonical import Inbound
from hub.crypto import vault
from hub.endpoints import Route, endpoint_cache
from hub.errors import (
    HubError,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    UnsupportedMediaType,
)
from hub.extensions import db
from hub.inbox import GroupCommit, event_rows, notify_stored, store_changes
from hub.models import Connection

log = logging.getLogger(__name__)

bp = Blueprint("ingress", __name__)

UNKNOWN = "No webhook is registered at this address."
UNAVAILABLE = "The hub cannot store events right now."
UNAVAILABLE_STORE = (
    "The hub cannot store events right now; send the webhook again later."
)


@bp.post("/hooks/<connector>/<token>")
def receive(connector: str, token: str):
    """Store one webhook's changes as events and acknowledge it."""
    with DriverConnection() as connect:
        hashes = token_hashes(token)
        route, checked = find_route(connector, hashes, connect)
        if route is None:
            log.info("Refused a webhook for connector %s: unknown token.", connector)
            raise NotFound(UNKNOWN)

        purpose, slug = route.purpose, route.connection.agency.slug
        try:
            inbound = read_inbound(purpose)
            recheck = (
                None if checked else partial(recheck_route, route, hashes, connect)
            )
            route, connection, changes = verify_and_parse(route, inbound, recheck)
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
        event_ids = store(connect, connection, changes)
        route.give_back(connection)

    notify_stored(event_ids, connector)
    log.debug(
        "Stored %d event(s) for agency %s, connector %s, purpose %s: %s",
        len(event_ids),
        slug,
        connector,
        purpose,
        event_ids,
    )

    return stored_answer(len(event_ids))


@cache
def _stored_body(count: int) -> bytes:
    return json.dumps({"stored": count}).encode() + b"\n"


def stored_answer(count: int) -> Response:
    """Return the acknowledgement of a stored webhook, ``{"stored": count}``,
    without the JSON provider's work for a body that is always the same."""
    return Response(_stored_body(count), mimetype="application/json")


class DriverConnection:
    """The database driver's own connection for one webhook, taken from the pool
    when first needed and given back (rolled back unless committed) at the end."""

    def __init__(self) -> None:
        self._connection = None

    def __enter__(self) -> DriverConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._connection is not None:
            self._connection.close()

    def __call__(self):
        """Return the connection; answer 503 when the database cannot be reached."""
        if self._connection is None:
            try:
                self._connection = db.engine.raw_connection()
            except SQLAlchemyError as exc:
                log.error("The database failed while taking a webhook: %s", exc)
                raise StorageUnavailable(UNAVAILABLE) from None
        return self._connection


def token_hashes(token: str) -> list[str]:
    """Return the hashes a token is looked up by; none for what cannot be one."""
    if not token or len(token) > 128:
        return []
    return vault().token_hashes(token)


def find_route(connector: str, hashes: list[str], connect) -> tuple[Route | None, bool]:
    """Return the route of the live endpoint a token opens, and whether it was
    checked against the database just now."""
    if not hashes:
        return None, True
    try:
        return endpoint_cache().find(connector, hashes, connect)
    except (SQLAlchemyError, driver_errors()) as exc:
        log.error("The database failed while looking up a webhook token: %s", exc)
        raise StorageUnavailable(UNAVAILABLE) from None


def recheck_route(route: Route, hashes: list[str], connect) -> Route | None:
    """Return the route as the database has it now, for the same connector."""
    try:
        found = endpoint_cache().check(route, hashes, connect)
    except (SQLAlchemyError, driver_errors()) as exc:
        log.error("The database failed while looking up a webhook token: %s", exc)
        raise StorageUnavailable(UNAVAILABLE) from None

    return found if found is not None and found.connector == route.connector else None


def verify_and_parse(route: Route, inbound: Inbound, recheck=None):
    """Return the route, the connection the connector saw and the changes it found.

    :param recheck: when the route was served from the cache without a check,
        returns it as the database has it now. A refused webhook is then tried
        again if the route changed, so new credentials take effect at once.
    """
    try:
        return route, *run_connector(route, inbound)
    except HubError:
        if recheck is None:
            raise
        fresh = recheck()
        if fresh is route:
            raise
        if fresh is None:
            raise NotFound(UNKNOWN) from None
        return fresh, *run_connector(fresh, inbound)


def run_connector(route: Route, inbound: Inbound) -> tuple[Connection, list]:
    """Return the connection the connector saw and the changes it found.

    The connector gets the request's own copy of the cached connection. When it
    reaches for a relationship the copy does not hold, it runs again with the
    connection and agency loaded by the session, as if there were no cache.
    """
    connectors = current_app.extensions["hub.connectors"]
    connection = route.borrow_connection()
    try:
        changes = connectors.receive_event(
            route.connector, connection.agency, connection, inbound
        )
    except DetachedInstanceError:
        connection = load_connection(route.connection.id)
        changes = connectors.receive_event(
            route.connector, connection.agency, connection, inbound
        )

    return connection, changes


def load_connection(connection_id: int) -> Connection:
    """Return a connection with its agency, loaded by the request's session."""
    try:
        connection = db.session.get(
            Connection, connection_id, options=[joinedload(Connection.agency)]
        )
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error(
            "The database failed while loading connection %s: %s", connection_id, exc
        )
        raise StorageUnavailable(UNAVAILABLE) from None
    if connection is None:
        raise NotFound(UNKNOWN)

    return connection


def read_inbound(purpose: str) -> Inbound:
    """Return the request as an ``Inbound``, refusing what is too large or not JSON.

    The request is read through its object once, not through Flask's proxy for
    each attribute, and its headers in one pass over the WSGI environ.
    """
    incoming = request._get_current_object()
    limit = current_app.config["HUB_MAX_WEBHOOK_BYTES"]
    length = incoming.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")

    mimetype = incoming.mimetype or ""
    if not is_json(mimetype):
        raise UnsupportedMediaType(
            f"The content type must be JSON (application/json or a +json type), "
            f"not {mimetype or 'none'!r}."
        )

    body = read_body(incoming, length, limit)
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")

    query = incoming.query_string
    return Inbound(
        method=incoming.method,
        url=signed_url(incoming),
        headers=dict(incoming.headers.items()),
        body=body,
        query=incoming.args.to_dict() if query else {},
        purpose=purpose,
    )


def read_body(incoming, length: int | None, limit: int) -> bytes:
    """Return the body, or its first ``limit + 1`` bytes when it is longer.

    A body of known length is read straight from the WSGI input, which is what
    werkzeug's stream would do for it after wrapping it. Otherwise a read asks for
    no more than it may return: werkzeug's stream makes a buffer of the size asked
    for, and a megabyte made for a small body on every webhook costs more than the
    rest of reading it.
    """
    if length is not None:
        body = incoming.environ["wsgi.input"].read(length) if length else b""
        if len(body) < length:
            raise ClientDisconnected()
        return body

    stream = incoming.stream
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)

    return b"".join(chunks)


def is_json(mimetype: str) -> bool:
    """Return whether a content type names JSON."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def signed_url(incoming) -> str:
    """Return the URL as the vendor called it: the public URL, the path, the query."""
    url = current_app.config["HUB_PUBLIC_URL"].rstrip("/") + incoming.path
    query = incoming.query_string.decode("latin-1")

    return f"{url}?{query}" if query else url


def store(connect, connection: Connection, changes) -> list[int]:
    """Store the changes in one transaction, or answer 503 so the sender retries.

    The events go in through the driver's connection, committed together with those
    of webhooks arriving at the same moment. Only when the connector changed the
    connection (which the hub saves with the events) does the session store them.
    """
    session = db.session
    try:
        if changed(connection):
            session.merge(connection)
            event_ids = store_changes(connection, changes)
            session.commit()
        else:
            rows = event_rows(connection, changes)
            event_ids = (
                group_commit().store(connect, db.engine.dialect, rows) if rows else []
            )
    except (SQLAlchemyError, driver_errors()) as exc:
        session.rollback()
        log.error(
            "Could not store events for agency %s, connector %s: %s",
            connection.agency_id,
            connection.connector,
            exc.__class__.__name__,
        )
        raise StorageUnavailable(UNAVAILABLE_STORE) from None

    return event_ids


def changed(connection: Connection) -> bool:
    """Return whether the connector changed the connection or its agency."""
    state = instance_state(connection)
    if not state.detached:
        session = db.session
        return bool(session.dirty or session.new or session.deleted)
    return state.modified or instance_state(connection.agency).modified


def group_commit() -> GroupCommit:
    """Return the current app's group commit, making it on first use."""
    committer = current_app.extensions.get("hub.group_commit")
    if committer is None:
        wait = current_app.config["HUB_GROUP_COMMIT_MS"] / 1000
        committer = current_app.extensions.setdefault(
            "hub.group_commit", GroupCommit(wait=wait)
        )
    return committer


def driver_errors() -> type[Exception]:
    """Return the base class of the database driver's errors."""
    return db.engine.dialect.loaded_dbapi.Error
