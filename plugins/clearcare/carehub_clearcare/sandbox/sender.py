"""The sandbox's subscription sender: delivers webhooks from a background thread."""

from __future__ import annotations

import logging
import threading

import requests
import sqlalchemy as sa

from carehub_clearcare.sandbox import store

log = logging.getLogger(__name__)

#: Seconds on the sandbox's clock before each retry of a failed delivery.
RETRY_DELAYS = (10, 60, 300)
#: Seconds on the sandbox's clock a delivery being sent is kept from other senders.
CLAIM_SECONDS = 60
#: How long the idle thread waits for a wake-up before it looks at the clock again.
POLL_SECONDS = 1.0


class SubscriptionSender:
    """Delivers due webhooks; sleeps until woken or until a retry falls due.

    The thread starts on the first wake-up and ends when nothing is left to send.
    """

    def __init__(self, engine: sa.Engine, timeout: float = 5.0) -> None:
        self.engine = engine
        self.timeout = timeout
        self._wakeup = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    def enqueue(
        self, conn: sa.Connection, agency_id: int, criteria: list[str], patient_id: int
    ) -> int:
        """Queue a delivery to each active subscription that watches the criteria."""
        rows = conn.execute(
            sa.select(store.subscriptions).where(
                store.subscriptions.c.agency_id == agency_id
            )
        ).all()
        moment = store.now(conn)
        queued = 0
        for row in rows:
            resource = row.resource
            if resource.get("status") != "active":
                continue
            if resource.get("criteria") not in criteria:
                continue
            channel = resource.get("channel") or {}
            conn.execute(
                store.deliveries.insert().values(
                    subscription_id=row.id,
                    endpoint=channel.get("endpoint", ""),
                    headers=list(channel.get("header") or []),
                    body={"resourceType": "Patient", "id": patient_id},
                    attempts=0,
                    next_attempt_at=moment,
                    state="pending",
                )
            )
            queued += 1
        return queued

    def wake(self) -> None:
        """Make the thread look for due deliveries now, starting it if it sleeps."""
        with self._lock:
            self._wakeup.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="clearcare-sandbox-sender", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                pending = self.send_due()
            except Exception:
                log.exception("The ClearCare sandbox sender failed; it stops.")
                return
            if not pending:
                with self._lock:
                    if not self._wakeup.is_set():
                        self._thread = None
                        return
                continue
            self._wakeup.wait(POLL_SECONDS)

    def send_due(self) -> int:
        """Send every delivery that is due; return how many are still pending."""
        with self.engine.begin() as conn:
            moment = store.now(conn)
            due = conn.execute(
                sa.select(store.deliveries)
                .where(store.deliveries.c.state == "pending")
                .where(store.deliveries.c.next_attempt_at <= moment)
                .order_by(store.deliveries.c.id)
            ).all()
        for delivery in due:
            if self._claim(delivery):
                self._send(delivery)

        with self.engine.begin() as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(store.deliveries)
                .where(store.deliveries.c.state == "pending")
            ).scalar_one()

    def _claim(self, delivery) -> bool:
        """Take a delivery for this process; another process may have taken it.

        A claim pushes the delivery's time forward, so a sender that dies while
        sending leaves it due again later rather than lost.
        """
        with self.engine.begin() as conn:
            claimed = conn.execute(
                store.deliveries.update()
                .where(
                    store.deliveries.c.id == delivery.id,
                    store.deliveries.c.state == "pending",
                    store.deliveries.c.next_attempt_at == delivery.next_attempt_at,
                )
                .values(next_attempt_at=store.now(conn) + CLAIM_SECONDS)
            )
        return claimed.rowcount == 1

    def _send(self, delivery) -> None:
        headers = {"Content-Type": "application/fhir+json"}
        for line in delivery.headers:
            name, _, value = str(line).partition(":")
            headers[name.strip()] = value.strip()
        error = None
        try:
            response = self._session.post(
                delivery.endpoint,
                json=delivery.body,
                headers=headers,
                timeout=self.timeout,
            )
            if response.status_code >= 300:
                error = f"answered {response.status_code}"
        except requests.RequestException as exc:
            error = exc.__class__.__name__

        with self.engine.begin() as conn:
            attempts = delivery.attempts + 1
            if error is None:
                values = {"state": "delivered", "attempts": attempts}
            elif attempts > len(RETRY_DELAYS):
                values = {"state": "failed", "attempts": attempts, "last_error": error}
            else:
                values = {
                    "attempts": attempts,
                    "last_error": error,
                    "next_attempt_at": store.now(conn) + RETRY_DELAYS[attempts - 1],
                }
            conn.execute(
                store.deliveries.update()
                .where(store.deliveries.c.id == delivery.id)
                .values(**values)
            )
        if error is not None:
            log.info(
                "The ClearCare sandbox could not deliver webhook %s (attempt %s): %s",
                delivery.id,
                delivery.attempts + 1,
                error,
            )
