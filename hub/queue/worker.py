"""The Celery entry point: ``celery -A hub.queue.worker:celery worker`` (or ``beat``).

It makes the hub's app from the ``HUB_*`` settings, as ``wsgi.py`` does, with
``HUB_QUEUE=celery``. Each worker process keeps the leases of the events it runs
alive in a thread of its own.
"""

from __future__ import annotations

import os
import threading

from celery.signals import worker_process_init, worker_ready

from hub import create_app
from hub.errors import ConfigurationError

os.environ.setdefault("HUB_QUEUE", "celery")

app = create_app({"HUB_WORKER": False})
if "hub.celery" not in app.extensions:
    raise ConfigurationError(
        f"Celery workers and beat need HUB_QUEUE=celery, not "
        f"{app.config['HUB_QUEUE']!r}; set it for every process of the hub."
    )
celery = app.extensions["hub.celery"]

_keeper: list[threading.Thread] = []


def keep_leases(**_) -> None:
    """Start renewing this process's leases, once per process."""
    if _keeper and _keeper[0].is_alive():
        return
    with app.app_context():
        from hub.extensions import db

        # A forked worker must not share its parent's database connections.
        db.engine.dispose(close=False)
    _keeper[:] = [app.extensions["hub.dispatcher"].start_lease_keeper()]


worker_process_init.connect(keep_leases, weak=False)
worker_ready.connect(keep_leases, weak=False)
