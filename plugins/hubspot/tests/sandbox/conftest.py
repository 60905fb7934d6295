"""Fixtures that serve the HubSpot sandbox over HTTP and talk to it."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests

import hub
from hub.testing.control import SandboxControl
from hub.testing.server import serve, test_config


class Portal:
    """A sandbox portal and a session that calls the API with its token."""

    def __init__(self, base_url: str, account: dict) -> None:
        self.base_url = base_url
        self.account = account
        self.token = account["token"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """Call the sandbox's API with this portal's token."""
        return self.session.request(method, self.base_url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


class Sandbox:
    """A served HubSpot sandbox: its URL, its control API and a portal factory."""

    def __init__(self, app) -> None:
        self.app = app
        self.url = app.config["HUB_SERVED_URL"] + "/_sandbox/hubspot"
        self.control = SandboxControl(self.url)

    def portal(self, tier: str = "professional", **extra) -> Portal:
        """Create an account in the sandbox; return a portal that calls it."""
        account = self.control.create_account("Sunrise Care", tier, **extra)
        return Portal(self.url, account)

    def portal_for(self, account: dict) -> Portal:
        """Return a portal for an account made earlier, perhaps by another server."""
        return Portal(self.url, account)

    def wait_for(self, predicate: Callable[[], object], seconds: float = 10) -> object:
        """Return the first truthy answer of ``predicate``, polling briefly."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.02)
        raise AssertionError("The sandbox did not get there in time.")

    def deliveries(self, portal: Portal) -> list[dict]:
        """Return the workflow webhooks the sandbox queued or sent for a portal."""
        response = requests.get(
            f"{self.url}/_control/deliveries",
            params={"account": portal.account["account"]},
            timeout=30,
        )
        return response.json()["results"]


def make_app(tmp_path, url: str, **overrides):
    """Return a hub app with only the HubSpot connector and the sandboxes on."""
    return hub.create_app(
        test_config(
            tmp_path,
            HUB_SANDBOX=True,
            HUB_LOAD_ENTRY_POINTS=True,
            HUB_LOAD_PLUGINS=["hubspot"],
            HUB_PUBLIC_URL=url,
            **overrides,
        )
    )


@pytest.fixture
def serve_sandbox():
    """Return a context manager that serves a sandbox kept in a given folder."""

    @contextmanager
    def serve_in(folder, **overrides) -> Iterator[Sandbox]:
        with serve(lambda url: make_app(folder, url, **overrides)) as app:
            yield Sandbox(app)

    return serve_in


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve the HubSpot sandbox on a free port for one test module."""
    tmp_path = tmp_path_factory.mktemp("hubspot-sandbox")
    with serve(lambda url: make_app(tmp_path, url)) as app:
        yield app


@pytest.fixture
def sandbox(served):
    """Return the module's served sandbox, emptied for this test."""
    found = Sandbox(served)
    found.control.reset()
    return found


@pytest.fixture
def portal(sandbox) -> Portal:
    """Return a Professional portal with Operations Hub in a served sandbox."""
    return sandbox.portal("professional", operations_hub=True)


#: A contact workflow as the workflows API takes it, enrolling every new contact.
CONTACT_FLOW = {
    "type": "CONTACT_FLOW",
    "objectTypeId": "0-1",
    "flowType": "WORKFLOW",
    "name": "ClearCare Contact Workflow",
    "isEnabled": False,
    "startActionId": "1",
    "actions": [
        {
            "type": "WEBHOOK",
            "actionId": "1",
            "method": "POST",
            "webhookUrl": "https://hub.example.com/hooks/hubspot/abc",
            "queryParams": [
                {
                    "name": "objectId",
                    "value": {
                        "type": "OBJECT_PROPERTY",
                        "propertyName": "hs_object_id",
                    },
                }
            ],
            "authSettings": {"type": "SIGNATURE", "appId": 123},
        }
    ],
    "enrollmentCriteria": {
        "type": "LIST_BASED",
        "shouldReEnroll": False,
        "unEnrollObjectsNotMeetingCriteria": False,
        "reEnrollmentTriggersFilterBranches": [],
        "listFilterBranch": {
            "filterBranchType": "OR",
            "filterBranches": [
                {
                    "filterBranchType": "AND",
                    "filterBranches": [],
                    "filters": [
                        {
                            "filterType": "PROPERTY",
                            "property": "hs_object_id",
                            "operation": {"operationType": "ALL_PROPERTY",
                                          "operator": "IS_KNOWN"},
                        }
                    ],
                }
            ],
            "filters": [],
        },
    },
    "blockedDates": [],
    "timeWindows": [],
    "customProperties": {},
    "dataSources": [],
    "suppressionListIds": [],
    "canEnrollFromSalesforce": False,
}  # fmt: skip


@pytest.fixture
def make_flow():
    """Return a factory of valid contact workflow bodies, with overrides applied."""

    def make(**overrides) -> dict:
        flow = copy.deepcopy(CONTACT_FLOW)
        flow.update(overrides)
        return flow

    return make
