"""The event inbox: changes are stored here before the sender is answered."""

from __future__ import annotations

import collections
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from hub.canonical import Change
from hub.extensions import BUSY_TIMEOUT_MS, db
from hub.models import Connection, Event, EventStatus, utcnow

log = logging.getLogger(__name__)

EVENTS = Event.__table__

#: The columns an event row names, in :func:`event_rows`' order.
EVENT_KEYS = (
    "agency_id",
    "connection_id",
    "connector",
    "purpose",
    "dedup_key",
    "person_key",
    "payload",
    "status",
    "attempts",
    "deferrals",
    "next_attempt_at",
    "received_at",
    "updated_at",
)


def person_key(connection: Connection, change: Change) -> str | None:
    """Return the key that orders one person's events, before any link exists."""
    if change.ref is None:
        return None
    return f"{connection.agency_id}:{connection.connector}:{change.ref}"


def event_rows(connection: Connection, changes: Iterable[Change]) -> list[dict]:
    """Return the rows of the pending events the changes become."""
    now = utcnow()
    return [
        {
            "agency_id": connection.agency_id,
            "connection_id": connection.id,
            "connector": connection.connector,
            "purpose": change.purpose,
            "dedup_key": change.dedup_key,
            "person_key": person_key(connection, change),
            "payload": change.to_dict(),
            "status": EventStatus.PENDING.value,
            "attempts": 0,
            "deferrals": 0,
            "next_attempt_at": now,
            "received_at": now,
            "updated_at": now,
        }
        for change in changes
    ]


def store_changes(connection: Connection, changes: Iterable[Change]) -> list[int]:
    """Store changes as pending events in one transaction; return the new ids.

    A change whose deduplication key the connection has seen before is not stored
    again. The caller commits.
    """
    rows = event_rows(connection, changes)
    if not rows:
        return []

    ids = []
    # A Core statement on the session's connection: the events commit with what
    # else the session holds, without the ORM's bookkeeping for each row.
    insert = _insert_statement(db.engine.dialect.name)
    connection_ = db.session.connection()
    for row in rows:
        new_id = connection_.execute(insert, row).scalar_one_or_none()
        if new_id is None:
            _log_duplicate(row)
        else:
            ids.append(new_id)

    return ids


def insert_events(dbapi_connection, dialect, rows: list[dict]) -> list[int]:
    """Insert event rows on a database driver's own connection; return the new ids.

    This is what :func:`store_changes` does, without SQLAlchemy's execution
    machinery, for the ingress's hot path: the values are converted by the same
    column types, so the rows read back exactly alike. The caller commits.
    """
    insert = DriverStatement.of(_insert_statement(dialect.name), dialect, EVENT_KEYS)
    ids = []
    cursor = dbapi_connection.cursor()
    try:
        for row in rows:
            found = insert.run(cursor, row)
            if found:
                ids.append(found[0][0])
            else:
                _log_duplicate(row)
    finally:
        cursor.close()

    return ids


class GroupCommit:
    """Stores the events of webhooks that arrive together in one transaction.

    Each request thread queues its rows. The first to find no transaction under way
    becomes the writer: it writes every row queued by then, commits once, and hands
    each thread its new ids; then the oldest thread still queued becomes the next
    writer. A thread returns only once its rows are committed, so a webhook is never
    acknowledged before its events are stored. When a shared transaction fails, each
    thread's rows are tried again in a transaction of their own, so one bad row does
    not fail the others and none is half-stored.

    Under load a writer first waits a moment (at most ``wait`` seconds) until as
    many webhooks are queued as the largest of the last few transactions took: the
    requests already under way join it, rather than each paying for a commit of its
    own. A webhook that comes alone is written at once.
    """

    def __init__(self, wait: float = 0.002, most: int = 64) -> None:
        self.wait = wait
        #: The most webhooks one transaction takes.
        self.most = most
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: list[_Pending] = []
        self._writing = False
        #: How many webhooks the writer waits for, while it waits.
        self._wanted = 0
        #: How many webhooks each of the last transactions took.
        self._taken: collections.deque[int] = collections.deque([1], maxlen=16)

    def store(self, connect, dialect, rows: list[dict]) -> list[int]:
        """Store the rows, committed, and return their new ids.

        :param connect: returns the caller's database driver connection, on which
            the transaction runs if it falls to the caller to write.
        :raises Exception: what the database raised for these rows.
        """
        pending = _Pending(rows)
        with self._lock:
            self._queue.append(pending)
            writes = not self._writing
            self._writing = True
            if self._wanted and len(self._queue) >= self._wanted:
                self._arrived.notify()
        if not writes:
            # Woken once: with the rows committed, or to write them itself.
            pending.turn.acquire()
            if pending.done:
                return pending.result()

        batch = self._take()
        try:
            self._write(connect, dialect, batch)
        finally:
            self._pass_turn(batch)

        return pending.result()

    def _take(self) -> list[_Pending]:
        """Return the rows to write, having waited for those under way."""
        with self._lock:
            wanted = min(max(self._taken), self.most)
            deadline = time.monotonic() + self.wait
            while len(self._queue) < wanted:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wanted = wanted
                self._arrived.wait(left)
            self._wanted = 0
            batch = self._queue[: self.most]
            del self._queue[: self.most]
            self._taken.append(len(batch))

        return batch

    def _pass_turn(self, batch: list[_Pending]) -> None:
        """Answer every thread of the batch and wake the next writer, if any."""
        for pending in batch:
            if not pending.done:
                pending.fail(RuntimeError("The write was interrupted."))
            pending.wake()
        with self._lock:
            if self._queue:
                self._queue[0].wake()
            else:
                self._writing = False

    def _write(self, connect, dialect, batch: list[_Pending]) -> None:
        dbapi_connection = None
        try:
            dbapi_connection = connect()
            if dialect.name == "sqlite":
                begin_immediate(dbapi_connection)
            ids = [insert_events(dbapi_connection, dialect, p.rows) for p in batch]
            dbapi_connection.commit()
        except Exception as exc:
            if dbapi_connection is not None:
                _roll_back(dbapi_connection)
            if len(batch) == 1:
                batch[0].fail(exc)
                return
            log.warning(
                "Storing %d webhooks' events together failed (%s); storing each "
                "on its own.",
                len(batch),
                exc.__class__.__name__,
            )
            for pending in batch:
                self._write(connect, dialect, [pending])
            return

        for pending, new_ids in zip(batch, ids, strict=True):
            pending.succeed(new_ids)


