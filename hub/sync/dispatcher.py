"""The dispatcher: hands stored events to a worker, one person at a time.

``notify(ids)`` says events are waiting; ``process(event_id)`` runs one event from any
process (the embedded worker thread, ``flask hub worker``, ``flask hub replay`` or,
later, a Celery task). Everything a worker knows is in the event rows, so any number
of workers in any number of processes can share the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from hub.errors import HubError
from hub.extensions import db
from hub.models import Agency, Event, EventAttempt, EventStatus, ProvisioningJob
from hub.sync import leases, links
from hub.sync.clock import SystemClock
from hub.sync.flows import EventSync, Result
from hub.sync.metrics import (
    EVENTS_FAILED,
    EVENTS_PROCESSED,
    EVENTS_RECEIVED,
    PROCESSING_SECONDS,
)
from hub.sync.provisioning import provision_agency
from hub.sync.readback import ReadAhead
from hub.sync.retry import RetryPolicy, describe

log = logging.getLogger(__name__)


class Dispatcher:
    """Claims due events and provisioning jobs and runs them.

    :param clock: where time comes from; tests pass a ``ManualClock``.
    :param lease_seconds: how long a claim holds before another worker may take the
        event; the worker renews it every third of that while it works.
    :param poll_seconds: the longest a waiting worker sleeps without being woken,
        to notice events other processes stored.
    :param settle_seconds: how long a likely echo of the hub's own write waits so that
        its burst is read back together (:class:`hub.sync.readback.ReadAhead`).
    """

    def __init__(
        self,
        app: Flask,
        clock=None,
        policy: RetryPolicy | None = None,
        lease_seconds: float = 60.0,
        poll_seconds: float = 30.0,
        threads: int = 1,
        settle_seconds: float = 0.0,
    ) -> None:
        self.app = app
        self.clock = clock or SystemClock()
        self.policy = policy or RetryPolicy()
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.threads = threads
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Condition()
        self._woken = False
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._held: dict[str, set[tuple[type, int]]] = {}
        self._held_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._adopted_up_to = 0
        self.read_ahead = ReadAhead(settle_seconds)
        if hasattr(self.clock, "on_advance"):
            self.clock.on_advance(self.wake)

    # -- the interface the ingress and other processes use -------------------------

    def notify(self, event_ids: list[int]) -> None:
        """Count newly stored events and wake a worker at once."""
        if event_ids:
            with self.app.app_context():
                rows = db.session.execute(
                    sa.select(Event.connector, sa.func.count(Event.id))
                    .where(Event.id.in_(event_ids))
                    .group_by(Event.connector)
                ).all()
            for connector, count in rows:
                EVENTS_RECEIVED.labels(connector).inc(count)
        self.wake()

    def wake(self) -> None:
        """Wake the waiting workers."""
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def process(self, event_id: int) -> str | None:
        """Claim one event if it is due and first in its person's queue, and run it.

        :return: the event's status afterwards, or ``None`` when it could not be
            claimed (not due, held by another worker, or waiting its turn).
        """
        with self.app.app_context():
            try:
                owner = self._owner()
                if not self._claim_event(event_id, owner):
                    return None
                self._run_event(event_id, owner)
                event = db.session.get(Event, event_id)
                return event.status if event else None
            finally:
                db.session.remove()

    def process_job(self, job_id: int) -> str | None:
        """Claim one provisioning job if it is due, and run it.

        :return: the job's status afterwards, or ``None`` when it could not be
            claimed (not due, or held by another worker).
        """
        with self.app.app_context():
            try:
                owner = self._owner()
                if not leases.claim(
                    ProvisioningJob, job_id, owner, self.clock.now(), self.lease
                ):
                    return None
                self._run_job(job_id, owner)
                job = db.session.get(ProvisioningJob, job_id)
                db.session.refresh(job)
                return job.status
            finally:
                db.session.remove()

    def run_once(self, limit: int = 50) -> int:
        """Run every due event and job that can be claimed now; return how many ran."""
        ran = 0
        with self.app.app_context():
            try:
                owner = self._owner()
                for job_id in leases.due_jobs(self.clock.now()):
                    if leases.claim(
                        ProvisioningJob, job_id, owner, self.clock.now(), self.lease
                    ):
                        self._run_job(job_id, owner)
                        ran += 1
                self._adopted_up_to = links.adopt_new_events(self._adopted_up_to)
                for event_id in leases.due_events(self.clock.now(), limit):
                    if self._claim_event(event_id, owner):
                        self._run_event(event_id, owner)
                        ran += 1
            finally:
                db.session.remove()

        return ran

    def drain(self, rounds: int = 100) -> int:
        """Run due work until none is left that can run now; return how much ran."""
        total = 0
        for _ in range(rounds):
            ran = self.run_once()
            total += ran
            if not ran:
                break
        return total

    # -- claiming -------------------------------------------------------------------

    def _owner(self) -> str:
        return f"{self.name}:{threading.get_ident()}"

    def _claim_event(self, event_id: int, owner: str) -> bool:
        now = self.clock.now()
        self._adopted_up_to = links.adopt_new_events(self._adopted_up_to)
        event = db.session.get(Event, event_id)
        if (
            event is None
            or not leases.lock_person(event.person_key)
            or leases.blocked(event, now)
        ):
            db.session.rollback()
            return False
        if not leases.claim(Event, event_id, owner, now, self.lease):
            return False

        # Two workers may have claimed two events of one person at the same moment;
        # the one whose event comes later gives its claim back.
        db.session.expire_all()
        event = db.session.get(Event, event_id)
        if leases.blocked(event, now, owner=owner):
            leases.give_back(Event, event_id, owner, now)
            return False

        return True

    # -- running an event -------------------------------------------------------------

    def _run_event(self, event_id: int, owner: str) -> None:
        started = time.perf_counter()
        event = db.session.get(Event, event_id)
        connector = event.connector
        where = f"agency {event.agency_id}, connector {connector}, event {event_id}"
        attempt = EventAttempt(
            event_id=event_id,
            number=event.attempts,
            worker=owner,
            started_at=self.clock.now(),
        )
        db.session.add(attempt)
        db.session.commit()
        attempt_id = attempt.id

        if event.attempts > self.policy.max_tries:
            self._end_event(
                event_id,
                owner,
                attempt_id,
                EventStatus.NEEDS_ATTENTION,
                "worker_lost",
                f"Gave up after {event.attempts - 1} tries whose worker stopped "
                "before finishing; see the logs of the worker processes.",
            )
            return

        self._hold(owner, Event, event_id)
        try:
            result = EventSync(
                event,
                self.app.extensions["hub.connectors"],
                self.clock,
                self.read_ahead,
            ).run()
        except Exception as exc:
            db.session.rollback()
            self._failed(event_id, owner, attempt_id, exc, where)
        else:
            self._end_event(
                event_id,
                owner,
                attempt_id,
                result.status,
                result.outcome,
                result.detail,
            )
            EVENTS_PROCESSED.labels(connector, result.outcome).inc()
            log.info(
                "%s: %s (%s) %s", where, result.status, result.outcome, result.detail
            )
        finally:
            self._release(owner, Event, event_id)
            PROCESSING_SECONDS.labels(connector).observe(time.perf_counter() - started)

    def _failed(self, event_id, owner, attempt_id, exc, where) -> None:
        event = db.session.get(Event, event_id)
        now = self.clock.now()
        decision = self.policy.decide(exc, event.attempts, event.deferrals, now)
        EVENTS_FAILED.labels(event.connector, decision.action).inc()
        if decision.action == "give_up":
            log.warning("%s needs attention: %s", where, decision.reason)
            self._end_event(
                event_id,
                owner,
                attempt_id,
                EventStatus.NEEDS_ATTENTION,
                "needs_attention",
                decision.reason,
            )
            EVENTS_PROCESSED.labels(event.connector, "needs_attention").inc()
            return

        if not isinstance(exc, HubError):
            log.exception("%s failed unexpectedly; retrying at %s.", where, decision.at)
        else:
            log.info(
                "%s failed, %s at %s: %s",
                where,
                decision.action,
                decision.at,
                decision.reason,
            )
        values = {"status": EventStatus.RETRY.value, "next_attempt_at": decision.at}
        if decision.action == "defer":
            values["attempts"] = Event.attempts - 1
            values["deferrals"] = Event.deferrals + 1
        self._end_attempt(attempt_id, decision.action, decision.reason)
        leases.finish(Event, event_id, owner, last_error=decision.reason, **values)
        still_waiting = getattr(exc, "still_waiting", None)
        if decision.action == "defer" and still_waiting and not still_waiting():
            leases.make_due(Event, event_id, self.clock.now())

    def _end_event(self, event_id, owner, attempt_id, status, outcome, detail) -> None:
        self._end_attempt(
            attempt_id,
            outcome,
            None if status != EventStatus.NEEDS_ATTENTION else detail,
        )
        values = {
            "status": str(status),
            "outcome": outcome,
            "finished_at": self.clock.now(),
        }
        if status == EventStatus.NEEDS_ATTENTION:
            values["last_error"] = detail
        if not leases.finish(Event, event_id, owner, **values):
            log.warning(
                "Event %s: the lease ran out before the worker finished; another "
                "worker has it now.",
                event_id,
            )

    def _end_attempt(self, attempt_id, outcome, error) -> None:
        db.session.execute(
            sa.update(EventAttempt)
            .where(EventAttempt.id == attempt_id)
            .values(finished_at=self.clock.now(), outcome=outcome, error=error)
        )
        db.session.commit()

    # -- running a provisioning job -------------------------------------------------

    def _run_job(self, job_id: int, owner: str) -> None:
        job = db.session.get(ProvisioningJob, job_id)
        agency = db.session.get(Agency, job.agency_id)
        self._hold(owner, ProvisioningJob, job_id)
        try:
            provision_agency(agency, self.app.extensions["hub.connectors"])
        except Exception as exc:
            db.session.rollback()
            job = db.session.get(ProvisioningJob, job_id)
            decision = self.policy.decide(exc, job.attempts, 0, self.clock.now())
            if decision.action == "give_up":
                log.warning(
                    "Agency %s: provisioning needs attention: %s",
                    agency.slug,
                    decision.reason,
                )
                leases.finish(
                    ProvisioningJob,
                    job_id,
                    owner,
                    status=EventStatus.NEEDS_ATTENTION.value,
                    last_error=decision.reason,
                    finished_at=self.clock.now(),
                )
            else:
                log.info(
                    "Agency %s: provisioning retries at %s: %s",
                    agency.slug,
                    decision.at,
                    describe(exc),
                )
                leases.finish(
                    ProvisioningJob,
                    job_id,
                    owner,
                    status=EventStatus.RETRY.value,
                    next_attempt_at=decision.at,
                    last_error=decision.reason,
                )
        else:
            log.info("Agency %s: provisioning finished.", agency.slug)
            leases.finish(
                ProvisioningJob,
                job_id,
                owner,
                status=EventStatus.DONE.value,
                last_error=None,
                finished_at=self.clock.now(),
            )
        finally:
            self._release(owner, ProvisioningJob, job_id)

    # -- leases held while working ----------------------------------------------------

    def _hold(self, owner: str, model, row_id: int) -> None:
        with self._held_lock:
            self._held.setdefault(owner, set()).add((model, row_id))

    def _release(self, owner: str, model, row_id: int) -> None:
        with self._held_lock:
            self._held.get(owner, set()).discard((model, row_id))

    def renew_leases(self) -> None:
        """Push out the lease of every row this dispatcher's workers are running."""
        with self._held_lock:
            held = [(owner, set(rows)) for owner, rows in self._held.items() if rows]
        if not held:
            return
        until = self.clock.now() + self.lease
        with self.app.app_context():
            try:
                for owner, rows in held:
                    for model in (Event, ProvisioningJob):
                        ids = [row_id for m, row_id in rows if m is model]
                        leases.renew(model, ids, owner, until)
            finally:
                db.session.remove()

    # -- the embedded worker --------------------------------------------------------

    @property
    def running(self) -> bool:
        """Return whether the worker threads run."""
        return any(thread.is_alive() for thread in self._workers)

    def start(self) -> None:
        """Start the worker threads and the lease keeper, as daemon threads."""
        with self._start_lock:
            if not self.running:
                self._start_threads()

    def _start_threads(self) -> None:
        self._stopping.clear()
        self._workers = [
            threading.Thread(target=self._work, name=f"hub-worker-{n}", daemon=True)
            for n in range(self.threads)
        ]
        for thread in self._workers:
            thread.start()
        self._workers.append(self.start_lease_keeper())
        log.info(
            "The sync worker %s started with %d thread(s).", self.name, self.threads
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker threads to stop and wait for them."""
        self._stopping.set()
        self.wake()
        for thread in self._workers:
            thread.join(timeout=timeout)
        self._workers = []

    def run_forever(self) -> None:
        """Work in the calling thread until interrupted, keeping leases in another."""
        keeper = self.start_lease_keeper()
        try:
            self._work()
        finally:
            self._stopping.set()
            keeper.join(timeout=5)

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                self._woken = False
            try:
                ran = self.run_once()
            except Exception:
                log.exception(
                    "The sync worker %s failed a round; trying again.", self.name
                )
                ran = 0
                self._stopping.wait(1.0)
            if ran:
                continue
            self._sleep_until_due()

    def _sleep_until_due(self) -> None:
        timeout = self.poll_seconds
        with self.app.app_context():
            try:
                due = leases.next_due(self.clock.now())
            finally:
                db.session.remove()
        if due is not None:
            timeout = max(0.0, min(timeout, (due - self.clock.now()).total_seconds()))
        with self._wake:
            if not self._woken and not self._stopping.is_set():
                self._wake.wait(timeout=timeout)

    def start_lease_keeper(self) -> threading.Thread:
        """Start a daemon thread that renews this worker's leases until it stops.

        A process that runs events through :meth:`process` from elsewhere, such as a
        Celery worker, starts one so that long work keeps its claim.
        """
        thread = threading.Thread(
            target=self._keep_leases, name="hub-leases", daemon=True
        )
        thread.start()

        return thread

    def _keep_leases(self) -> None:
        interval = max(0.05, self.lease.total_seconds() / 3)
        while not self._stopping.wait(interval):
            try:
                self.renew_leases()
            except Exception:
                log.exception(
                    "The sync worker %s could not renew its leases.", self.name
                )


def event_result(event: Event) -> Result:
    """Return how an event ended, as the engine reported it."""
    return Result(event.status, event.outcome or "", event.last_error or "")
