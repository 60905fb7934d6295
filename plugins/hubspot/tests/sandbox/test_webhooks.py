"""Workflows fire: enrollment, webhook bodies, signatures, and HubSpot's retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque

import pytest
from flask import Flask, request

from carehub_hubspot.sandbox import sender, signatures
from hub.testing.server import serve

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


class Target:
    """A webhook receiver that records each request and answers as scripted."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.replies: deque = deque()
        self.delay = 0.0
        self.lock = threading.Lock()

    def make_app(self, url: str) -> Flask:
        app = Flask("webhook-target")

        @app.route("/hook", methods=["POST", "GET"])
        def hook():
            time.sleep(self.delay)
            with self.lock:
                self.requests.append(
                    {
                        "method": request.method,
                        "url": request.url,
                        "headers": dict(request.headers),
                        "body": request.get_data(),
                        "args": request.args.to_dict(),
                        "at": time.monotonic(),
                    }
                )
                status, headers = self.replies.popleft() if self.replies else (200, {})
            return "", status, headers

        return app


@pytest.fixture(scope="module")
def served_target():
    target = Target()
    with serve(target.make_app) as app:
        target.url = app.config["HUB_SERVED_URL"] + "/hook"
        yield target


@pytest.fixture
def target(served_target):
    served_target.requests.clear()
    served_target.replies.clear()
    served_target.delay = 0.0
    return served_target


def _flow(
    portal, target, *, make_flow, object_type="contacts", criteria=None, app_id=None
):
    flow = make_flow()
    action = flow["actions"][0]
    action["webhookUrl"] = target.url
    if app_id is None:
        del action["authSettings"]
    else:
        action["authSettings"] = {"type": "SIGNATURE", "appId": app_id}
    if object_type == "deals":
        flow.update(type="PLATFORM_FLOW", objectTypeId="0-3", name="Deal Workflow")
        del flow["suppressionListIds"], flow["canEnrollFromSalesforce"]
    if criteria is not None:
        flow["enrollmentCriteria"] = criteria
    flow["isEnabled"] = True
    response = portal.post("/automation/v4/flows", json=flow)
    assert response.status_code == 201, response.text
    return response.json()


def _criteria(filters, triggers=(), re_enroll=True):
    def branch(items):
        return {"filterBranchType": "AND", "filterBranches": [], "filters": list(items)}

    return {
        "type": "LIST_BASED",
        "shouldReEnroll": re_enroll,
        "unEnrollObjectsNotMeetingCriteria": False,
        "listFilterBranch": {
            "filterBranchType": "OR",
            "filters": [],
            "filterBranches": [branch(filters)],
        },
        "reEnrollmentTriggersFilterBranches": [branch([t]) for t in triggers],
    }


def _property_filter(name, operator, values=None):
    operation = {"operationType": "ENUMERATION", "operator": operator}
    if values is not None:
        operation["values"] = values
    return {"filterType": "PROPERTY", "property": name, "operation": operation}


def _settle(sandbox, portal):
    """Return the deliveries once none is due now (the sender has caught up)."""
    time.sleep(0.1)

    def caught_up():
        rows = sandbox.deliveries(portal)
        due = [r for r in rows if r["state"] == "pending" and not r["attempts"]]
        return None if due else rows or [{}]

    rows = sandbox.wait_for(caught_up)
    return [row for row in rows if row]


def test_a_created_contact_fires_the_legacy_profile_from_the_background(
    make_flow, portal, sandbox, target
):
    _flow(portal, target, make_flow=make_flow)
    target.delay = 1.0

    started = time.monotonic()
    created = portal.post(
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "ann@example.com", "firstname": "Ann"}},
    )
    answered_in = time.monotonic() - started

    assert created.status_code == 201
    assert answered_in < 0.8
    sandbox.wait_for(lambda: target.requests)
    sent = target.requests[0]
    body = json.loads(sent["body"])
    contact_id = int(created.json()["id"])
    assert sent["method"] == "POST"
    assert sent["args"] == {"objectId": str(contact_id)}
    assert body["vid"] == contact_id
    assert body["canonical-vid"] == contact_id
    assert body["portal-id"] == portal.account["portal_id"]
    assert body["properties"]["firstname"]["value"] == "Ann"
    assert body["properties"]["firstname"]["versions"][0]["value"] == "Ann"
    assert "X-Hubspot-Signature" not in sent["headers"]


