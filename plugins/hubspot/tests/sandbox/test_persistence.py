"""The sandbox keeps its state in its database: restarts and several processes."""

from __future__ import annotations

import threading

from flask import Flask

from hub.sandbox import create_sandbox_app
from hub.testing.server import serve, test_config


def test_state_survives_a_restart(tmp_path, serve_sandbox):
    with serve_sandbox(tmp_path) as first:
        portal = first.portal()
        created = portal.post(
            "/crm/v3/objects/contacts", json={"properties": {"firstname": "Kept"}}
        ).json()

    with serve_sandbox(tmp_path) as second:
        read = second.portal_for(portal.account).get(
            f"/crm/v3/objects/contacts/{created['id']}"
        )

    assert read.status_code == 200
    assert read.json()["properties"]["firstname"] == "Kept"


def test_two_servers_share_one_sandbox_and_its_limits(tmp_path, serve_sandbox):
    config = test_config(
        tmp_path, HUB_LOAD_ENTRY_POINTS=True, HUB_LOAD_PLUGINS=["hubspot"]
    )
    with (
        serve_sandbox(tmp_path) as with_hub,
        serve(lambda url: create_sandbox_app(config, public_url=url)) as alone,
    ):
        portal = with_hub.portal("free")
        url = f"{alone.config['HUB_SERVED_URL']}/_sandbox/hubspot"
        other = with_hub.portal_for(portal.account)
        other.base_url = url
        created = portal.post("/crm/v3/objects/contacts", json={"properties": {}})

        read = other.get(f"/crm/v3/objects/contacts/{created.json()['id']}")
        for _ in range(98):
            other.get("/account-info/v3/details")
        limited = portal.get("/account-info/v3/details")

    assert read.status_code == 200
    assert limited.status_code == 429


def test_a_queued_webhook_is_sent_after_a_restart(tmp_path, serve_sandbox, make_flow):
    received = threading.Event()
    target = Flask("target")

    @target.post("/hook")
    def hook():
        received.set()
        return "", 204

    with serve(lambda url: target) as target_app:
        with serve_sandbox(tmp_path) as first:
            first.app.extensions["carehub_hubspot.sandbox"].sender.stop()
            portal = first.portal("professional", operations_hub=True)
            flow = make_flow(isEnabled=True)
            hook_url = target_app.config["HUB_SERVED_URL"] + "/hook"
            flow["actions"][0]["webhookUrl"] = hook_url
            assert portal.post("/automation/v4/flows", json=flow).status_code == 201
            portal.post("/crm/v3/objects/contacts", json={"properties": {}})
            assert not received.wait(0.7)

        with serve_sandbox(tmp_path):
            assert received.wait(10)