def begin_immediate(dbapi_connection, patience: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Begin a SQLite write transaction, taking the write lock at once.

    While another process holds the lock, this polls for it every few tenths of a
    millisecond instead of in SQLite's own backoff (1, 2, 5, 10 ms and on), which
    would leave a webhook asleep long after a commit of a millisecond ended.

    :raises sqlite3.OperationalError: when the lock is not free within ``patience``
        seconds, as with the connection's own busy timeout.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        deadline = time.monotonic() + patience
        delay = 0.0002
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.002)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()


class _Pending:
    """One thread's rows queued in a :class:`GroupCommit`, then their outcome."""

    __slots__ = ("rows", "done", "ids", "error", "turn")

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.done = False
        self.ids: list[int] = []
        self.error: Exception | None = None
        #: Held from the start and released once: when the rows are written, or
        #: when it is this thread's turn to write. A plain lock is the cheapest
        #: signal between two threads.
        self.turn = threading.Lock()
        self.turn.acquire()

    def wake(self) -> None:
        """Let the waiting thread go on; once only."""
        if self.turn.locked():
            self.turn.release()

    def succeed(self, ids: list[int]) -> None:
        self.ids, self.done = ids, True

    def fail(self, error: Exception) -> None:
        self.error, self.done = error, True

    def result(self) -> list[int]:
        if self.error is not None:
            raise self.error
        return self.ids


def _roll_back(dbapi_connection) -> None:
    try:
        dbapi_connection.rollback()
    except Exception:
        # The connection is broken; the pool replaces it when it is returned.
        dbapi_connection.invalidate()


def _log_duplicate(row: dict) -> None:
    log.info(
        "Dropped a duplicate delivery for agency %s, connector %s, key %s.",
        row["agency_id"],
        row["connector"],
        row["dedup_key"],
    )


class DriverStatement:
    """A statement compiled once for a dialect, run on a driver's cursor.

    Parameters go through the bound columns' own type conversions (JSON, dates),
    so a row written or read this way matches one SQLAlchemy writes; results come
    back as the driver gives them.
    """

    _made: dict[tuple, DriverStatement] = {}

    def __init__(self, statement, dialect, column_keys=None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self.positional = compiled.positional
        names = compiled.positiontup if self.positional else list(compiled.binds)
        self.names = tuple(names)
        #: Each parameter in the order the driver takes it, with its conversion.
        self.binds = tuple(
            (
                name,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in self.names
        )

    @classmethod
    def of(cls, statement, dialect, column_keys=None) -> DriverStatement:
        """Return the statement compiled for the dialect, compiling it only once."""
        key = (statement, dialect, column_keys)
        made = cls._made.get(key)
        if made is None:
            made = cls._made[key] = cls(statement, dialect, column_keys)
        return made

    def run(self, cursor, params: dict) -> list[tuple]:
        """Execute with named parameters; return every row the statement gives."""
        values = [
            params[name] if convert is None else convert(params[name])
            for name, convert in self.binds
        ]
        if not self.positional:
            values = dict(zip(self.names, values, strict=True))
        cursor.execute(self.sql, values)

        return cursor.fetchall() if cursor.description else []


@functools.cache
def _insert_statement(dialect: str):
    """Return the insert that skips duplicates and returns the new id, made once."""
    if dialect == "postgresql":
        insert = postgresql.insert(EVENTS).on_conflict_do_nothing()
    elif dialect == "sqlite":
        insert = sqlite.insert(EVENTS).on_conflict_do_nothing()
    else:
        insert = sa.insert(EVENTS)
    return insert.returning(EVENTS.c.id)


def notify_stored(event_ids: list[int], connector: str | None = None) -> None:
    """Tell the dispatcher, if the app has one, that events are waiting.

    :param connector: the connector all the events came from, when the caller
        knows it, which saves the dispatcher looking it up.
    """
    dispatcher = current_app.extensions.get("hub.dispatcher")
    if dispatcher is None or not event_ids:
        return
    if connector is None:
        dispatcher.notify(event_ids)
        return

    # Imported here: the sync package imports this module.
    from hub.sync.metrics import EVENTS_RECEIVED

    EVENTS_RECEIVED.labels(connector).inc(len(event_ids))
    dispatcher.wake()
