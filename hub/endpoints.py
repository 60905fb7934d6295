"""Finding the webhook endpoint a token opens, without loading it for every webhook.

Each process keeps the live endpoints it has opened, by token hash, each with its
connection and agency loaded once and the rows they were loaded from. A kept endpoint
is checked again, with one select by primary key compared with those rows, before
it serves a webhook when:

- ``HUB_ENDPOINT_CACHE_SECONDS`` or more have passed since it was last checked (0
  checks it for every webhook), or
- this process has committed a change to any endpoint, connection or agency since.

When anything differs (a revoked or re-hashed token, new credentials, settings or
state), the endpoint is looked up and loaded again. So a change made in this process
applies to the very next webhook, and one made by another process within that many
seconds. The ingress also checks again at once an endpoint whose webhook its
connector refused, so new credentials never refuse a webhook signed with them.
"""

from __future__ import annotations

import functools
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state

from hub.extensions import db
from hub.inbox import DriverStatement
from hub.models import Agency, Connection, WebhookEndpoint

ENDPOINTS = WebhookEndpoint.__table__
CONNECTIONS = Connection.__table__
AGENCIES = Agency.__table__

#: How many endpoints a process keeps; the oldest is forgotten first.
KEPT = 4096

#: Where the endpoint's own columns sit in a row of :func:`_routes_statement`.
_COLUMN = {column.name: n for n, column in enumerate(ENDPOINTS.columns)}
_CONNECTOR = len(ENDPOINTS.columns) + list(CONNECTIONS.columns).index(
    CONNECTIONS.c.connector
)

#: Counts the commits of this process that changed an endpoint, a connection or an
#: agency; a route checked before the latest one is checked again.
_changes = 0
_CHANGED = "hub.endpoints.changed"


@dataclass(eq=False)
class Route:
    """What a webhook needs of a live endpoint: its purpose and its connection."""

    endpoint_id: int
    token_hash: str
    purpose: str
    connector: str
    #: The connection with its agency loaded, detached from any session, shared by
    #: every request: each one reads a copy (:meth:`borrow_connection`).
    connection: Connection
    #: The endpoint's, connection's and agency's rows, as the driver read them just
    #: before the connection was loaded.
    rows: tuple[Any, ...]
    #: The count of changes and the clock when it last matched the database.
    checked: tuple[int, float]
    #: Each thread's copy of the connection, lent to one request at a time.
    _lent: threading.local = field(default_factory=threading.local, repr=False)

    def borrow_connection(self) -> Connection:
        """Return a copy of the connection and its agency for one request.

        The copy is detached, as if loaded by a session since closed: its columns
        read without a query, and a relationship not loaded (the agency's
        locations, the connection's endpoints) raises ``DetachedInstanceError``
        rather than reading stale rows. Each thread keeps the copy it gave back
        unchanged, for its next request.
        """
        connection = getattr(self._lent, "connection", None)
        if connection is None:
            return _copy(self.connection, agency=_copy(self.connection.agency))

        self._lent.connection = None
        return connection

    def give_back(self, connection: Connection) -> None:
        """Keep a borrowed copy for the thread's next request, unless a connector
        changed it or its agency in any way."""
        if _unchanged(connection, self.connection) and _unchanged(
            connection.agency, self.connection.agency
        ):
            self._lent.connection = connection


