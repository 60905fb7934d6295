"""The carehub conformance kit, run against the HubSpot connector and its sandbox."""

from __future__ import annotations

import json
import threading

from carehub_hubspot import paths, signatures
from carehub_hubspot.ratelimit import portal_limiter, search_limiter
from carehub_hubspot.runtime import Runtime, install
from hub import Inbound
from hub.extensions import db
from hub.models import Connection
from hub.testing.kit import ConnectorKit

APP_ID = "4242"
APP_SECRET = "kit-app-secret-0001"


class SandboxClock:
    """A clock that stands still until the connector sleeps; then it moves the
    sandbox's clock as far, so waits for rate windows pass at once."""

    def __init__(self, control) -> None:
        self.control = control
        answer = control.session.get(control.base_url + "/_control/clock", timeout=10)
        self.now = answer.json()["now_ms"] / 1000
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
        self.control.advance_clock(seconds)


class TestHubSpotConformance(ConnectorKit):
    connector = "hubspot"
    account_options = {"tier": "professional", "operations_hub": True}
    agency_locations = (("loc-1", "Downtown"),)
    record_kind = "contact"
    unknown_native = "closedwon"
    lost_answer_fault = {
        "latency_ms": 1200,
        "path_prefix": paths.path(
            "objects_batch", object_type=paths.CONTACTS, action="upsert"
        ),
    }

    def good_settings(self, account):
        return {
            "access_token": account["token"],
            "app_id": APP_ID,
            "client_secret": APP_SECRET,
        }

    def bad_settings(self, account):
        return [
            {"access_token": "pat-na1-00000000-0000-0000-0000-000000000000"},
            {"access_token": account["token"], "app_id": "not-a-number"},
        ]

    def other_ids(self, link_key):
        return {"patient": f"kit-{link_key[:12]}"}

    def setup_world(self, kit):
        self.clock = SandboxClock(kit.control)
        runtime = Runtime(
            clock=self.clock,
            sleep=self.clock.sleep,
            jitter=lambda: 0.0,
            limiter=portal_limiter(clock=self.clock),
            search_limiter=search_limiter(clock=self.clock),
            timeout=(2.0, 0.4),
        )
        install(kit.app, runtime)
        kit.control.verb("app_secret", {"app_id": APP_ID, "client_secret": APP_SECRET})

    def teardown_world(self, kit):
        kit.app.extensions["hubspot.runtime"].close()

    def break_provisioning(self, kit, handle):
        state = kit.stored(handle)["state"]
        kit.control.verb(
            "delete_object",
            {
                "account": handle.counter_key,
                "kind": "workflow",
                "id": state["workflow_ids"]["contact.created"],
            },
        )

    def make_inbound(self, kit, handle, variant):
        with kit.app.app_context():
            connection = db.session.get(Connection, handle.connection_id)
            url = connection.webhook_url("contact.created")
            db.session.commit()
        portal = int(handle.account["portal_id"])
        body = json.dumps({"vid": 51, "portal-id": portal}).encode()
        signed, age = body, 0
        if variant == "tampered":
            signed = body.replace(b"51", b"52")
        elif variant == "stale":
            age = 6 * 60
        elif variant == "malformed":
            body = signed = b'"no object here"'
        sent_at = int((kit.app.extensions["hubspot.runtime"].clock() - age) * 1000)
        headers = signatures.signed_headers(APP_SECRET, "POST", url, signed, sent_at)

        return Inbound(
            method="POST",
            url=url,
            headers={**headers, "Content-Type": "application/json"},
            body=body,
            query={},
            purpose="contact.created",
        )
