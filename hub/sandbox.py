"""The sandboxes' door: mounting each connector's stand-in for its vendor's API.

A connector names a blueprint factory in its ``ConnectorInfo``; when ``HUB_SANDBOX``
is on the core mounts it under ``/_sandbox/<connector>/``. Sandboxes keep their state
in their own database, reached through :func:`engine`, so it survives a restart and
is shared by every process, and it never mixes with the hub's own tables.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app

from hub.errors import ConfigurationError

log = logging.getLogger(__name__)

URL_PREFIX = "/_sandbox"


@dataclass
class SandboxHost:
    """What the core gives the sandboxes: their database and where they are served."""

    engine: sa.Engine
    mounted: list[str]


def engine(app: Flask | None = None) -> sa.Engine:
    """Return the sandboxes' database engine.

    :raises ConfigurationError: when the sandboxes are not on.
    """
    app = app or current_app
    host = app.extensions.get("hub.sandbox")
    if host is None:
        raise ConfigurationError("The sandboxes are off; set HUB_SANDBOX=1.")
    return host.engine


def base_url(connector: str, setting: str, real_url: str) -> str:
    """Return the base URL a connector's client should call.

    The setting (such as ``HUB_HUBSPOT_BASE_URL``) wins; otherwise the sandbox
    mounted in this app when the sandboxes are on; otherwise the vendor.
    """
    configured = current_app.config.get(setting)
    if configured:
        return configured.rstrip("/")
    if "hub.sandbox" in current_app.extensions:
        public = current_app.config["HUB_PUBLIC_URL"].rstrip("/")
        return f"{public}{URL_PREFIX}/{connector}"

    return real_url


def init_app(app: Flask) -> SandboxHost | None:
    """Mount every registered connector's sandbox when ``HUB_SANDBOX`` is on."""
    if not app.config["HUB_SANDBOX"]:
        return None
    if app.config["HUB_ENV"] == "production":
        raise ConfigurationError("HUB_SANDBOX cannot be on in production; unset it.")

    host = SandboxHost(
        engine=make_engine(app.config["HUB_SANDBOX_DATABASE_URL"]), mounted=[]
    )
    app.extensions["hub.sandbox"] = host
    csrf = app.extensions.get("csrf")
    for loaded in app.extensions["hub.connectors"].all():
        factory = loaded.info.sandbox
        if factory is None:
            continue
        blueprint = factory(app)
        app.register_blueprint(blueprint, url_prefix=f"{URL_PREFIX}/{loaded.info.name}")
        if csrf is not None:
            csrf.exempt(blueprint)
        host.mounted.append(loaded.info.name)
    log.info("Sandboxes mounted: %s", ", ".join(host.mounted) or "none")

    return host


def make_engine(url: str) -> sa.Engine:
    """Return an engine for a sandbox database, tuned for several processes."""
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url, pool_pre_ping=True)


def create_sandbox_app(
    config: dict | None = None, public_url: str | None = None
) -> Flask:
    """Return an app that serves the sandboxes alone, for a process of their own.

    It reads the same ``HUB_*`` settings as the hub, with the sandboxes on.
    """
    from hub import config as hub_config
    from hub import plugins
    from hub.web import errors, health

    overrides = {**(config or {}), "HUB_SANDBOX": True, "HUB_WORKER": False}
    if public_url:
        overrides["HUB_PUBLIC_URL"] = public_url
    app = Flask("hub.sandbox", instance_path=(config or {}).get("HUB_INSTANCE_PATH"))
    hub_config.load(app, overrides)
    plugins.init_app(app, app.config["HUB_PLUGINS"])
    errors.init_app(app)
    app.register_blueprint(health.bp)
    init_app(app)

    return app


@contextmanager
def transaction(engine: sa.Engine, name: str) -> Iterator[sa.Connection]:
    """Yield a connection in a write transaction that runs alone among ``name``'s.

    A vendor applies one account's writes one after another; a sandbox that reads
    (say, the highest id) and then writes must too, even across processes. On SQLite
    the transaction takes the write lock at once, on PostgreSQL an advisory lock
    named after the sandbox. It commits when the block ends and rolls back on error.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif engine.dialect.name == "postgresql":
            key = zlib.crc32(f"carehub sandbox {name}".encode())
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({key})")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
