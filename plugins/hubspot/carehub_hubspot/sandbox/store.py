"""The HubSpot sandbox's tables, transactions, clock and id sequences.

Everything the sandbox knows lives in these tables on the sandbox database, so a
restart keeps it and several processes share it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa

from hub.sandbox import transaction as sandbox_transaction

metadata = sa.MetaData()

kv = sa.Table(
    "hubspot_kv",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

portals = sa.Table(
    "hubspot_portals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("tier", sa.String(20), nullable=False),
    sa.Column("operations_hub", sa.Boolean, nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("token", sa.String(100), nullable=False, unique=True),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

records = sa.Table(
    "hubspot_records",
    metadata,
    sa.Column("portal_id", sa.Integer, primary_key=True),
    sa.Column("object_type", sa.String(20), primary_key=True),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("properties", sa.JSON, nullable=False),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
)

#: Each association is stored once in each direction.
associations = sa.Table(
    "hubspot_associations",
    metadata,
    sa.Column("portal_id", sa.Integer, primary_key=True),
    sa.Column("from_type", sa.String(20), primary_key=True),
    sa.Column("from_id", sa.Integer, primary_key=True),
    sa.Column("to_type", sa.String(20), primary_key=True),
    sa.Column("to_id", sa.Integer, primary_key=True),
)

#: Properties, property groups, pipelines and workflows, as HubSpot shows them.
definitions = sa.Table(
    "hubspot_definitions",
    metadata,
    sa.Column("portal_id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("object_type", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
)

enrollments = sa.Table(
    "hubspot_enrollments",
    metadata,
    sa.Column("portal_id", sa.Integer, primary_key=True),
    sa.Column("flow_id", sa.String(40), primary_key=True),
    sa.Column("object_id", sa.Integer, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
)

deliveries = sa.Table(
    "hubspot_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("portal_id", sa.Integer, nullable=False),
    sa.Column("flow_id", sa.String(40), nullable=False),
    sa.Column("action_id", sa.String(40), nullable=False),
    sa.Column("object_type", sa.String(20), nullable=False),
    sa.Column("object_id", sa.Integer, nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("auth", sa.JSON, nullable=True),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("attempts", sa.JSON, nullable=False),
    sa.Column("first_at", sa.Float, nullable=False),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("claimed_until", sa.Float, nullable=False, default=0.0),
)

#: Which record holds each value of a unique property (a contact's email too).
unique_values = sa.Table(
    "hubspot_unique_values",
    metadata,
    sa.Column("portal_id", sa.Integer, primary_key=True),
    sa.Column("object_type", sa.String(20), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("record_id", sa.Integer, nullable=False),
)

faults = sa.Table(
    "hubspot_faults",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=True),
    sa.Column("remaining", sa.Integer, nullable=False),
    sa.Column("path_prefix", sa.String(300), nullable=False, default=""),
)

usage = sa.Table(
    "hubspot_usage",
    metadata,
    sa.Column("portal_id", sa.Integer, primary_key=True),
    sa.Column("path", sa.String(400), primary_key=True),
    sa.Column("reads", sa.Integer, nullable=False),
    sa.Column("writes", sa.Integer, nullable=False),
)

#: One row per request that counts towards a rolling window.
hits = sa.Table(
    "hubspot_hits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("portal_id", sa.Integer, nullable=False),
    sa.Column("policy", sa.String(20), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_hubspot_hits_window", "portal_id", "policy", "at"),
)

daily = sa.Table(
    "hubspot_daily",
    metadata,
    sa.Column("portal_id", sa.Integer, primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

app_secrets = sa.Table(
    "hubspot_app_secrets",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("client_secret", sa.String(200), nullable=False),
)


def create_tables(engine: sa.Engine) -> None:
    """Create the sandbox's tables that do not exist yet."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    metadata.create_all(engine)


def drop_all(conn: sa.Connection) -> None:
    """Empty every table of the sandbox."""
    for table in reversed(metadata.sorted_tables):
        conn.execute(table.delete())


def transaction(engine: sa.Engine):
    """Return a write transaction that runs alone, as one HubSpot applies them."""
    return sandbox_transaction(engine, "hubspot")


def get_value(conn: sa.Connection, key: str, default: str = "") -> str:
    """Return a stored setting, or ``default``."""
    value = conn.execute(sa.select(kv.c.value).where(kv.c.key == key)).scalar()

    return default if value is None else value


def set_value(conn: sa.Connection, key: str, value: str) -> None:
    """Store a setting."""
    updated = conn.execute(kv.update().where(kv.c.key == key).values(value=value))
    if not updated.rowcount:
        conn.execute(kv.insert().values(key=key, value=value))


def next_id(conn: sa.Connection, sequence: str, start: int = 1) -> int:
    """Return the next number of a sequence shared by every process."""
    current = int(get_value(conn, f"seq:{sequence}", str(start - 1)))
    set_value(conn, f"seq:{sequence}", str(current + 1))

    return current + 1


def now(conn: sa.Connection) -> float:
    """Return the sandbox's clock: real time moved on by ``POST _control/clock``."""
    return time.time() + float(get_value(conn, "clock_offset", "0"))


def iso(timestamp: float) -> str:
    """Return a timestamp as HubSpot writes one: ISO 8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(timestamp, UTC)

    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def millis(timestamp: float) -> int:
    """Return a timestamp in epoch milliseconds."""
    return int(round(timestamp * 1000))