def test_a_deal_webhook_carries_its_current_values(make_flow, portal, sandbox, target):
    _flow(
        portal,
        target,
        make_flow=make_flow,
        object_type="deals",
        criteria=_criteria(
            [_property_filter("dealstage", "IS_ANY_OF", ["closedwon"])],
            triggers=[_property_filter("dealstage", "IS_ANY_OF", ["closedwon"])],
        ),
    )
    contact = portal.post("/crm/v3/objects/contacts", json={"properties": {}}).json()
    deal = portal.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "Care"},
            "associations": [
                {
                    "to": {"id": contact["id"]},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 3,
                        }
                    ],
                }
            ],
        },
    ).json()
    assert _settle(sandbox, portal) == []

    portal.patch(
        f"/crm/v3/objects/deals/{deal['id']}",
        json={"properties": {"dealstage": "closedwon"}},
    )
    sandbox.wait_for(lambda: target.requests)

    body = json.loads(target.requests[0]["body"])
    assert body["objectId"] == int(deal["id"])
    assert body["portalId"] == portal.account["portal_id"]
    assert body["properties"]["dealstage"]["value"] == "closedwon"
    assert body["associations"]["associatedVids"] == [int(contact["id"])]


def test_re_enrollment_needs_should_re_enroll_and_a_trigger(
    make_flow, portal, sandbox, target
):
    stage = _property_filter("dealstage", "IS_ANY_OF", ["closedwon"])
    _flow(
        portal,
        target,
        make_flow=make_flow,
        object_type="deals",
        criteria=_criteria([stage], [stage]),
    )
    once = _criteria([stage], [stage], re_enroll=False)
    _flow(portal, target, make_flow=make_flow, object_type="deals", criteria=once)
    deal = portal.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "D", "dealstage": "closedwon"}},
    ).json()
    path = f"/crm/v3/objects/deals/{deal['id']}"

    portal.patch(path, json={"properties": {"amount": "10"}})
    portal.patch(path, json={"properties": {"dealstage": "closedlost"}})
    portal.patch(path, json={"properties": {"dealstage": "closedwon"}})
    rows = _settle(sandbox, portal)

    by_flow = {}
    for row in rows:
        by_flow[row["flow_id"]] = by_flow.get(row["flow_id"], 0) + 1
    assert sorted(by_flow.values()) == [1, 2]


def test_a_field_change_trigger_re_enrolls_a_contact(
    make_flow, portal, sandbox, target
):
    known = _property_filter("hs_object_id", "IS_KNOWN")
    _flow(
        portal,
        target,
        make_flow=make_flow,
        criteria=_criteria([known], [_property_filter("firstname", "IS_KNOWN")]),
    )
    contact = portal.post(
        "/crm/v3/objects/contacts", json={"properties": {"firstname": "A"}}
    ).json()
    path = f"/crm/v3/objects/contacts/{contact['id']}"

    portal.patch(path, json={"properties": {"zip": "02134"}})
    portal.patch(path, json={"properties": {"firstname": "B"}})

    assert len(_settle(sandbox, portal)) == 2


def test_a_record_from_before_the_flow_enrolls_only_when_it_newly_meets_it(
    make_flow, portal, sandbox, target
):
    """A workflow turned on enrolls records from then on: an older contact is not
    enrolled by a write of another property, only by a change that makes it meet
    the criteria."""
    older = portal.post(
        "/crm/v3/objects/contacts", json={"properties": {"firstname": "Old"}}
    ).json()
    every_new = _criteria(
        [_property_filter("hs_object_id", "IS_KNOWN")], re_enroll=False
    )
    _flow(portal, target, make_flow=make_flow, criteria=every_new)
    with_city = _criteria([_property_filter("city", "IS_KNOWN")], re_enroll=False)
    with_city_flow = _flow(portal, target, make_flow=make_flow, criteria=with_city)
    path = f"/crm/v3/objects/contacts/{older['id']}"

    portal.patch(path, json={"properties": {"firstname": "Still old"}})
    assert _settle(sandbox, portal) == []

    portal.patch(path, json={"properties": {"city": "Denver"}})
    rows = _settle(sandbox, portal)
    assert [str(row["flow_id"]) for row in rows] == [str(with_city_flow["id"])]


def test_a_disabled_flow_does_not_fire(make_flow, portal, sandbox, target):
    flow = _flow(portal, target, make_flow=make_flow)
    portal.put(f"/automation/v4/flows/{flow['id']}", json={**flow, "isEnabled": False})

    portal.post("/crm/v3/objects/contacts", json={"properties": {}})

    assert _settle(sandbox, portal) == []


