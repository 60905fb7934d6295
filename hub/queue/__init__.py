"""Celery on Redis as the queue: ``HUB_QUEUE=celery``.

The event rows stay the truth; a message carries only an event id and is sent after
the row is committed. Tasks acknowledge late and are safe to run twice, because a
worker must claim an event's lease before it runs it. Celery beat sends a sweep
that re-sends what a lost message or a dead worker left behind, and the
reconciliation polls. Retry delays live in the event rows, never in Celery ETAs,
so Redis's visibility timeout cannot redeliver them early.
"""

from __future__ import annotations

import logging

from celery import Celery
from flask import Flask

from hub.sync.dispatcher import Dispatcher

log = logging.getLogger(__name__)

#: The settings the queue reads, and their defaults.
DEFAULTS = {
    "HUB_SWEEP_SECONDS": 15,
    "HUB_SWEEP_GRACE_SECONDS": 5,
    "HUB_RECONCILE_TICK_SECONDS": 60,
}

PROCESS = "hub.process_event"
SWEEP = "hub.sweep"
RUN_JOBS = "hub.run_jobs"
RECONCILE = "hub.reconcile"


class QueuedDispatcher(Dispatcher):
    """A dispatcher that hands events to Celery workers instead of its own threads."""

    def __init__(self, app: Flask, celery: Celery, **kwargs) -> None:
        super().__init__(app, **kwargs)
        self.celery = celery

    def notify(self, event_ids: list[int]) -> None:
        """Count newly stored events and send one message per event."""
        super().notify(event_ids)
        self.publish(event_ids)

    def wake(self) -> None:
        """Ask a Celery worker to sweep for due work, such as a provisioning job."""
        super().wake()
        self.send(SWEEP)

    def publish(self, event_ids) -> int:
        """Send a message for each event id; return how many the broker took.

        After the first refusal the rest are left to the sweep.
        """
        sent = 0
        for event_id in event_ids:
            if not self.send(PROCESS, event_id):
                break
            sent += 1
        return sent

    def send(self, task: str, *args) -> bool:
        """Send one task; return whether the broker took it."""
        try:
            self.celery.send_task(task, args=args)
        except Exception as exc:
            log.warning(
                "The broker refused task %s (%s); the next sweep sends it again.",
                task,
                exc.__class__.__name__,
            )
            return False
        return True


def make_celery(app: Flask) -> Celery:
    """Return the Celery app for the hub, configured from ``HUB_*`` settings."""
    config = app.config
    celery = Celery("hub", broker=config["HUB_BROKER_URL"], set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue="hub",
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        broker_transport_options={"visibility_timeout": 3600},
        beat_schedule={
            "sweep": {"task": SWEEP, "schedule": float(config["HUB_SWEEP_SECONDS"])},
            "reconcile": {
                "task": RECONCILE,
                "schedule": float(config["HUB_RECONCILE_TICK_SECONDS"]),
            },
        },
    )
    return celery


def init_app(app: Flask, dispatcher: Dispatcher) -> QueuedDispatcher:
    """Replace the app's dispatcher with one that sends events to Celery."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    celery = make_celery(app)
    queued = QueuedDispatcher(
        app,
        celery,
        clock=dispatcher.clock,
        policy=dispatcher.policy,
        lease_seconds=dispatcher.lease.total_seconds(),
        poll_seconds=dispatcher.poll_seconds,
        threads=dispatcher.threads,
    )
    app.extensions["hub.celery"] = celery
    app.extensions["hub.dispatcher"] = queued

    from hub.queue import tasks

    tasks.register(celery, app)

    return queued
