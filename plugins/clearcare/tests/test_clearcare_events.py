"""Provisioning subscriptions, receiving deliveries, and the sandbox's sender."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from flask import Flask, request

from carehub_clearcare.api import client_for
from carehub_clearcare.provisioning import CRITERIA, PURPOSE
from hub import Change, ChangeKind, Inbound, Prospect, RecordRef, StepStatus
from hub.errors import MalformedEvent, VerificationFailed
from hub.extensions import db
from hub.models import Event
from hub.testing.server import serve

SUBSCRIBE = "POST /v1/subscriptions/"


def provision(connectors, agency, connection):
    """Provision as the core does: collect the reports, then commit."""
    reports = []
    facts = connectors.provision(
        "clearcare",
        agency,
        connection,
        lambda step, status, detail: reports.append((step, status, detail)),
    )
    db.session.commit()
    return facts, reports


def subscriptions(connection) -> list[dict]:
    with client_for(connection) as api:
        return api.subscriptions()


def wait_for(condition, seconds: float = 5.0):
    """Return the condition's first true value, polling briefly."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("The condition did not come true in time.")


def inbound(connection, body, authorization=None, criteria="prospect.status.changed"):
    secret = connection.credentials["webhook_secret"]
    return Inbound(
        method="POST",
        url="http://hub.example/hooks/clearcare/token",
        headers={"Authorization": authorization or f"Bearer {secret}"},
        body=json.dumps(body).encode(),
        query={"criteria": criteria} if criteria else {},
        purpose=PURPOSE,
    )


def test_provision_returns_locations_and_reports_each_step(
    connectors, agency, connection
):
    facts, reports = provision(connectors, agency, connection)

    assert [loc.name for loc in facts.locations] == ["Main Office", "North Branch"]
    assert [(step, status) for step, status, _ in reports] == [
        ("locations", StepStatus.RUNNING),
        ("locations", StepStatus.DONE),
        ("subscriptions", StepStatus.RUNNING),
        ("subscriptions", StepStatus.DONE),
    ]


def test_subscriptions_are_registered_once_however_often_provisioning_runs(
    connectors, agency, connection, control, account
):
    for _ in range(3):
        provision(connectors, agency, connection)

    found = subscriptions(connection)
    secret = connection.credentials["webhook_secret"]
    assert sorted(s["criteria"] for s in found) == sorted(CRITERIA)
    assert control.counters(account=account["account"])["by_path"][SUBSCRIBE] == 6
    for subscription in found:
        assert subscription["channel"]["header"] == [f"Authorization: Bearer {secret}"]
        assert subscription["channel"]["endpoint"].startswith(
            connection.webhook_url(PURPOSE)
        )


def test_stale_subscriptions_are_removed_and_others_kept(
    connectors, agency, connection, app_ctx
):
    public = app_ctx.config["HUB_PUBLIC_URL"]
    with client_for(connection) as api:
        for endpoint in (
            f"{public}/hooks/clearcare/old-token",
            "https://crm.example/x",
        ):
            api.create_subscription(
                {
                    "resourceType": "Subscription",
                    "status": "active",
                    "criteria": "patient.created",
                    "channel": {"type": "rest-hook", "endpoint": endpoint},
                    "meta": {
                        "tag": [
                            {
                                "code": "agencyId",
                                "display": connection.settings["agency_id"],
                            }
                        ]
                    },
                }
            )

    provision(connectors, agency, connection)

    endpoints = [s["channel"]["endpoint"] for s in subscriptions(connection)]
    assert "https://crm.example/x" in endpoints
    assert f"{public}/hooks/clearcare/old-token" not in endpoints
    assert len(endpoints) == 7


@pytest.mark.parametrize(
    ("criteria", "kind"),
    (
        ("prospect.status.changed", ChangeKind.STATUS_CHANGED),
        ("patient.created", ChangeKind.CREATED),
        ("patient.name.changed", ChangeKind.UPDATED),
        ("patient.deactivated.changed", ChangeKind.DEACTIVATED),
        (None, ChangeKind.UPDATED),
    ),
)
def test_delivery_becomes_a_change_naming_the_patient(
    connectors, agency, connection, criteria, kind
):
    provision(connectors, agency, connection)

    numeric = connectors.receive_event(
        "clearcare",
        agency,
        connection,
        inbound(connection, {"resourceType": "Patient", "id": 2870130}, None, criteria),
    )
    text = connectors.receive_event(
        "clearcare",
        agency,
        connection,
        inbound(
            connection, {"resourceType": "Patient", "id": "2870130"}, None, criteria
        ),
    )

    assert numeric == text
    assert [(c.kind, c.ref, c.dedup_key) for c in numeric] == [
        (kind, RecordRef("patient", "2870130"), None)
    ]


def test_saving_the_settings_again_keeps_the_webhook_secret(
    connectors, agency, connection
):
    from hub.settings import save_settings

    provision(connectors, agency, connection)
    secret = connection.credentials["webhook_secret"]

    save_settings(
        connection,
        connectors.info("clearcare"),
        {
            "client_id": connection.settings["client_id"],
            "agency_id": connection.settings["agency_id"],
            "client_secret": "rotated",
        },
    )

    assert connection.credentials["webhook_secret"] == secret
    assert connection.credentials["client_secret"] == "rotated"
    assert "webhook_secret" not in connection.settings


def test_delivery_with_another_header_is_refused(connectors, agency, connection):
    provision(connectors, agency, connection)

    with pytest.raises(VerificationFailed):
        connectors.receive_event(
            "clearcare",
            agency,
            connection,
            inbound(connection, {"resourceType": "Patient", "id": 1}, "Bearer guess"),
        )


