"""Fixtures for the admin web: an app with a care and a sales connector of its own,
agencies with admins, and a client that signs in and sends CSRF tokens."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from marshmallow import Schema, fields
from werkzeug.security import generate_password_hash

from hub import (
    AgencyFacts,
    Connected,
    ConnectorInfo,
    Direction,
    LocationInfo,
    ProspectStatus,
    Role,
    create_app,
    hookimpl,
)
from hub.errors import AuthenticationFailed, NeedsAttention
from hub.extensions import db
from hub.models import Agency, AuditEntry, User
from hub.testing.server import test_config

#: Values that must never appear on a page, in a log line or in an error.
CARE_SECRET = "CANARY-care-secret-5d1e77"
SALES_TOKEN = "CANARY-sales-token-9a3c42"
SALES_TOKEN_NEW = "CANARY-sales-token-new-0f88b1"
SALES_APP_SECRET = "CANARY-app-secret-6c2d19"
PASSWORD = "correct horse battery"
CARE = {"client_id": "cc-client-1", "client_secret": CARE_SECRET, "agency_id": "77"}
SALES = {"access_token": SALES_TOKEN, "app_id": "", "client_secret": ""}
CANARIES = (CARE_SECRET, SALES_TOKEN, SALES_TOKEN_NEW, SALES_APP_SECRET, PASSWORD)
#: Hashed once: scrypt is slow on purpose.
PASSWORD_HASH = generate_password_hash(PASSWORD)


class CareSettings(Schema):
    client_id = fields.String(required=True, metadata={"label": "Client id"})
    client_secret = fields.String(
        required=True, metadata={"secret": True, "label": "Client secret"}
    )
    agency_id = fields.String(required=True, metadata={"label": "Agency id"})


class SalesSettings(Schema):
    access_token = fields.String(
        required=True, metadata={"secret": True, "label": "Access token"}
    )
    app_id = fields.String(load_default=None, metadata={"label": "App id"})
    client_secret = fields.String(
        load_default=None, metadata={"secret": True, "label": "App client secret"}
    )


class CareConnector:
    """A care system that knows one client and two locations."""

    @hookimpl
    def register_connectors(self, register):
        register(
            ConnectorInfo(
                name="ledger",
                label="Ledger Care",
                role=Role.CARE,
                settings_schema=CareSettings,
            )
        )

    @hookimpl
    def connect(self, connection):
        if connection.credentials.get("client_secret") != CARE_SECRET:
            raise AuthenticationFailed(
                "Ledger Care refused the client id and secret (401). Copy both "
                "again from Ledger Care and Connect."
            )
        return Connected(
            account=f"Ledger Care agency {connection.setting('agency_id')}",
            facts={"agency": connection.setting("agency_id")},
            agency_facts=AgencyFacts(
                locations=[
                    LocationInfo("1", "North office"),
                    LocationInfo("2", "South office"),
                ],
                required_fields=["first_name", "last_name", "phone"],
            ),
        )

    @hookimpl
    def provision(self, report):
        return None

    @hookimpl
    def map_status(self, connection, status, direction):
        overrides = connection.agency.status_overrides.get("ledger", {})
        ids = {
            s: overrides.get(s.label, str((s.position + 1) * 10))
            for s in ProspectStatus
        }
        unconfirmed = ProspectStatus.COLLECT_PAYMENT_INFORMATION
        if direction == Direction.FROM_NATIVE:
            return next((s for s, i in ids.items() if i == str(status)), None)
        if status is unconfirmed and unconfirmed.label not in overrides:
            raise NeedsAttention(
                "The Ledger Care id of Collect Payment Information is not confirmed."
            )
        return ids[status]


class SalesConnector:
    """A sales CRM whose deal workflow has to be made by hand."""

    def __init__(self) -> None:
        self.tokens = {SALES_TOKEN, SALES_TOKEN_NEW}
        self.fail_step: str | None = None

    @hookimpl
    def register_connectors(self, register):
        register(
            ConnectorInfo(
                name="tally",
                label="Tally CRM",
                role=Role.SALES,
                settings_schema=SalesSettings,
                webhook_purposes=(
                    "contact.created",
                    "contact.changed",
                    "deal.stage_changed",
                ),
                provision_steps=(
                    "pipeline",
                    "properties",
                    "contact_workflows",
                    "deal_workflow",
                ),
            )
        )

    @hookimpl
    def connect(self, connection):
        if connection.credentials.get("access_token") not in self.tokens:
            raise AuthenticationFailed(
                "Tally CRM refused the access token (401). Paste a new token and "
                "Connect."
            )
        return Connected(account="Tally portal 4471", facts={"portal_id": "4471"})

    @hookimpl
    def provision(self, report):
        for step in ("pipeline", "properties", "contact_workflows"):
            report(step, "running", "")
            if step == self.fail_step:
                report(step, "failed", f"Tally CRM refused the {step} (403).")
                raise AuthenticationFailed(f"Tally CRM refused the {step} (403).")
            report(step, "done", "")
        report("deal_workflow", "manual", "the portal's tier cannot create it.")

    @hookimpl
    def map_status(self, connection, status, direction):
        overrides = connection.agency.status_overrides.get("tally", {})
        ids = {s: overrides.get(s.label, f"stage-{s.position}") for s in ProspectStatus}
        if direction == Direction.FROM_NATIVE:
            return next((s for s, i in ids.items() if i == str(status)), None)
        return ids[status]


@pytest.fixture
def sales():
    """Return the inline sales connector, to change how it behaves."""
    return SalesConnector()


@pytest.fixture
def web_app(tmp_path, sales):
    """Return the hub with the two inline connectors and two agencies with admins.

    It is not named ``app``, so pytest-flask keeps no request context open across
    the requests of a test, as a real server would not.
    """
    app = create_app(test_config(tmp_path, HUB_PLUGINS=[CareConnector(), sales]))
    with app.app_context():
        db.create_all()
        for slug, name in (("sunrise", "Sunrise Home Care"), ("harbor", "Harbor Care")):
            agency = Agency(slug=slug, name=name, settings={})
            db.session.add(agency)
            db.session.add(
                User(
                    email=f"admin@{slug}.example",
                    password_hash=PASSWORD_HASH,
                    role="admin",
                    agency=agency,
                )
            )
        db.session.add(
            User(
                email="ops@hub.example",
                password_hash=PASSWORD_HASH,
                role="operator",
            )
        )
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A test client that signs in and sends the page's CSRF token with each form."""

    def __init__(self, client) -> None:
        self.client = client
        self.pages: list[str] = []
        self._token: str | None = None

    def token(self) -> str:
        """Return a CSRF token of the session, read from a page once per session."""
        if self._token is None:
            page = self.client.get("/signin").get_data(as_text=True)
            self._token = TOKEN.search(page).group(1)
        return self._token

    def get(self, url: str, **kwargs):
        answer = self.client.get(url, **kwargs)
        self.pages.append(answer.get_data(as_text=True))
        return answer

    def post(self, url: str, data: dict | None = None, **kwargs):
        form = {"csrf_token": self.token(), **(data or {})}
        answer = self.client.post(url, data=form, **kwargs)
        if url in ("/signin", "/signout"):
            # Both start a new session, and with it a new token.
            self._token = None
        self.pages.append(answer.get_data(as_text=True))
        return answer

    def sign_in(self, email: str, password: str = PASSWORD):
        return self.post("/signin", {"email": email, "password": password})


