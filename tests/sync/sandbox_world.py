"""The hub against the real connectors and their sandboxes, over HTTP.

The sandboxes run in their own process (``flask --app wsgi hub sandbox``); the hub is
served in a thread of the test process with the HubSpot and ClearCare connectors
loaded through their entry points, so the sandboxes' webhooks reach it over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa

from hub import create_app
from hub.extensions import db
from hub.models import Agency, Connection, Event, Location, SyncLink
from hub.settings import save_settings
from hub.sync import enqueue_provisioning
from hub.testing.control import SandboxControl
from hub.testing.server import SandboxProcess, test_config

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
HUBSPOT = "/_sandbox/hubspot"
CLEARCARE = "/_sandbox/clearcare"
API = "/crm/objects/2026-09"


def wait_for(check, timeout: float = 20.0, every: float = 0.1):
    """Return ``check()``'s first true answer, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {check}.")
        time.sleep(every)


def hub_settings(tmp: Path, sandbox_url: str, public_url: str) -> dict:
    """Return the hub's settings: both connectors, pointed at the sandbox process."""
    return test_config(
        tmp,
        HUB_PUBLIC_URL=public_url,
        HUB_LOAD_ENTRY_POINTS=True,
        HUB_LOAD_PLUGINS=["hubspot", "clearcare"],
        HUB_HUBSPOT_BASE_URL=sandbox_url + HUBSPOT,
        HUB_CLEARCARE_BASE_URL=sandbox_url + CLEARCARE,
        HUB_RETRY_SCHEDULE="0.2,0.4,0.8,1.6",
        HUB_RETRY_RATE_LIMIT_WAIT=0.2,
        HUB_LEASE_SECONDS=2,
        HUB_WORKER_POLL_SECONDS=0.5,
    )


def make_hub(tmp: Path, sandbox_url: str):
    """Return a factory of the hub app for ``serve``."""

    def make(url):
        app = create_app(hub_settings(tmp, sandbox_url, url))
        with app.app_context():
            db.create_all()
        return app

    return make


class SandboxClock:
    """A clock for the HubSpot client that moves only when the client sleeps, and
    moves the sandbox's clock with it, so rate-limit windows pass at once."""

    def __init__(self, control: SandboxControl, start: float) -> None:
        self.control = control
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept.append(seconds)
        self.control.advance_clock(seconds)


@dataclass
class Tenant:
    """One agency of the hub, with its sandbox accounts."""

    agency_id: int
    token: str
    portal_id: str
    clearcare: dict