@pytest.mark.parametrize(
    "body",
    (
        {"resourceType": "Patient"},
        {"resourceType": "Location", "id": 3},
        [1],
        {"id": True},
        {"id": "../organizations"},
        {"id": 1.5},
    ),
)
def test_delivery_without_a_patient_is_malformed(connectors, agency, connection, body):
    provision(connectors, agency, connection)

    with pytest.raises(MalformedEvent):
        connectors.receive_event(
            "clearcare", agency, connection, inbound(connection, body)
        )


def test_status_change_in_clearcare_reaches_the_hub_as_a_stored_event(
    connectors, agency, connection, control
):
    provision(connectors, agency, connection)
    patient_id = connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(
            kind=ChangeKind.CREATED,
            prospect=Prospect(first_name="Rose", last_name="Tyler"),
            link_key="rose",
        ),
    ).remote_ids["patient"]

    control.verb(
        "prospect_status", {"patient_id": patient_id, "status": "Assessment Scheduled"}
    )

    def status_events():
        db.session.rollback()
        rows = db.session.scalars(
            sa.select(Event).where(Event.agency_id == agency.id)
        ).all()
        return [e for e in rows if e.payload["kind"] == ChangeKind.STATUS_CHANGED.value]

    events = wait_for(status_events)
    assert events[0].connector == "clearcare"
    assert events[0].purpose == PURPOSE
    assert events[0].payload["ref"] == {"kind": "patient", "id": patient_id}
    assert events[0].person_key.endswith(f"patient:{patient_id}")


def test_sender_retries_on_the_sandbox_clock(
    connectors, agency, connection, control, tmp_path
):
    calls = []

    def make_receiver(url):
        receiver = Flask("receiver")

        @receiver.post("/hook")
        def hook():
            calls.append(request.headers.get("Authorization"))
            return ("", 500) if len(calls) == 1 else ("", 204)

        return receiver

    with serve(make_receiver) as receiver, client_for(connection) as api:
        api.create_subscription(
            {
                "resourceType": "Subscription",
                "status": "active",
                "criteria": "patient.created",
                "channel": {
                    "type": "rest-hook",
                    "endpoint": receiver.config["HUB_SERVED_URL"] + "/hook",
                    "header": ["Authorization: Bearer s3cret"],
                },
                "meta": {
                    "tag": [
                        {
                            "code": "agencyId",
                            "display": connection.settings["agency_id"],
                        }
                    ]
                },
            }
        )
        connectors.apply_change(
            "clearcare",
            agency,
            connection,
            Change(
                kind=ChangeKind.CREATED,
                prospect=Prospect(first_name="Amy", last_name="Pond"),
                link_key="amy",
            ),
        )
        wait_for(lambda: len(calls) == 1)
        time.sleep(0.2)
        assert len(calls) == 1

        control.advance_clock(10)
        wait_for(lambda: len(calls) == 2)

    assert calls == ["Bearer s3cret", "Bearer s3cret"]


@pytest.fixture
def receiver():
    """Serve an endpoint that records each delivery; yield its URL and the list."""
    calls = []

    def make(url):
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            calls.append(request.get_json())
            return "", 204

        return app

    with serve(make) as app:
        yield app.config["HUB_SERVED_URL"] + "/hook", calls


def subscribe(connection, criteria: str, endpoint: str) -> None:
    with client_for(connection) as api:
        api.create_subscription(
            {
                "resourceType": "Subscription",
                "status": "active",
                "criteria": criteria,
                "channel": {"type": "rest-hook", "endpoint": endpoint},
                "meta": {
                    "tag": [
                        {
                            "code": "agencyId",
                            "display": connection.settings["agency_id"],
                        }
                    ]
                },
            }
        )


@pytest.mark.parametrize(
    ("criteria", "edit"),
    (
        ("patient.name.changed", {"name": [{"family": "Smith", "given": ["Jo"]}]}),
        ("patient.address.changed", {"address": [{"city": "Denver"}]}),
        ("patient.telecom.changed", {"telecom": []}),
        ("patient.deactivated.changed", {"active": False}),
        (
            "prospect.status.changed",
            {"meta": {"tag": [{"code": "status", "display": "20"}]}},
        ),
        (
            "prospect.status.changed",
            {"meta": {"tag": [{"code": "isClient", "display": "true"}]}},
        ),
    ),
    ids=("name", "address", "telecom", "deactivated", "status", "client"),
)
def test_each_kind_of_edit_fires_its_subscription(
    connectors, agency, connection, receiver, criteria, edit
):
    endpoint, calls = receiver
    subscribe(connection, criteria, endpoint)
    patient_id = connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(
            kind=ChangeKind.CREATED,
            prospect=Prospect(first_name="Jo", last_name="March", phone="3035550100"),
            link_key="jo",
        ),
    ).remote_ids["patient"]
    agency_tag = {"code": "agencyId", "display": connection.settings["agency_id"]}
    body = {**edit, "meta": {"tag": [agency_tag, *edit.get("meta", {}).get("tag", [])]}}

    with client_for(connection) as api:
        api.update_patient(patient_id, body)

    wait_for(lambda: calls)
    assert calls == [{"resourceType": "Patient", "id": int(patient_id)}]


def test_a_cursor_that_is_no_time_restarts_polling(connectors, connection):
    batch = connectors.fetch_changes("clearcare", connection, "not-a-time")

    assert batch.changes == []
    assert batch.cursor != "not-a-time"
