"""The Celery tasks: run one event, sweep for due work, run provisioning jobs,
reconcile."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from celery import Celery
from flask import Flask

from hub.extensions import db
from hub.models import Event, EventStatus
from hub.queue import PROCESS, RECONCILE, RUN_JOBS, SWEEP
from hub.sync import leases
from hub.sync import reconcile as reconcile_module

log = logging.getLogger(__name__)


def register(celery: Celery, app: Flask) -> None:
    """Define the hub's tasks on ``celery``, each running inside ``app``.

    The tasks are not shared with other Celery apps of the process (tests make
    several), so each reaches its own hub.
    """

    @celery.task(name=PROCESS, shared=False)
    def process_event(event_id: int) -> str | None:
        """Run one event if this worker can claim it; then send the person's next."""
        dispatcher = app.extensions["hub.dispatcher"]
        status = dispatcher.process(event_id)
        if status is not None:
            dispatcher.publish(next_of_person(app, dispatcher.clock.now(), event_id))
        return status

    @celery.task(name=SWEEP, shared=False)
    def sweep() -> int:
        """Send every event that is due and was not sent just now, or whose lease
        ran out; run due provisioning jobs; return how many events were sent."""
        dispatcher = app.extensions["hub.dispatcher"]
        now = dispatcher.clock.now()
        grace = timedelta(seconds=float(app.config["HUB_SWEEP_GRACE_SECONDS"]))
        with app.app_context():
            try:
                event_ids = overdue_events(now, grace)
                jobs = leases.due_jobs(now, limit=1)
            finally:
                db.session.remove()
        if jobs:
            dispatcher.send(RUN_JOBS)
        dispatcher.publish(event_ids)
        if event_ids:
            log.info("The sweep sent %d waiting event(s) again.", len(event_ids))
        return len(event_ids)

    @celery.task(name=RUN_JOBS, shared=False)
    def run_jobs() -> int:
        """Run the provisioning jobs that are due; return how many ran."""
        return app.extensions["hub.dispatcher"].run_once(limit=0)

    @celery.task(name=RECONCILE, shared=False)
    def reconcile() -> int:
        """Reconcile the connections that are due; return how many events it stored."""
        reconciler = app.extensions.get("hub.reconciler")
        if reconciler is None or not reconcile_module.enabled(app.config):
            return 0
        return reconciler.run_due()


def overdue_events(now, grace: timedelta, limit: int = 1000) -> list[int]:
    """Return events that are claimable now and were not stored within ``grace``
    (whose message is still on its way), oldest first."""
    return list(
        db.session.scalars(
            sa.select(Event.id)
            .where(
                leases.claimable(Event, now),
                sa.or_(
                    Event.status != EventStatus.PENDING.value,
                    Event.next_attempt_at <= now - grace,
                ),
            )
            .order_by(Event.id)
            .limit(limit)
        )
    )


def next_of_person(app: Flask, now, event_id: int) -> list[int]:
    """Return the claimable events of the same person as ``event_id``."""
    with app.app_context():
        try:
            key = db.session.scalar(
                sa.select(Event.person_key).where(Event.id == event_id)
            )
            if key is None:
                return []
            return list(
                db.session.scalars(
                    sa.select(Event.id)
                    .where(Event.person_key == key, leases.claimable(Event, now))
                    .order_by(Event.id)
                )
            )
        finally:
            db.session.remove()
