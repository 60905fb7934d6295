"""Fixtures for the ClearCare connector's tests: a served hub with the ClearCare
sandbox mounted, an agency connected to a sandbox account, and the facade."""

from __future__ import annotations

import uuid

import pytest

from hub import create_app
from hub.extensions import db
from hub.models import Agency, Connection
from hub.testing.control import SandboxControl
from hub.testing.server import serve, test_config


@pytest.fixture(scope="module")
def hub_app(tmp_path_factory):
    """Serve a hub with the ClearCare connector and its sandbox; yield the app.

    One hub serves a whole test module; each test works in agencies and sandbox
    accounts of its own.
    """
    tmp_path = tmp_path_factory.mktemp("hub")

    def make(url):
        return create_app(
            test_config(
                tmp_path,
                HUB_SANDBOX=True,
                HUB_LOAD_ENTRY_POINTS=True,
                HUB_LOAD_PLUGINS=["clearcare"],
                HUB_PUBLIC_URL=url,
                HUB_CLEARCARE_TIMEOUT=5,
                HUB_CLEARCARE_RATE=1000,
            )
        )

    with serve(make) as app:
        with app.app_context():
            db.create_all()
        yield app


@pytest.fixture(scope="module")
def sandbox_url(hub_app) -> str:
    """Return the root of the served ClearCare sandbox."""
    return hub_app.config["HUB_SERVED_URL"] + "/_sandbox/clearcare"


@pytest.fixture(scope="module")
def control(sandbox_url):
    """Return the sandbox's control API client."""
    control = SandboxControl(sandbox_url)
    yield control
    control.session.close()


@pytest.fixture
def account(control) -> dict:
    """Return the credentials of a new sandbox agency."""
    return control.create_account("Sunrise Care")


@pytest.fixture
def app_ctx(hub_app):
    """Push an app context, as the core does around every hook."""
    with hub_app.app_context():
        yield hub_app


def add_agency(account: dict, slug: str = "sunrise", **settings) -> Agency:
    """Store an agency connected to a sandbox account; return it, committed.

    The slug gets the sandbox agency id, to stay unique in the module's hub.
    """
    slug = f"{slug}-{account['agency_id']}-{uuid.uuid4().hex[:4]}"
    agency = Agency(slug=slug, name=slug.title(), settings=settings)
    connection = Connection(
        connector="clearcare",
        settings={"client_id": account["client_id"], "agency_id": account["agency_id"]},
    )
    connection.credentials = {"client_secret": account["client_secret"]}
    agency.connections.append(connection)
    db.session.add(agency)
    db.session.commit()
    return agency


@pytest.fixture
def make_agency(app_ctx):
    """Return ``add_agency``, to store more agencies in a test."""
    return add_agency


@pytest.fixture
def agency(app_ctx, account) -> Agency:
    """Return an agency whose ClearCare connection opens the sandbox account."""
    return add_agency(account)


@pytest.fixture
def connection(agency) -> Connection:
    """Return the agency's ClearCare connection."""
    return agency.connection("clearcare")


@pytest.fixture
def connectors(app_ctx):
    """Return the hub's facade over the connector hooks."""
    return app_ctx.extensions["hub.connectors"]
