"""The background sender of workflow webhooks, retried as HubSpot retries them.

Deliveries are rows in the sandbox database; a daemon thread in each process that
serves the sandbox claims the due ones, sends them, and writes down the outcome.
Due means due on the sandbox's clock, so moving the clock releases retries.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import defaultdict, deque
from typing import Any

import requests
import sqlalchemy as sa

from carehub_hubspot.sandbox import signatures, store

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3
RESPONSE_TIMEOUT = 30
FIRST_RETRY = 60
LONGEST_GAP = 8 * 3600
GIVE_UP_AFTER = 3 * 24 * 3600
IDLE_POLL = 0.5
PER_PORTAL_PER_SECOND = 20
CLAIM_SECONDS = RESPONSE_TIMEOUT + CONNECT_TIMEOUT + 30
USER_AGENT = "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WorkflowsWebhooksAction"


def retry_gap(failures: int) -> float:
    """Return the wait before the next try after ``failures`` failed tries."""
    return min(FIRST_RETRY * 2 ** (failures - 1), LONGEST_GAP)


class Sender:
    """Sends due workflow webhooks from a daemon thread; :meth:`wake` hurries it.

    :param response_timeout: seconds to wait for an answer, HubSpot's 30 unless a
        test shortens it.
    """

    def __init__(
        self, engine: sa.Engine, response_timeout: float = RESPONSE_TIMEOUT
    ) -> None:
        self.engine = engine
        self.response_timeout = response_timeout
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.session = requests.Session()
        self._recent: dict[int, deque] = defaultdict(deque)

    def start(self) -> None:
        """Start the sender's thread, once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=_run, args=(weakref.ref(self), self._wake, self._stopped),
            name="hubspot-sandbox-sender", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def wake(self) -> None:
        """Ask the sender to look for due webhooks now."""
        self._wake.set()

    def stop(self, timeout: float = 5) -> None:
        """Stop the sender's thread; queued webhooks wait in the database."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def send_due(self) -> int:
        """Send every webhook due on the sandbox clock; return how many were tried."""
        tried = 0
        while True:
            claimed = self._claim()
            if claimed is None:
                return tried
            self._pace(claimed[0]["portal_id"])
            self._attempt(*claimed)
            tried += 1

    def _pace(self, portal_id: int) -> None:
        """Wait, if need be, so a portal gets at most 20 webhooks a second."""
        recent = self._recent[portal_id]
        while recent and recent[0] <= time.monotonic() - 1:
            recent.popleft()
        if len(recent) >= PER_PORTAL_PER_SECOND:
            time.sleep(max(recent[0] + 1 - time.monotonic(), 0))
            recent.popleft()
        recent.append(time.monotonic())

    def _claim(self) -> tuple[dict, str | None, float] | None:
        d = store.deliveries
        with store.transaction(self.engine) as conn:
            now = store.now(conn)
            row = conn.execute(
                sa.select(d)
                .where(
                    d.c.state == "pending",
                    d.c.next_at <= now,
                    d.c.claimed_until < time.time(),
                )
                .order_by(d.c.next_at, d.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            conn.execute(
                d.update()
                .where(d.c.id == row.id)
                .values(claimed_until=time.time() + CLAIM_SECONDS)
            )
            secret = None
            auth = row.auth or {}
            if auth.get("type") == "SIGNATURE":
                a = store.app_secrets
                secret = conn.execute(
                    sa.select(a.c.client_secret).where(
                        a.c.app_id == str(auth.get("appId"))
                    )
                ).scalar()

        return dict(row._mapping), secret, now

    def _attempt(self, delivery: dict, secret: str | None, now: float) -> None:
        body = b"" if delivery["method"] == "GET" else delivery["body"].encode()
        headers = {"User-Agent": USER_AGENT}
        if body:
            headers["Content-Type"] = "application/json"
        if secret:
            headers.update(
                signatures.headers(
                    secret, delivery["method"], delivery["url"], body,
                    str(store.millis(now)),
                )
            )  # fmt: skip
        status, error, retry_after = None, None, None
        try:
            response = self.session.request(
                delivery["method"], delivery["url"], data=body, headers=headers,
                timeout=(CONNECT_TIMEOUT, self.response_timeout), allow_redirects=False,
            )  # fmt: skip
            status = response.status_code
            retry_after = response.headers.get("Retry-After")
            response.close()
        except requests.RequestException as exc:
            error = type(exc).__name__

        self._record(delivery, now, status, error, retry_after)

    def _record(
        self, delivery: dict, now: float, status: int | None, error: str | None,
        retry_after: str | None,
    ) -> None:  # fmt: skip
        attempts = [
            *delivery["attempts"],
            {"at": store.iso(now), "status": status, "error": error},
        ]
        values: dict[str, Any] = {"attempts": attempts, "claimed_until": 0.0}
        if status is not None and 200 <= status < 300:
            values["state"] = "delivered"
        elif status == 429 or status is None or status >= 500:
            gap = retry_gap(len(attempts))
            if status == 429 and retry_after and retry_after.isdigit():
                gap = int(retry_after) / 1000
            next_at = now + gap
            if next_at - delivery["first_at"] > GIVE_UP_AFTER:
                values["state"] = "gave_up"
            else:
                values["next_at"] = next_at
        else:
            values["state"] = "failed"
        log.info(
            "Workflow webhook %s of portal %s: attempt %s answered %s",
            delivery["id"], delivery["portal_id"], len(attempts), status or error,
        )  # fmt: skip
        d = store.deliveries
        with store.transaction(self.engine) as conn:
            conn.execute(d.update().where(d.c.id == delivery["id"]).values(**values))


def _run(ref: weakref.ref, wake: threading.Event, stopped: threading.Event) -> None:
    while True:
        wake.wait(IDLE_POLL)
        wake.clear()
        sender = ref()
        if sender is None or stopped.is_set():
            return
        try:
            sender.send_due()
        except Exception:
            log.exception("The HubSpot sandbox's webhook sender failed; retrying")
        del sender
