"""The demo: the hub and both sandboxes served in one process, one agency kept in
sync while people work on both sides, and a table that compares the two.

``flask --app wsgi hub demo --contacts N`` needs nothing running beforehand: it
serves the sandboxes and the hub on free loopback ports, on a fresh database.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

from hub.canonical import ProspectStatus
from hub.demo.compare import CONTACTS, Row, compare_agency, render_table
from hub.errors import ConfigurationError
from hub.extensions import db
from hub.models import Agency, Connection, Event, ProvisioningJob, SyncLink
from hub.settings import save_settings
from hub.testing.control import SandboxControl
from hub.testing.server import serve

log = logging.getLogger(__name__)

HUBSPOT = "/_sandbox/hubspot"
CLEARCARE = "/_sandbox/clearcare"
DEALS = "/crm/objects/2026-09/deals"
SLUG = "demo"
FIRST = ("Ada", "Grace", "Mary", "Emmy", "Rosalind", "Katherine", "Hedy", "Lise")
LAST = ("Lovelace", "Hopper", "Somerville", "Noether", "Franklin", "Johnson", "Meitner")
WAITING = ("pending", "retry", "processing")


def database_url(database: str | None, tmp: Path) -> str:
    """Return the URL of the demo's database: a fresh file unless one is named."""
    if not database:
        return f"sqlite:///{tmp / 'demo.sqlite'}"
    if "://" in database:
        return database
    return f"sqlite:///{Path(database).resolve()}"


def refuse_non_empty(url: str) -> None:
    """Refuse a database that holds any rows, so the demo never mixes with data.

    :raises ConfigurationError: naming the database and what to do instead.
    """
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                if table == "alembic_version":
                    continue
                rows = conn.execute(sa.text(f'SELECT 1 FROM "{table}" LIMIT 1'))
                if rows.first() is not None:
                    raise ConfigurationError(
                        f"The database {engine.url.render_as_string()} already holds "
                        f"data (table {table}); give the demo an empty database or "
                        "leave out --database for a fresh one."
                    )
    finally:
        engine.dispose()


