"""The ClearCare sandbox served alone, as ``flask hub sandbox`` serves it."""

from __future__ import annotations

import requests

from hub.sandbox import create_sandbox_app
from hub.testing.control import SandboxControl
from hub.testing.server import serve, test_config


def test_sandbox_serves_alone_with_its_control_api(tmp_path):
    config = test_config(
        tmp_path, HUB_LOAD_ENTRY_POINTS=True, HUB_LOAD_PLUGINS=["clearcare"]
    )

    with serve(lambda url: create_sandbox_app(config, public_url=url)) as app:
        root = app.config["HUB_SERVED_URL"] + "/_sandbox/clearcare"
        control = SandboxControl(root)
        account = control.create_account("Alone Care")
        token = requests.post(
            f"{root}/oauth/accesstoken",
            data={
                "grant_type": "client_credentials",
                "client_id": account["client_id"],
                "client_secret": account["client_secret"],
            },
            timeout=10,
        ).json()["access_token"]
        organizations = requests.get(
            f"{root}/v1/organizations/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        control.session.close()

    assert organizations["entry"][0]["resource"]["name"] == "Alone Care"
    assert account["account"] == account["agency_id"]
