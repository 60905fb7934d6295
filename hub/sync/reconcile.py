"""Reconciliation: asking each connection what changed, the backstop for webhooks
that never came.

Every interval, each provisioned connection's ``fetch_changes`` is called from the
cursor stored the time before (the connector looks back an overlap window before it),
and what it finds goes through the event inbox with its deduplication keys: the
worker processes it exactly as it would a webhook, and what a run saw before is not
stored again. A HubSpot portal that cannot send workflow webhooks
(``connection.state["sync_by_polling"]``) is reconciled at a shorter interval, since
there reconciliation is the sync.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.dialects import postgresql, sqlite

from hub.errors import HubError
from hub.extensions import db
from hub.inbox import notify_stored, store_changes
from hub.models import Connection, EventStatus, ProvisioningJob, SyncCursor
from hub.sync.clock import SystemClock

log = logging.getLogger(__name__)

KIND = "reconcile"

#: The settings reconciliation reads, and their defaults.
DEFAULTS = {
    "HUB_RECONCILE": True,
    "HUB_RECONCILE_SECONDS": 900,
    "HUB_RECONCILE_POLLING_SECONDS": 120,
}


def init_app(app: Flask, clock=None) -> Reconciler:
    """Make the app's reconciler and keep it in ``app.extensions["hub.reconciler"]``."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    reconciler = Reconciler(app, clock or SystemClock())
    app.extensions["hub.reconciler"] = reconciler

    return reconciler