@pytest.fixture
def browser(web_app):
    """Return a client signed in as the admin of 'sunrise'."""
    browser = Browser(web_app.test_client())
    assert browser.sign_in("admin@sunrise.example").status_code == 302
    return browser


@pytest.fixture
def anonymous(web_app):
    """Return a client that has not signed in."""
    return Browser(web_app.test_client())


def run_worker(app) -> None:
    """Run what the worker would run now: provisioning jobs and events."""
    app.extensions["hub.dispatcher"].drain()


def actions(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
        return [(row.action, row.credential) for row in rows]


@pytest.fixture
def ready(web_app, browser):
    """Return the sunrise admin's client, with setup finished."""
    browser.post("/agencies/sunrise/setup/agreement", {"agree": "yes"})
    browser.post("/agencies/sunrise/setup/connect/ledger", CARE)
    browser.post(
        "/agencies/sunrise/setup/connect/tally",
        {**SALES, "app_id": "991", "client_secret": SALES_APP_SECRET},
    )
    browser.post("/agencies/sunrise/setup/configure")
    run_worker(web_app)
    browser.post("/agencies/sunrise/setup/webhooks")
    return browser


@pytest.fixture
def logs(caplog):
    """Capture every log line of the hub at INFO and above."""
    caplog.set_level(logging.INFO)
    return caplog