def test_a_500_is_retried_after_a_minute_on_the_sandbox_clock(
    make_flow, portal, sandbox, target
):
    _flow(portal, target, make_flow=make_flow)
    target.replies.append((500, {}))

    portal.post("/crm/v3/objects/contacts", json={"properties": {}})
    sandbox.wait_for(lambda: target.requests)
    [row] = _settle(sandbox, portal)

    assert row["state"] == "pending"
    assert [a["status"] for a in row["attempts"]] == [500]
    time.sleep(0.6)
    assert len(target.requests) == 1

    sandbox.control.advance_clock(61)
    sandbox.wait_for(lambda: len(target.requests) == 2)
    [row] = sandbox.wait_for(
        lambda: [r for r in sandbox.deliveries(portal) if r["state"] == "delivered"]
    )
    assert [a["status"] for a in row["attempts"]] == [500, 200]
    assert target.requests[0]["body"] == target.requests[1]["body"]


def test_a_400_is_not_retried(make_flow, portal, sandbox, target):
    _flow(portal, target, make_flow=make_flow)
    target.replies.append((400, {}))

    portal.post("/crm/v3/objects/contacts", json={"properties": {}})
    [row] = sandbox.wait_for(
        lambda: [r for r in sandbox.deliveries(portal) if r["state"] == "failed"]
    )
    sandbox.control.advance_clock(86400)
    time.sleep(0.6)

    assert len(target.requests) == 1
    assert [a["status"] for a in row["attempts"]] == [400]


def test_a_429_waits_for_its_retry_after_in_milliseconds(
    make_flow, portal, sandbox, target
):
    _flow(portal, target, make_flow=make_flow)
    target.replies.append((429, {"Retry-After": "5000"}))

    portal.post("/crm/v3/objects/contacts", json={"properties": {}})
    sandbox.wait_for(lambda: target.requests)
    sandbox.control.advance_clock(2)
    time.sleep(0.6)
    assert len(target.requests) == 1

    sandbox.control.advance_clock(4)
    sandbox.wait_for(lambda: len(target.requests) == 2)


def test_an_unreachable_target_is_retried_then_given_up_after_three_days(
    make_flow, portal, sandbox, target
):
    flow = _flow(portal, target, make_flow=make_flow)
    target.replies.extend([(503, {})] * 100)
    assert flow["isEnabled"]

    portal.post("/crm/v3/objects/contacts", json={"properties": {}})
    sandbox.wait_for(lambda: target.requests)
    for _ in range(40):
        seen = len(target.requests)
        sandbox.control.advance_clock(sender.LONGEST_GAP + 1)
        rows = sandbox.deliveries(portal)
        if rows[0]["state"] == "gave_up":
            break
        sandbox.wait_for(lambda s=seen: len(target.requests) > s)
    row = sandbox.wait_for(
        lambda: [r for r in sandbox.deliveries(portal) if r["state"] == "gave_up"]
    )[0]

    assert 10 <= len(row["attempts"]) <= 20


def test_retry_gaps_grow_from_a_minute_to_eight_hours():
    gaps = [sender.retry_gap(n) for n in range(1, 12)]

    assert gaps[0] == 60
    assert gaps == sorted(gaps)
    assert gaps[-1] == 8 * 3600


