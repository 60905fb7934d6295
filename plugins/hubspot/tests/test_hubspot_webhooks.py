"""Webhooks from the sandbox's workflows into the hub's ingress, signed and not."""

from __future__ import annotations

import json
import time

import pytest
import requests

from carehub_hubspot import paths, signatures
from hub.canonical import ChangeKind, Prospect, ProspectStatus, RecordRef

APP_ID = "4242"
SECRET = "sandbox-app-secret-0001"


def wait_for(check, timeout: float = 20.0):
    """Return ``check()`` once it is truthy, polling in real time."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def create_contact(world, portal, **properties):
    path = paths.path("objects", object_type="contacts")
    return world.api(portal, "POST", path, json={"properties": properties})["id"]


def events_for(world, portal, purpose):
    return [e for e in world.events(portal) if e.purpose == purpose]


@pytest.mark.parametrize("signed", (False, True), ids=("unsigned", "signed"))
def test_a_contact_created_in_hubspot_reaches_the_hub_as_a_stored_event(world, signed):
    keys = {"app_id": APP_ID, "client_secret": SECRET} if signed else {}
    portal = world.new_portal(**keys)
    world.provision(portal)

    contact_id = create_contact(world, portal, firstname="Ann", email="ann@example.org")

    stored = wait_for(lambda: events_for(world, portal, "contact.created"))
    assert len(stored) == 1
    change = stored[0].payload
    assert change["kind"] == ChangeKind.CREATED.value
    assert change["ref"] == {"kind": "contact", "id": str(contact_id)}
    assert stored[0].dedup_key == f"hubspot:contact.created:{contact_id}"
    flow = world.api(
        portal,
        "GET",
        paths.path(
            "flow", flow_id=world.state(portal)["workflow_ids"]["contact.created"]
        ),
    )
    assert ("authSettings" in flow["actions"][0]) is signed


def test_field_changes_of_a_linked_contact_reach_the_hub(world):
    portal = world.new_portal()
    world.provision(portal)
    contact_id = create_contact(world, portal, firstname="Bo", lastname="Lin")
    wait_for(lambda: events_for(world, portal, "contact.created"))
    world.hook(
        "apply_change",
        portal,
        change=_linked(contact_id, "link-bo", "p-77", Prospect(first_name="Bo")),
    )
    first = wait_for(lambda: events_for(world, portal, "contact.changed"))

    world.api(
        portal,
        "PATCH",
        paths.path("object", object_type="contacts", id=contact_id),
        json={"properties": {"city": "Springfield"}},
    )

    changed = wait_for(
        lambda: (
            len(events_for(world, portal, "contact.changed")) > len(first)
            and events_for(world, portal, "contact.changed")
        )
    )
    assert changed, "the field sync workflow sent no webhook for the city"
    assert {e.payload["ref"]["id"] for e in changed} == {str(contact_id)}


def test_a_deal_moved_past_new_lead_reaches_the_hub(world):
    portal = world.new_portal()
    world.provision(portal)
    contact_id = create_contact(world, portal, firstname="Cy")
    applied = world.hook(
        "apply_change",
        portal,
        change=_linked(contact_id, "link-cy", "p-78", Prospect()),
    )
    deal_id = applied.remote_ids["deal"]
    stage = world.state(portal)["stage_ids"]["ASSESSMENT_SCHEDULED"]

    world.api(
        portal,
        "PATCH",
        paths.path("object", object_type="deals", id=deal_id),
        json={"properties": {"dealstage": stage}},
    )

    stored = wait_for(lambda: events_for(world, portal, "deal.stage_changed"))
    assert [e.payload["ref"] for e in stored] == [{"kind": "deal", "id": deal_id}]
    assert stored[0].payload["kind"] == ChangeKind.STATUS_CHANGED.value
    status = world.hook("fetch_record", portal, ref=RecordRef("deal", deal_id)).status
    assert status == ProspectStatus.ASSESSMENT_SCHEDULED


def _linked(contact_id, link_key, patient, prospect):
    from hub.canonical import Change

    return Change(
        kind=ChangeKind.LINKED,
        ref=RecordRef("contact", str(contact_id)),
        prospect=prospect,
        link_key=link_key,
        remote_ids={"contact": str(contact_id)},
        other_ids={"patient": patient},
    )


class TestIngress:
    """What the hub answers HubSpot, with signatures on."""

    @pytest.fixture
    def signed_portal(self, world):
        """Return a connected portal whose webhooks must carry signatures."""
        portal = world.new_portal(app_id=APP_ID, client_secret=SECRET)
        world.hook("connect", portal)
        return portal

    def post(self, world, portal, body: bytes, *, age: float = 0, sign_body=None):
        url = world.webhook_url(portal, "contact.created") + "?objectId=51"
        sent_at = int((world.clock() - age) * 1000)
        headers = signatures.signed_headers(
            SECRET, "POST", url, body if sign_body is None else sign_body, sent_at
        )
        headers["Content-Type"] = "application/json"
        return requests.post(url, data=body, headers=headers, timeout=10)

    def body(self, portal, vid=51):
        return json.dumps({"vid": vid, "portal-id": int(portal.portal_id)}).encode()

    def test_a_signed_request_is_stored(self, world, signed_portal):
        answer = self.post(world, signed_portal, self.body(signed_portal))

        assert answer.status_code == 200, answer.text
        assert len(world.events(signed_portal)) == 1

    def test_a_tampered_body_gets_401(self, world, signed_portal):
        body = self.body(signed_portal)
        answer = self.post(
            world, signed_portal, body, sign_body=body.replace(b"51", b"52")
        )

        assert answer.status_code == 401
        assert world.events(signed_portal) == []

    def test_a_stale_request_gets_401(self, world, signed_portal):
        answer = self.post(world, signed_portal, self.body(signed_portal), age=6 * 60)

        assert answer.status_code == 401
        assert "5 minutes" in answer.json()["message"]

    def test_an_unsigned_request_gets_401(self, world, signed_portal):
        url = world.webhook_url(signed_portal, "contact.created")

        answer = requests.post(url, json={"vid": 51}, timeout=10)

        assert answer.status_code == 401

    def test_a_malformed_body_gets_400(self, world, signed_portal):
        answer = self.post(world, signed_portal, b'"no object here"')

        assert answer.status_code == 400
        assert world.events(signed_portal) == []

    def test_an_unknown_token_gets_404(self, world, signed_portal):
        url = world.url + "/hooks/hubspot/not-a-token-anyone-issued"

        answer = requests.post(url, json={"vid": 51}, timeout=10)

        assert answer.status_code == 404

    def test_a_body_from_another_portal_gets_401(self, world, signed_portal):
        body = self.body(signed_portal).replace(
            signed_portal.portal_id.encode(), b"12345"
        )

        answer = self.post(world, signed_portal, body)

        assert answer.status_code == 401