@dataclass
class Demo:
    """One run of the demo: the served hub, the sandboxes, and the agency's people."""

    app: object
    sandbox_url: str
    say: Callable[[str], None]
    http: requests.Session = field(default_factory=requests.Session)
    token: str = ""
    care: dict = field(default_factory=dict)
    agency_id: int = 0
    slug: str = SLUG
    locations: tuple[str, ...] = ("Main Office", "North Branch")

    @property
    def hubspot(self) -> SandboxControl:
        return SandboxControl(self.sandbox_url + HUBSPOT, self.http)

    @property
    def clearcare(self) -> SandboxControl:
        return SandboxControl(self.sandbox_url + CLEARCARE, self.http)

    # -- setting up --------------------------------------------------------------

    def connect_agency(self) -> None:
        """Make sandbox accounts, the agency ``demo`` and its two connections."""
        portal = self.hubspot.create_account(
            "Demo Home Care", "professional", operations_hub=True
        )
        self.care = self.clearcare.create_account(
            "Demo Home Care", locations=list(self.locations)
        )
        self.token = portal["token"]
        with self.app.app_context():
            facade = self.app.extensions["hub.connectors"]
            agency = Agency(slug=self.slug, name="Demo Home Care", settings={})
            hubspot = Connection(agency=agency, connector="hubspot", settings={})
            save_settings(hubspot, facade.info("hubspot"), {"access_token": self.token})
            clearcare = Connection(agency=agency, connector="clearcare", settings={})
            keys = ("client_id", "client_secret", "agency_id")
            save_settings(
                clearcare, facade.info("clearcare"), {k: self.care[k] for k in keys}
            )
            db.session.add(agency)
            db.session.commit()
            self.agency_id = agency.id
        self.say(
            f"Agency {self.slug!r}: HubSpot portal {portal['portal_id']}, ClearCare "
            f"agency {self.care['agency_id']}."
        )

    def provision(self, timeout: float) -> None:
        """Provision both connections through the sync worker and wait for it."""
        from hub.sync import enqueue_provisioning

        with self.app.app_context():
            enqueue_provisioning(db.session.get(Agency, self.agency_id))
        self.wait("provisioning", self.provisioned, timeout)
        self.say("Provisioned ClearCare, then HubSpot (pipeline, properties, flows).")

    def provisioned(self) -> bool:
        with self.app.app_context():
            job = db.session.scalar(
                sa.select(ProvisioningJob).filter_by(agency_id=self.agency_id)
            )
            if job.status == "needs_attention":
                raise ConfigurationError(f"Provisioning failed: {job.last_error}")
            return job.status == "done"

    # -- people at work on both sides -----------------------------------------------

    def create_contacts(self, count: int) -> None:
        """Create contacts in HubSpot as its users would; its workflows fire."""
        with self.app.app_context():
            agency = db.session.get(Agency, self.agency_id)
            locations = [location.remote_id for location in agency.locations]
        for n in range(count):
            first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
            properties = {
                "firstname": first,
                "lastname": f"{last} {n + 1}",
                "email": f"{first}.{last}.{n + 1}@demo.example".lower(),
                "phone": f"303555{n + 1:04d}",
                "city": "Denver",
                "clearcare_location": locations[n % len(locations)],
            }
            self.hs("POST", CONTACTS, json={"properties": properties})
        self.say(f"Created {count} contacts in HubSpot.")

    def move_deals(self, links: list[dict], statuses: list[ProspectStatus]) -> None:
        """Move the deals of some people through stages, one stage at a time."""
        with self.app.app_context():
            agency = db.session.get(Agency, self.agency_id)
            stages = agency.connection("hubspot").state["stage_ids"]
        for status in statuses:
            for link in links:
                body = {"properties": {"dealstage": stages[status.name]}}
                self.hs("PATCH", f"{DEALS}/{link['deal']}", json=body)
            self.wait_settled(60)
        self.say(f"Moved {len(links)} deal(s) through {len(statuses)} stage(s).")

    def change_statuses(self, links: list[dict], status: ProspectStatus) -> None:
        """Change prospects' statuses in ClearCare as its users would."""
        for link in links:
            self.clearcare.verb(
                "prospect_status",
                {"patient_id": link["patient"], "status": status.value},
            )
        self.say(f"Changed {len(links)} status(es) in ClearCare to {status.value}.")

    def change_fields(self, links: list[dict]) -> None:
        """Change prospects' city and phone in ClearCare."""
        token = self.cc_token()
        for n, link in enumerate(links):
            path = f"{self.sandbox_url}{CLEARCARE}/v1/patients/{link['patient']}/"
            headers = {"Authorization": f"Bearer {token}"}
            resource = self.http.get(path, headers=headers, timeout=30).json()
            address = (resource.get("address") or [{}])[0]
            resource["address"] = [{**address, "city": "Boulder"}]
            phone = {"system": "phone", "value": f"720555{n + 1:04d}", "use": "home"}
            resource["telecom"] = [
                *[t for t in resource.get("telecom") or [] if t["system"] != "phone"],
                phone,
            ]
            answer = self.http.put(path, json=resource, headers=headers, timeout=30)
            answer.raise_for_status()
        self.say(
            f"Changed the city and phone of {len(links)} prospect(s) in ClearCare."
        )

    # -- the vendors' APIs ---------------------------------------------------------

    def hs(self, method: str, path: str, **kwargs) -> dict:
        answer = self.http.request(
            method,
            self.sandbox_url + HUBSPOT + path,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kwargs,
        )
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def cc_token(self) -> str:
        answer = self.http.post(
            self.sandbox_url + CLEARCARE + "/oauth/accesstoken",
            json={
                "grant_type": "client_credentials",
                "client_id": self.care["client_id"],
                "client_secret": self.care["client_secret"],
            },
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    # -- waiting for the hub ----------------------------------------------------

    def links(self) -> list[dict]:
        """Return each linked person's contact, deal and patient ids, in order."""
        with self.app.app_context():
            rows = db.session.scalars(
                sa.select(SyncLink)
                .filter_by(agency_id=self.agency_id)
                .order_by(SyncLink.id)
            ).all()
            found = [{ref.kind: ref.remote_id for ref in row.refs} for row in rows]
        return [ids for ids in found if {"contact", "deal", "patient"} <= set(ids)]

    def settled(self) -> bool:
        with self.app.app_context():
            waiting = db.session.scalar(
                sa.select(sa.func.count(Event.id)).where(
                    Event.agency_id == self.agency_id, Event.status.in_(WAITING)
                )
            )
        return waiting == 0

    def wait_settled(self, timeout: float) -> None:
        # The vendors send their webhooks from background threads, so the inbox
        # must stay quiet for a moment before the hub counts as caught up.
        def quiet() -> bool:
            if not self.settled():
                return False
            time.sleep(0.5)
            return self.settled()

        self.wait("the hub to catch up", quiet, timeout)

    def wait(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Gave up waiting for {what} after {timeout:.0f} s.")
            time.sleep(0.2)

    def compare(self) -> list[Row]:
        with self.app.app_context():
            agency = db.session.get(Agency, self.agency_id)
            return compare_agency(agency, self.links(), self.hs)


def keys() -> dict[str, str]:
    """Return a secret key and an encryption key for one run's apps, which keep
    nothing beyond it."""
    return {
        "HUB_SECRET_KEY": secrets.token_urlsafe(48),
        "HUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


@contextmanager
def quiet_request_log() -> Iterator[None]:
    """Keep the servers' line for each request out of what the demo prints."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def serve_sandboxes(tmp: Path) -> Iterator[object]:
    """Serve both sandboxes on a free loopback port, with their own database."""
    from hub.sandbox import create_sandbox_app

    config = {
        "HUB_INSTANCE_PATH": str(tmp / "sandbox-instance"),
        **keys(),
        "HUB_DATABASE_URL": f"sqlite:///{tmp / 'sandbox-hub.sqlite'}",
        "HUB_SANDBOX_DATABASE_URL": f"sqlite:///{tmp / 'sandbox.sqlite'}",
        "HUB_LOAD_PLUGINS": ["hubspot", "clearcare"],
    }
    with serve(lambda url: create_sandbox_app(config, public_url=url)) as app:
        yield app


@contextmanager
def serve_hub(
    tmp: Path, url: str, sandbox_url: str, settings: dict | None = None
) -> Iterator[object]:
    """Serve the hub on a free loopback port, its database migrated and its worker
    and reconciliation running, its connectors pointed at the sandboxes.

    :param sandbox_url: where the sandboxes answer.
    :param settings: settings to use instead of the demo's own.
    """
    from flask_migrate import upgrade

    from hub import create_app

    config = {
        "HUB_INSTANCE_PATH": str(tmp / "instance"),
        **keys(),
        "HUB_DATABASE_URL": url,
        "HUB_SANDBOX": False,
        "HUB_WORKER": False,
        "HUB_LOAD_PLUGINS": ["hubspot", "clearcare"],
        "HUB_HUBSPOT_BASE_URL": sandbox_url + HUBSPOT,
        "HUB_CLEARCARE_BASE_URL": sandbox_url + CLEARCARE,
        "HUB_RECONCILE_SECONDS": 30,
        **(settings or {}),
    }

    def make(public_url: str):
        app = create_app({**config, "HUB_PUBLIC_URL": public_url})
        # The migrations' own logging would print a line for each of them.
        logging.disable(logging.INFO)
        try:
            with app.app_context():
                upgrade()
        finally:
            logging.disable(logging.NOTSET)
        return app

    with serve(make) as app:
        app.extensions["hub.dispatcher"].start()
        app.extensions["hub.reconciler"].start()
        yield app


def run(contacts: int, database: str | None, say, timeout: float = 300) -> bool:
    """Run the demo; print as it goes and the table at the end; return whether
    every person agrees on both sides."""
    with tempfile.TemporaryDirectory(prefix="carehub-demo-") as folder:
        tmp = Path(folder)
        url = database_url(database, tmp)
        if database:
            refuse_non_empty(url)
        with (
            quiet_request_log(),
            serve_sandboxes(tmp) as sandbox_app,
            serve_hub(tmp, url, sandbox_app.config["HUB_SERVED_URL"]) as app,
        ):
            demo = Demo(app, sandbox_app.config["HUB_SERVED_URL"], say)
            try:
                return drive(demo, contacts, timeout)
            finally:
                app.extensions["hub.reconciler"].stop()
                app.extensions["hub.dispatcher"].stop()
                demo.http.close()
                with app.app_context():
                    db.engine.dispose()


def drive(demo: Demo, contacts: int, timeout: float) -> bool:
    """Do the demo's steps on served apps; return whether both sides agree."""
    demo.say(
        f"The hub serves on {demo.app.config['HUB_SERVED_URL']}, the sandboxes "
        f"on {demo.sandbox_url}."
    )
    demo.connect_agency()
    demo.provision(timeout)
    demo.create_contacts(contacts)
    demo.wait(
        "every contact's prospect and deal",
        lambda: len(demo.links()) >= contacts,
        timeout,
    )
    demo.wait_settled(timeout)
    links = demo.links()
    demo.move_deals(
        links[0::3],
        [ProspectStatus.INITIAL_PHONE_CALL, ProspectStatus.ASSESSMENT_SCHEDULED],
    )
    demo.change_statuses(links[1::3], ProspectStatus.ASSESSMENT_PERFORMED)
    demo.change_fields(links[2::3])
    demo.wait_settled(timeout)

    rows = demo.compare()
    deadline = time.monotonic() + 30
    while not all(row.agrees for row in rows) and time.monotonic() < deadline:
        time.sleep(1)
        demo.wait_settled(timeout)
        rows = demo.compare()
    for line in render_table(rows):
        demo.say(line)
    agreeing = sum(row.agrees for row in rows)
    demo.say(f"in sync: {agreeing}/{contacts}")

    return agreeing == contacts == len(rows)
