"""The sync engine: the dispatcher, its worker, and the flows between connectors.

``init_app(app)`` keeps a :class:`Dispatcher` in ``app.extensions["hub.dispatcher"]``.
The embedded worker starts as a daemon thread with the first request a process
serves, unless ``HUB_WORKER`` is off or another queue is configured; CLI commands
never start it (``flask hub worker`` runs it in the foreground instead).
"""

from __future__ import annotations

import logging

import click
from flask import Flask

from hub.sync import reconcile, retry
from hub.sync.clock import ManualClock, SystemClock
from hub.sync.dispatcher import Dispatcher
from hub.sync.provisioning import enqueue as enqueue_provisioning

__all__ = [
    "Dispatcher",
    "ManualClock",
    "SystemClock",
    "enqueue_provisioning",
    "init_app",
]

log = logging.getLogger(__name__)

#: The settings the sync engine reads, and their defaults.
DEFAULTS = {
    "HUB_WORKER_THREADS": 1,
    "HUB_LEASE_SECONDS": 60,
    "HUB_WORKER_POLL_SECONDS": 30,
    "HUB_SYNC_CLOCK": None,
}


def echo_settle_seconds(config) -> float:
    """Return how long a likely echo waits for the rest of its burst: 2 s with the
    embedded worker, whose process holds what it read ahead; none with Celery, whose
    events of one burst run in many processes."""
    default = 2.0 if config["HUB_QUEUE"] == "embedded" else 0.0
    return float(config.get("HUB_ECHO_SETTLE_SECONDS", default))


def init_app(app: Flask) -> Dispatcher:
    """Make the app's dispatcher, and start its worker once the app serves HTTP."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)

    dispatcher = Dispatcher(
        app,
        clock=app.config["HUB_SYNC_CLOCK"] or SystemClock(),
        policy=retry.from_config(app.config),
        lease_seconds=float(app.config["HUB_LEASE_SECONDS"]),
        poll_seconds=float(app.config["HUB_WORKER_POLL_SECONDS"]),
        threads=int(app.config["HUB_WORKER_THREADS"]),
        settle_seconds=echo_settle_seconds(app.config),
    )
    app.extensions["hub.dispatcher"] = dispatcher
    if app.config["HUB_QUEUE"] == "celery":
        from hub.queue import init_app as init_queue

        dispatcher = init_queue(app, dispatcher)
    reconciler = reconcile.init_app(app, dispatcher.clock)

    if app.config["HUB_WORKER"] and app.config["HUB_QUEUE"] == "embedded":

        @app.before_request
        def _start_embedded_worker() -> None:
            if not dispatcher.running and serving_http():
                dispatcher.start()
                reconciler.start()

    return dispatcher


def serving_http() -> bool:
    """Return whether this request comes from a server rather than a CLI command
    that sends itself requests (such as ``hub dev-setup``)."""
    command = click.get_current_context(silent=True)

    return command is None or command.info_name == "run"
