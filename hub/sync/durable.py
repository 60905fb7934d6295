"""Saving what a connector records on its connection at once, while it writes.

A connector that records the intent of a create in ``connection.state`` before
making it (so a retry looks for the record instead of creating a second one) needs
that record to survive the worker dying mid-call. While the sync engine runs
``apply_change``, every change to a connection's ``state`` is therefore written to
the database straight away, in a transaction of its own.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

import sqlalchemy as sa

from hub.extensions import db
from hub.models import Connection

log = logging.getLogger(__name__)

_active = threading.local()


@contextmanager
def saving_connection_state():
    """Within the block, save each change to a connection's state at once.

    The session does not flush on its own meanwhile, so it takes no write lock that
    the separate transaction would wait for; it writes the same state when the
    engine commits.
    """
    before = getattr(_active, "on", False)
    _active.on = True
    try:
        with db.session.no_autoflush:
            yield
    finally:
        _active.on = before


@sa.event.listens_for(Connection.state, "set")
def _save_state(connection: Connection, value, old, initiator) -> None:
    if not getattr(_active, "on", False) or connection.id is None:
        return
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(Connection.__table__)
            .where(Connection.__table__.c.id == connection.id)
            .values(state=value)
        )
    log.debug("Saved the state of connection %s at once.", connection.id)
