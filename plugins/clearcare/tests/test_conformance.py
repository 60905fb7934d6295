"""The carehub conformance kit, run against the ClearCare connector and its sandbox."""

from __future__ import annotations

import json

from carehub_clearcare.api import client_for
from carehub_clearcare.provisioning import PURPOSE, SECRET
from hub import Inbound
from hub.extensions import db
from hub.models import Connection
from hub.testing.kit import ConnectorKit


class TestClearCareConformance(ConnectorKit):
    connector = "clearcare"
    config = {"HUB_CLEARCARE_TIMEOUT": 0.5, "HUB_CLEARCARE_RATE": 1000}
    record_kind = "patient"
    skip = {
        "receive.stale": (
            "ClearCare deliveries carry no timestamp and no signature, only the "
            "secret header the hub registered, so no delivery can be too old."
        ),
    }
    lost_answer_fault = {"latency_ms": 1500, "path_prefix": "/v1/patients/"}

    def good_settings(self, account):
        return {
            "client_id": account["client_id"],
            "client_secret": account["client_secret"],
            "agency_id": account["agency_id"],
            "collect_payment_status_confirmed": True,
        }

    def bad_settings(self, account):
        return [
            {**self.good_settings(account), "client_secret": "not-the-secret"},
            {**self.good_settings(account), "agency_id": "9999"},
        ]

    def break_provisioning(self, kit, handle):
        with kit.app.app_context():
            connection = db.session.get(Connection, handle.connection_id)
            with client_for(connection) as api:
                first = api.subscriptions()[0]
                api.delete_subscription(str(first["id"]))

    def make_inbound(self, kit, handle, variant):
        secret = kit.stored(handle)["all"][SECRET]
        body = json.dumps({"resourceType": "Patient", "id": 2870130}).encode()
        authorization = f"Bearer {secret}"
        if variant == "tampered":
            authorization = "Bearer not-the-secret"
        elif variant == "malformed":
            body = b"{not json"

        return Inbound(
            method="POST",
            url=f"{kit.url}/hooks/clearcare/token?criteria=patient.created",
            headers={"Authorization": authorization},
            body=body,
            query={"criteria": "patient.created"},
            purpose=PURPOSE,
        )
