"""The ClearCare sandbox's tables, kept in the sandboxes' own database."""

from __future__ import annotations

import time

import sqlalchemy as sa

metadata = sa.MetaData()

#: The first ids the sandbox hands out, shaped like ClearCare's.
FIRST_AGENCY_ID = 1669
FIRST_PATIENT_ID = 2870130
FIRST_SUBSCRIPTION_ID = 789

accounts = sa.Table(
    "clearcare_account",
    metadata,
    sa.Column("agency_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("subdomain", sa.String(200), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("client_secret", sa.String(64), nullable=False),
    #: Extra fields this agency requires on a new patient, such as ``birthDate``.
    sa.Column("required_fields", sa.JSON, nullable=False, default=list),
    sa.Column("refuse_writes", sa.Boolean, nullable=False, default=False),
    #: Whether ``GET /v1/locations/`` answers; some agencies only have ``_search``.
    sa.Column("locations_get", sa.Boolean, nullable=False, default=True),
)

tokens = sa.Table(
    "clearcare_token",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("agency_id", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

locations = sa.Table(
    "clearcare_location",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("agency_id", sa.Integer, nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
)

patients = sa.Table(
    "clearcare_patient",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("agency_id", sa.Integer, nullable=False, index=True),
    sa.Column("resource", sa.JSON, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

subscriptions = sa.Table(
    "clearcare_subscription",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("agency_id", sa.Integer, nullable=False, index=True),
    sa.Column("resource", sa.JSON, nullable=False),
)

deliveries = sa.Table(
    "clearcare_delivery",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("subscription_id", sa.Integer, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    #: ``pending``, ``delivered`` or ``failed``.
    sa.Column("state", sa.String(16), nullable=False, default="pending"),
    sa.Column("last_error", sa.Text),
)

faults = sa.Table(
    "clearcare_fault",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("status", sa.Integer),
    sa.Column("latency_ms", sa.Integer),
    sa.Column("remaining", sa.Integer, nullable=False),
    sa.Column("path_prefix", sa.String(200), nullable=False, default=""),
)

requests_log = sa.Table(
    "clearcare_request",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account", sa.String(32), nullable=False, default=""),
    #: The method and the route, such as ``POST /v1/patients/``.
    sa.Column("route", sa.String(200), nullable=False),
    #: ``read``, ``write``, ``token`` or ``refused`` (the gateway's 403).
    sa.Column("kind", sa.String(8), nullable=False),
)

clock = sa.Table(
    "clearcare_clock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("offset", sa.Float, nullable=False, default=0.0),
)

#: Tables emptied by a reset, children first.
RESETTABLE = (
    deliveries,
    subscriptions,
    patients,
    locations,
    tokens,
    accounts,
    faults,
    requests_log,
    clock,
)


def create_tables(engine: sa.Engine) -> None:
    """Create the sandbox's tables if they are missing."""
    metadata.create_all(engine)


def now(conn: sa.Connection) -> float:
    """Return the sandbox's clock: the real time moved by ``POST _control/clock``."""
    offset = conn.execute(sa.select(clock.c.offset).where(clock.c.id == 1)).scalar()
    return time.time() + (offset or 0.0)


def advance(conn: sa.Connection, seconds: float) -> None:
    """Move the sandbox's clock forward."""
    updated = conn.execute(
        clock.update().where(clock.c.id == 1).values(offset=clock.c.offset + seconds)
    )
    if updated.rowcount == 0:
        conn.execute(clock.insert().values(id=1, offset=seconds))


def next_id(conn: sa.Connection, table: sa.Table, column: str, first: int) -> int:
    """Return the next id for a table whose ids start at ``first``."""
    highest = conn.execute(sa.select(sa.func.max(table.c[column]))).scalar()
    return first if highest is None else highest + 1
