"""Claiming due rows with a lease, renewing it, and finishing only what one holds.

The database row is the truth: a worker owns an event while its lease runs, renews
the lease while it works, and loses it when it stops renewing, so another worker can
claim the event again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from hub.canonical import ChangeKind
from hub.extensions import db
from hub.models import Event, EventStatus, ProvisioningJob
from hub.sync.links import UNFINISHED

WAITING = (EventStatus.PENDING.value, EventStatus.RETRY.value)
PROCESSING = EventStatus.PROCESSING.value


def claimable(model, now: datetime):
    """Return the condition for rows that are due, or whose lease ran out."""
    return sa.or_(
        sa.and_(model.status.in_(WAITING), model.next_attempt_at <= now),
        sa.and_(model.status == PROCESSING, model.lease_until < now),
    )


def due_events(now: datetime, limit: int = 50) -> list[int]:
    """Return the ids of events that can be claimed now, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Event.id)
            .where(claimable(Event, now))
            .order_by(Event.id)
            .limit(limit)
        )
    )


def rank(event_id: int, payload: dict) -> tuple[int, int]:
    """Return an event's place in its person's queue: creations first, then arrival."""
    created = (payload or {}).get("kind") == ChangeKind.CREATED.value
    return (0 if created else 1, event_id)


def blocked(event: Event, now: datetime, owner: str | None = None) -> bool:
    """Return whether another event of the same person must go first, or is being
    worked on by another worker."""
    if event.person_key is None:
        return False

    others = db.session.execute(
        sa.select(
            Event.id, Event.status, Event.lease_until, Event.lease_owner, Event.payload
        ).where(
            Event.person_key == event.person_key,
            Event.status.in_(UNFINISHED),
            Event.id != event.id,
        )
    ).all()
    mine = rank(event.id, event.payload)
    for other in others:
        working = (
            other.status == PROCESSING
            and other.lease_until
            and other.lease_until >= now
        )
        if working and other.lease_owner != owner:
            return True
        if rank(other.id, other.payload) < mine:
            return True
    return False


def lock_person(person_key: str | None) -> bool:
    """Take the person's lock until the transaction ends; return whether it is ours.

    On PostgreSQL this is an advisory lock, so workers in other processes that
    check and claim the same person's events take turns instead of racing; SQLite
    lets one writer at a time anyway.
    """
    if person_key is None or db.session.get_bind().dialect.name != "postgresql":
        return True

    return bool(
        db.session.scalar(
            sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtext(person_key)))
        )
    )


def claim(model, row_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
    """Take a row's lease if it is claimable; return whether this worker got it.

    On PostgreSQL the row is first locked with ``FOR UPDATE SKIP LOCKED``, so a
    worker never waits for a row another worker is claiming: it moves on.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        free = db.session.scalar(
            sa.select(model.id)
            .where(model.id == row_id, claimable(model, now))
            .with_for_update(skip_locked=True)
        )
        if free is None:
            db.session.rollback()
            return False
    result = db.session.execute(
        sa.update(model)
        .where(model.id == row_id, claimable(model, now))
        .values(
            status=PROCESSING,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=model.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

    return result.rowcount == 1


def give_back(model, row_id: int, owner: str, now: datetime) -> None:
    """Return a claimed row untouched, as if it had not been claimed."""
    db.session.execute(
        sa.update(model)
        .where(model.id == row_id, model.lease_owner == owner)
        .values(
            status=sa.case(
                (model.attempts > 1, EventStatus.RETRY.value),
                else_=EventStatus.PENDING.value,
            ),
            lease_owner=None,
            lease_until=None,
            attempts=model.attempts - 1,
            next_attempt_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def renew(model, row_ids, owner: str, until: datetime) -> int:
    """Push out the leases this worker holds; return how many it still holds."""
    if not row_ids:
        return 0
    result = db.session.execute(
        sa.update(model)
        .where(
            model.id.in_(list(row_ids)),
            model.lease_owner == owner,
            model.status == PROCESSING,
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

    return result.rowcount


def finish(model, row_id: int, owner: str, **values) -> bool:
    """Write a row's end state if this worker still holds it; return whether it did."""
    result = db.session.execute(
        sa.update(model)
        .where(
            model.id == row_id, model.lease_owner == owner, model.status == PROCESSING
        )
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

    return result.rowcount == 1


def make_due(model, row_id: int, now: datetime) -> None:
    """Make a row that waits for a retry due now."""
    db.session.execute(
        sa.update(model)
        .where(model.id == row_id, model.status == EventStatus.RETRY.value)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def due_jobs(now: datetime, limit: int = 10) -> list[int]:
    """Return the ids of provisioning jobs that can be claimed now."""
    return list(
        db.session.scalars(
            sa.select(ProvisioningJob.id)
            .where(claimable(ProvisioningJob, now))
            .order_by(ProvisioningJob.id)
            .limit(limit)
        )
    )


def next_due(now: datetime) -> datetime | None:
    """Return when, after ``now``, the next waiting row becomes due or the next
    lease runs out.

    Rows already due that no worker could claim are waiting their person's turn;
    the event ahead of them wakes the worker when it ends.
    """
    times = []
    for model in (Event, ProvisioningJob):
        times.append(
            db.session.scalar(
                sa.select(sa.func.min(model.next_attempt_at)).where(
                    model.status.in_(WAITING), model.next_attempt_at > now
                )
            )
        )
        times.append(
            db.session.scalar(
                sa.select(sa.func.min(model.lease_until)).where(
                    model.status == PROCESSING, model.lease_until > now
                )
            )
        )
    times = [t for t in times if t is not None]

    return min(times) if times else None