class World:
    """Drives the hub, the sandboxes and the agencies of one test module."""

    def __init__(self, app, sandbox: SandboxProcess) -> None:
        self.app = app
        self.sandbox = sandbox
        self.hubspot = SandboxControl(sandbox.url + HUBSPOT)
        self.clearcare = SandboxControl(sandbox.url + CLEARCARE)
        self.http = requests.Session()

    @property
    def dispatcher(self):
        return self.app.extensions["hub.dispatcher"]

    def close(self) -> None:
        for session in (self.hubspot.session, self.clearcare.session, self.http):
            session.close()

    # -- agencies ---------------------------------------------------------------

    def new_tenant(self, locations: tuple[str, ...] = ("Main Office",), **settings):
        """Make sandbox accounts and a provisioned agency; return the tenant."""
        name = f"Agency {uuid.uuid4().hex[:6]}"
        portal = self.hubspot.create_account(name, "professional", operations_hub=True)
        care = self.clearcare.create_account(name, locations=list(locations))
        with self.app.app_context():
            agency = Agency(slug=name.lower().replace(" ", "-"), name=name)
            agency.settings = dict(settings)
            facade = self.app.extensions["hub.connectors"]
            hubspot = Connection(agency=agency, connector="hubspot", settings={})
            save_settings(
                hubspot, facade.info("hubspot"), {"access_token": portal["token"]}
            )
            clearcare = Connection(agency=agency, connector="clearcare", settings={})
            keys = ("client_id", "client_secret", "agency_id")
            save_settings(
                clearcare, facade.info("clearcare"), {k: care[k] for k in keys}
            )
            db.session.add(agency)
            db.session.commit()
            enqueue_provisioning(agency)
            agency_id = agency.id
        wait_for(lambda: self.provisioned(agency_id))

        return Tenant(agency_id, portal["token"], str(portal["portal_id"]), care)

    def provisioned(self, agency_id: int) -> bool:
        from hub.models import ProvisioningJob

        with self.app.app_context():
            job = db.session.scalar(
                sa.select(ProvisioningJob).where(ProvisioningJob.agency_id == agency_id)
            )
            assert job.status != "needs_attention", job.last_error
            return job.status == "done"

    def locations(self, tenant: Tenant) -> dict[str, str]:
        with self.app.app_context():
            rows = db.session.scalars(
                sa.select(Location).where(Location.agency_id == tenant.agency_id)
            )
            return {row.name: row.remote_id for row in rows}

    def state(self, tenant: Tenant, connector: str) -> dict:
        with self.app.app_context():
            agency = db.session.get(Agency, tenant.agency_id)
            return dict(agency.connection(connector).state)

    def stage(self, tenant: Tenant, status) -> str:
        return self.state(tenant, "hubspot")["stage_ids"][status.name]

    # -- the vendors' APIs, as their users call them -----------------------------

    def hs(self, tenant: Tenant, method: str, path: str, **kwargs):
        answer = self.http.request(
            method,
            self.sandbox.url + HUBSPOT + path,
            headers={"Authorization": f"Bearer {tenant.token}"},
            timeout=30,
            **kwargs,
        )
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def cc(self, tenant: Tenant, method: str, path: str, **kwargs):
        token = self.http.post(
            self.sandbox.url + CLEARCARE + "/oauth/accesstoken",
            json={
                "grant_type": "client_credentials",
                "client_id": tenant.clearcare["client_id"],
                "client_secret": tenant.clearcare["client_secret"],
            },
            timeout=30,
        ).json()["access_token"]
        answer = self.http.request(
            method,
            self.sandbox.url + CLEARCARE + path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            **kwargs,
        )
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def new_contact(self, tenant: Tenant, **properties) -> str:
        return self.hs(
            tenant, "POST", f"{API}/contacts", json={"properties": properties}
        )["id"]

    def contact(self, tenant: Tenant, contact_id: str) -> dict:
        names = "firstname,lastname,email,phone,city,clearcare_prospect_id"
        return self.hs(
            tenant, "GET", f"{API}/contacts/{contact_id}", params={"properties": names}
        )["properties"]

    def deals(self, tenant: Tenant) -> list[dict]:
        names = "dealname,dealstage,carehub_link_id"
        found = self.hs(
            tenant, "GET", f"{API}/deals", params={"properties": names, "limit": 100}
        )
        return found["results"]

    def linked(self, tenant: Tenant, kind: str) -> list[str]:
        """Return the remote ids of one kind the hub's links hold, once settled."""
        if not self.settled(tenant):
            return []
        return [
            ref.remote_id
            for link in self.links(tenant)
            for ref in link.refs
            if ref.kind == kind
        ]

    def deal(self, tenant: Tenant, deal_id: str) -> dict:
        return self.hs(
            tenant,
            "GET",
            f"{API}/deals/{deal_id}",
            params={"properties": "dealname,dealstage", "associations": "contacts"},
        )

    def patients(self, tenant: Tenant) -> list[dict]:
        found = self.cc(tenant, "GET", "/v1/patients/", params={"_count": 100})
        return [entry.get("resource", entry) for entry in found.get("entry") or []]

    def patient(self, tenant: Tenant, patient_id: str) -> dict:
        return self.cc(tenant, "GET", f"/v1/patients/{patient_id}/")

    def post_webhook(self, tenant: Tenant, purpose: str, body: dict) -> dict:
        """Post a HubSpot workflow webhook to the hub, as HubSpot would send it."""
        with self.app.app_context():
            agency = db.session.get(Agency, tenant.agency_id)
            url = agency.connection("hubspot").webhook_url(purpose)
            db.session.commit()
        answer = self.http.post(url, json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    # -- the hub's records ---------------------------------------------------------

    def events(self, tenant: Tenant) -> list[Event]:
        with self.app.app_context():
            rows = db.session.scalars(
                sa.select(Event)
                .where(Event.agency_id == tenant.agency_id)
                .order_by(Event.id)
            ).all()
            db.session.expunge_all()
            return rows

    def settled(self, tenant: Tenant) -> bool:
        """Return whether every event of the tenant has ended."""
        events = self.events(tenant)
        return bool(events) and all(
            e.status not in ("pending", "retry", "processing") for e in events
        )

    def links(self, tenant: Tenant) -> list[SyncLink]:
        with self.app.app_context():
            rows = db.session.scalars(
                sa.select(SyncLink).where(SyncLink.agency_id == tenant.agency_id)
            ).all()
            for link in rows:
                link.refs  # noqa: B018 - loads the refs before the session closes
            db.session.expunge_all()
            return rows


def worker_process(tmp: Path, sandbox_url: str, public_url: str, log: Path):
    """Start ``flask --app wsgi hub worker`` on the hub's database; return it."""
    settings = hub_settings(tmp, sandbox_url, public_url)
    env = {
        **os.environ,
        "HUB_INSTANCE_PATH": settings["HUB_INSTANCE_PATH"],
        "HUB_DATABASE_URL": settings["HUB_DATABASE_URL"],
        "HUB_PUBLIC_URL": public_url,
        "HUB_LOAD_PLUGINS": "hubspot,clearcare",
        "HUB_HUBSPOT_BASE_URL": sandbox_url + HUBSPOT,
        "HUB_CLEARCARE_BASE_URL": sandbox_url + CLEARCARE,
        "HUB_RETRY_SCHEDULE": "0.2,0.4,0.8,1.6",
        "HUB_LEASE_SECONDS": "2",
        "HUB_WORKER_POLL_SECONDS": "0.2",
    }
    with log.open("a") as out:
        return subprocess.Popen(
            [FLASK, "--app", "wsgi", "hub", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def kill(process: subprocess.Popen) -> None:
    """Kill a process as ``kill -9`` does, and reap it."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