def enabled(config) -> bool:
    """Return whether ``HUB_RECONCILE`` leaves reconciliation on (the default)."""
    value = config.get("HUB_RECONCILE", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def by_polling(connection: Connection) -> bool:
    """Return whether the connection cannot send workflow webhooks, so polling is
    its sync."""
    return bool((connection.state or {}).get("sync_by_polling"))


def interval_for(connection: Connection, config) -> timedelta:
    """Return how long a connection waits between two reconciliations."""
    if by_polling(connection):
        seconds = config["HUB_RECONCILE_POLLING_SECONDS"]
    else:
        seconds = config["HUB_RECONCILE_SECONDS"]

    return timedelta(seconds=float(seconds))


def cursor_for(connection_id: int, kind: str) -> SyncCursor:
    """Return the connection's cursor row of a kind, making it once."""
    dialect = db.engine.dialect.name
    values = {"connection_id": connection_id, "kind": kind}
    if dialect in ("sqlite", "postgresql"):
        module = sqlite if dialect == "sqlite" else postgresql
        db.session.execute(
            module.insert(SyncCursor).values(**values).on_conflict_do_nothing()
        )
    else:
        found = db.session.scalar(sa.select(SyncCursor).filter_by(**values))
        if found is None:
            db.session.add(SyncCursor(**values))
            db.session.flush()
    db.session.commit()

    return db.session.scalar(sa.select(SyncCursor).filter_by(**values))


def provisioned_connections(agency_id: int | None = None) -> list[Connection]:
    """Return the connections of agencies whose provisioning has finished (of one
    agency, when given)."""
    done = (
        sa.select(ProvisioningJob.agency_id)
        .where(ProvisioningJob.status == EventStatus.DONE.value)
        .scalar_subquery()
    )
    query = sa.select(Connection).where(Connection.agency_id.in_(done))
    if agency_id is not None:
        query = query.where(Connection.agency_id == agency_id)

    return list(db.session.scalars(query.order_by(Connection.id)))


def claim(row: SyncCursor, now: datetime, interval: timedelta) -> bool:
    """Take this round of a cursor if it is due, pushing its next run out; return
    whether this process got it (so two workers do not poll one remote at once)."""
    taken = db.session.execute(
        sa.update(SyncCursor)
        .where(
            SyncCursor.id == row.id,
            sa.or_(SyncCursor.next_run_at.is_(None), SyncCursor.next_run_at <= now),
        )
        .values(next_run_at=now + interval)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

    return taken.rowcount == 1


def reconcile_connection(connection: Connection, connectors, now: datetime) -> int:
    """Fetch what changed on one connection since its cursor and store it as
    events; return how many new events were stored.

    :raises HubError: when the connector could not say what changed; the cursor
        stays where it was, so the next run looks again.
    """
    row = cursor_for(connection.id, KIND)
    batch = connectors.fetch_changes(connection.connector, connection, row.cursor)
    event_ids = store_changes(connection, batch.changes)
    if batch.cursor:
        row.cursor = batch.cursor
    row.last_run_at = now
    row.last_found = len(batch.changes)
    row.last_stored = len(event_ids)
    row.last_error = None
    db.session.commit()
    notify_stored(event_ids)
    if batch.changes:
        log.info(
            "Reconciled agency %s, connector %s: %d change(s) found, %d new.",
            connection.agency_id,
            connection.connector,
            len(batch.changes),
            len(event_ids),
        )

    return len(event_ids)


class Reconciler:
    """Runs reconciliation for every due connection, in a thread or when told."""

    def __init__(self, app: Flask, clock) -> None:
        self.app = app
        self.clock = clock
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        if hasattr(clock, "on_advance"):
            clock.on_advance(self.wake)

    def run_due(self, force: bool = False, agency_id: int | None = None) -> int:
        """Reconcile every connection that is due (or all, with ``force``), of every
        agency or of one; return how many new events were stored."""
        stored = 0
        with self.app.app_context():
            try:
                connectors = self.app.extensions["hub.connectors"]
                for connection in provisioned_connections(agency_id):
                    if connection.connector not in connectors.names():
                        continue
                    stored += self._run_one(connection, connectors, force)
            finally:
                db.session.remove()

        return stored

    def _run_one(self, connection: Connection, connectors, force: bool) -> int:
        now = self.clock.now()
        interval = interval_for(connection, self.app.config)
        row = cursor_for(connection.id, KIND)
        if force:
            row.next_run_at = None
            db.session.commit()
        if not claim(row, now, interval):
            return 0

        try:
            return reconcile_connection(connection, connectors, now)
        except HubError as exc:
            db.session.rollback()
            self._failed(row.id, now, exc.message)
            log.warning(
                "Reconciling agency %s, connector %s failed; trying again in %s: %s",
                connection.agency_id,
                connection.connector,
                interval,
                exc.message,
            )
        except Exception as exc:
            db.session.rollback()
            self._failed(row.id, now, exc.__class__.__name__)
            log.exception(
                "Reconciling agency %s, connector %s failed unexpectedly.",
                connection.agency_id,
                connection.connector,
            )

        return 0

    def _failed(self, row_id: int, now: datetime, reason: str) -> None:
        db.session.execute(
            sa.update(SyncCursor)
            .where(SyncCursor.id == row_id)
            .values(last_run_at=now, last_error=reason)
        )
        db.session.commit()

    def next_due(self) -> datetime | None:
        """Return when the next connection is due, if any cursor is scheduled."""
        with self.app.app_context():
            try:
                return db.session.scalar(
                    sa.select(sa.func.min(SyncCursor.next_run_at)).where(
                        SyncCursor.kind == KIND
                    )
                )
            finally:
                db.session.remove()

    # -- the thread --------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Return whether the reconciliation thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start reconciling in a daemon thread, unless ``HUB_RECONCILE`` is off."""
        if not enabled(self.app.config):
            return
        with self._start_lock:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._loop, name="hub-reconcile", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self._thread = None

    def wake(self) -> None:
        """Make the thread look for due connections now."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.run_due()
                due = self.next_due()
            except Exception:
                log.exception("A reconciliation round failed; trying again.")
                due = None
            wait = float(self.app.config["HUB_RECONCILE_POLLING_SECONDS"])
            if due is not None:
                wait = min(wait, (due - self.clock.now()).total_seconds())
            self._wake.wait(timeout=max(0.05, wait))