class EndpointCache:
    """The live endpoints this process has opened, by token hash.

    :param seconds: how long an endpoint serves webhooks before it is checked
        against the database again.
    :param clock: returns the current time in seconds; injectable for tests.
    """

    def __init__(
        self,
        seconds: float = 1.0,
        kept: int = KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.kept = kept
        self.clock = clock
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()

    def find(
        self, connector: str, hashes: list[str], connect: Callable[[], Any]
    ) -> tuple[Route | None, bool]:
        """Return the route of the live endpoint whose token has one of the hashes,
        and whether it was checked against the database just now.

        :param connect: returns the database driver's connection to read with.
        """
        for token_hash in hashes:
            route = self._routes.get(token_hash)
            if route is None:
                continue
            if self._current(route):
                return _for(route, connector), False
            return _for(self.check(route, hashes, connect), connector), True

        return _for(self._look_up(hashes, connect), connector), True

    def check(
        self, route: Route, hashes: list[str], connect: Callable[[], Any]
    ) -> Route | None:
        """Return the route as the database has it now: itself when nothing changed,
        else looked up and loaded again, or ``None`` when it is revoked or gone."""
        changes, now = _changes, self.clock()
        rows = _select(connect(), "id", {"id": route.endpoint_id})
        if rows and tuple(rows[0]) == route.rows:
            route.checked = (changes, now)
            return route

        self._forget(route)
        return self._look_up(hashes, connect)

    def _current(self, route: Route) -> bool:
        changes, at = route.checked
        return changes == _changes and self.clock() - at < self.seconds

    def _look_up(self, hashes: list[str], connect: Callable[[], Any]) -> Route | None:
        changes, now = _changes, self.clock()
        params = {f"hash_{n}": value for n, value in enumerate(hashes)}
        for row in _select(connect(), len(hashes), params):
            token_hash = row[_COLUMN["token_hash"]]
            if (
                any(hmac.compare_digest(token_hash, h) for h in hashes)
                and row[_COLUMN["revoked_at"]] is None
            ):
                return self._load(token_hash, tuple(row), (changes, now))
        return None

    def _load(
        self, token_hash: str, rows: tuple[Any, ...], checked: tuple[int, float]
    ) -> Route | None:
        connection_id = rows[_COLUMN["connection_id"]]
        with Session(db.engine) as session:
            connection = session.scalars(
                sa.select(Connection)
                .options(joinedload(Connection.agency))
                .where(Connection.id == connection_id)
            ).one_or_none()
        if connection is None:
            return None

        route = Route(
            endpoint_id=rows[_COLUMN["id"]],
            token_hash=token_hash,
            purpose=rows[_COLUMN["purpose"]],
            connector=rows[_CONNECTOR],
            connection=connection,
            rows=rows,
            checked=checked,
        )
        with self._lock:
            while len(self._routes) >= self.kept:
                self._routes.pop(next(iter(self._routes)))
            self._routes[token_hash] = route

        return route

    def _forget(self, route: Route) -> None:
        with self._lock:
            if self._routes.get(route.token_hash) is route:
                del self._routes[route.token_hash]


def endpoint_cache() -> EndpointCache:
    """Return the current app's endpoint cache, making it on first use."""
    cache = current_app.extensions.get("hub.endpoint_cache")
    if cache is None:
        seconds = current_app.config["HUB_ENDPOINT_CACHE_SECONDS"]
        cache = current_app.extensions.setdefault(
            "hub.endpoint_cache", EndpointCache(seconds=seconds)
        )
    return cache


def _for(route: Route | None, connector: str) -> Route | None:
    """Return the route if it belongs to the connector named in the URL."""
    return route if route is not None and route.connector == connector else None


def _copy(instance, **related):
    """Return a detached copy of an instance's columns and the related given."""
    mapper = sa.inspect(type(instance))
    copy = mapper.class_manager.new_instance()
    values = instance.__dict__
    for key, is_json in _columns(mapper):
        value = values[key]
        copy.__dict__[key] = json.loads(json.dumps(value)) if is_json else value
    copy.__dict__.update(related)
    make_transient_to_detached(copy)

    return copy


def _unchanged(copy, instance) -> bool:
    """Return whether a copy still holds the instance's values and no changes."""
    state = instance_state(copy)
    if not state.detached or state.modified:
        return False
    values = instance.__dict__
    # A JSON value changed in place leaves no trace in the state: compare them.
    return all(
        copy.__dict__.get(key) == values[key]
        for key, is_json in _columns(state.mapper)
        if is_json
    )


@functools.cache
def _columns(mapper) -> tuple[tuple[str, bool], ...]:
    """Return a mapper's column attributes, each with whether it holds JSON."""
    return tuple(
        (prop.key, isinstance(prop.columns[0].type, sa.JSON))
        for prop in mapper.column_attrs
    )


def _select(dbapi_connection, by: str | int, params: dict) -> list[tuple]:
    """Return the endpoint, connection and agency rows found by endpoint id
    (``by="id"``) or by any of ``by`` token hashes."""
    statement = DriverStatement.of(_routes_statement(by), db.engine.dialect)
    cursor = dbapi_connection.cursor()
    try:
        return statement.run(cursor, params)
    finally:
        cursor.close()


@functools.cache
def _routes_statement(by: str | int) -> sa.Select:
    statement = (
        sa.select(ENDPOINTS, CONNECTIONS, AGENCIES)
        .join(CONNECTIONS, CONNECTIONS.c.id == ENDPOINTS.c.connection_id)
        .join(AGENCIES, AGENCIES.c.id == CONNECTIONS.c.agency_id)
    )
    if by == "id":
        return statement.where(ENDPOINTS.c.id == sa.bindparam("id"))
    return statement.where(
        ENDPOINTS.c.token_hash.in_([sa.bindparam(f"hash_{n}") for n in range(by)])
    )


@sa.event.listens_for(Session, "after_flush")
def _note_changes(session: Session, flush_context) -> None:
    """Mark a session whose flush wrote an endpoint, a connection or an agency."""
    written = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(obj, WebhookEndpoint | Connection | Agency) for obj in written):
        session.info[_CHANGED] = True


@sa.event.listens_for(Session, "after_commit")
def _count_changes(session: Session) -> None:
    """Make every kept route be checked again once such a change is committed."""
    global _changes
    if session.info.pop(_CHANGED, False):
        _changes += 1


@sa.event.listens_for(Session, "after_rollback")
def _drop_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)