def test_hubspots_published_v2_vector_verifies():
    signature = signatures.v2(
        SECRET,
        "POST",
        "https://www.example.com/webhook_uri",
        b'{"example_field":"example_value"}',
    )

    assert (
        signature == "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    )


def test_a_webhook_of_an_app_with_a_secret_is_signed_v2_and_v3(
    make_flow, portal, sandbox, target
):
    sandbox.control.verb("app_secret", {"app_id": "777", "client_secret": SECRET})
    _flow(portal, target, make_flow=make_flow, app_id=777)
    now_ms = sandbox.control.verb("clock", {"advance_seconds": 0})["now_ms"]

    portal.post("/crm/v3/objects/contacts", json={"properties": {"firstname": "S"}})
    sandbox.wait_for(lambda: target.requests)

    sent = target.requests[0]
    headers = sent["headers"]
    body = sent["body"]
    expected_v2 = hashlib.sha256(
        SECRET.encode() + b"POST" + sent["url"].encode() + body
    ).hexdigest()
    timestamp = headers["X-Hubspot-Request-Timestamp"]
    expected_v3 = base64.b64encode(
        hmac.new(
            SECRET.encode(),
            b"POST" + sent["url"].encode() + body + timestamp.encode(),
            hashlib.sha256,
        ).digest()
    ).decode()
    assert headers["X-Hubspot-Signature-Version"] == "v2"
    assert hmac.compare_digest(headers["X-Hubspot-Signature"], expected_v2)
    assert hmac.compare_digest(headers["X-Hubspot-Signature-V3"], expected_v3)
    assert abs(int(timestamp) - now_ms) < 60_000


def test_an_app_without_a_registered_secret_sends_unsigned(
    make_flow, portal, sandbox, target
):
    _flow(portal, target, make_flow=make_flow, app_id=888)

    portal.post("/crm/v3/objects/contacts", json={"properties": {}})
    sandbox.wait_for(lambda: target.requests)

    assert "X-Hubspot-Signature" not in target.requests[0]["headers"]


def test_v3_signs_the_uri_with_the_listed_escapes_decoded():
    plain = signatures.v3("s", "POST", "https://h/p?a=b:c", b"{}", "1")
    escaped_uri = signatures.v3_uri("https://h/p?a=b%3Ac")

    assert escaped_uri == "https://h/p?a=b:c"
    assert signatures.v3("s", "POST", escaped_uri, b"{}", "1") == plain


def test_an_unreachable_target_is_retried_like_a_5xx(
    make_flow, portal, sandbox, target
):
    flow = make_flow(isEnabled=True)
    flow["actions"][0]["webhookUrl"] = "http://127.0.0.1:9/nobody-listens"
    portal.post("/automation/v4/flows", json=flow)

    portal.post("/crm/v3/objects/contacts", json={"properties": {}})
    [row] = sandbox.wait_for(
        lambda: [r for r in sandbox.deliveries(portal) if r["attempts"]]
    )

    assert row["state"] == "pending"
    assert row["attempts"][0]["status"] is None
    assert row["attempts"][0]["error"] == "ConnectionError"


def test_a_get_webhook_sends_no_body(make_flow, portal, sandbox, target):
    flow = make_flow(isEnabled=True)
    flow["actions"][0].update(method="GET", webhookUrl=target.url)
    del flow["actions"][0]["authSettings"]
    portal.post("/automation/v4/flows", json=flow)

    created = portal.post("/crm/v3/objects/contacts", json={"properties": {}}).json()
    sandbox.wait_for(lambda: target.requests)

    assert target.requests[0]["method"] == "GET"
    assert target.requests[0]["body"] == b""
    assert target.requests[0]["args"] == {"objectId": created["id"]}


def test_a_portal_gets_at_most_20_webhooks_a_second(make_flow, portal, sandbox, target):
    flow = make_flow(isEnabled=True)
    flow["actions"][0]["webhookUrl"] = target.url
    del flow["actions"][0]["authSettings"]
    portal.post("/automation/v4/flows", json=flow)
    inputs = [{"properties": {"firstname": str(n)}} for n in range(22)]

    portal.post("/crm/v3/objects/contacts/batch/create", json={"inputs": inputs})
    sandbox.wait_for(lambda: len(target.requests) == 22)

    arrivals = sorted(r["at"] for r in target.requests)
    assert arrivals[20] - arrivals[0] >= 0.9


def test_a_timed_out_webhook_is_retried(tmp_path, serve_sandbox, make_flow, target):
    target.delay = 1.0
    with serve_sandbox(tmp_path, HUB_HUBSPOT_SANDBOX_WEBHOOK_TIMEOUT=0.2) as sandbox:
        portal = sandbox.portal("professional", operations_hub=True)
        flow = make_flow(isEnabled=True)
        flow["actions"][0]["webhookUrl"] = target.url
        del flow["actions"][0]["authSettings"]
        portal.post("/automation/v4/flows", json=flow)

        portal.post("/crm/v3/objects/contacts", json={"properties": {}})
        [row] = sandbox.wait_for(
            lambda: [r for r in sandbox.deliveries(portal) if r["attempts"]]
        )
        target.delay = 0.0
        sandbox.control.advance_clock(61)
        [done] = sandbox.wait_for(
            lambda: [r for r in sandbox.deliveries(portal) if r["state"] == "delivered"]
        )

    assert row["attempts"][0]["error"] == "ReadTimeout"
    assert row["state"] == "pending"
    assert [a["status"] for a in done["attempts"]] == [None, 200]
