"""A hub with two in-memory connectors, and helpers to drive it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from memory_connectors import MemoryCare, MemorySales, webhook_body

from hub import create_app
from hub.extensions import db
from hub.models import Agency, Connection, Event, Location, SyncLink
from hub.settings import save_settings
from hub.sync.clock import ManualClock, SystemClock
from hub.testing.server import test_config

KEY = "memory-key-for-tests-0001"


@dataclass
class Hub:
    """The hub under test, its two fake vendors, and helpers to drive them."""

    app: object
    client: object
    clock: ManualClock
    sales: MemorySales
    care: MemoryCare
    agency_id: int
    urls: dict

    @property
    def dispatcher(self):
        return self.app.extensions["hub.dispatcher"]

    def deliver(self, *connectors) -> list[int]:
        """Post every queued webhook of the connectors to the hub; return the
        number stored by each request."""
        stored = []
        for connector in connectors or (self.sales, self.care):
            outbox, connector.remote.outbox = connector.remote.outbox, []
            for item in outbox:
                url = self.urls[(connector.name, item["purpose"])]
                answer = self.client.post(
                    url,
                    data=webhook_body(item),
                    headers={"X-Key": KEY, "Content-Type": "application/json"},
                )
                assert answer.status_code == 200, answer.get_data(as_text=True)
                stored.append(answer.get_json()["stored"])
        return stored

    def run(self) -> int:
        """Run every event that is due now."""
        return self.dispatcher.drain()

    def sync(self, rounds: int = 10) -> None:
        """Deliver webhooks and run events until both sides are quiet."""
        for _ in range(rounds):
            stored = sum(self.deliver())
            ran = self.run()
            if not stored and not ran:
                return

    def events(self) -> list[Event]:
        with self.app.app_context():
            rows = db.session.scalars(sa.select(Event).order_by(Event.id)).all()
            db.session.expunge_all()
            return rows

    def links(self) -> list[SyncLink]:
        with self.app.app_context():
            rows = db.session.scalars(sa.select(SyncLink).order_by(SyncLink.id)).all()
            for link in rows:
                link.refs  # noqa: B018 - loads the refs before the session closes
            db.session.expunge_all()
            return rows

    def set_agency(self, **settings) -> None:
        with self.app.app_context():
            agency = db.session.get(Agency, self.agency_id)
            agency.settings = {**agency.settings, **settings}
            db.session.commit()

    def add_locations(self, *pairs) -> None:
        with self.app.app_context():
            agency = db.session.get(Agency, self.agency_id)
            for remote_id, name in pairs:
                agency.locations.append(Location(remote_id=remote_id, name=name))
            db.session.commit()


def make_hub(tmp_path, **config) -> Hub:
    """Return a hub whose database is ready, with agency 'sunrise' connected to both
    fake vendors."""
    # The clock starts a day ahead, so events the ingress stores (stamped with the
    # real time) are due at once.
    clock = ManualClock(SystemClock().now() + timedelta(days=1))
    sales, care = MemorySales(), MemoryCare()
    settings = {
        "HUB_PLUGINS": [sales, care],
        "HUB_SYNC_CLOCK": clock,
        "HUB_RETRY_SCHEDULE": "30,120,600",
        # Events run when a test says so; the echo's settling has tests of its own.
        "HUB_ECHO_SETTLE_SECONDS": 0,
        **config,
    }
    app = create_app(test_config(tmp_path, **settings))
    urls = {}
    with app.app_context():
        db.create_all()
        agency = Agency(slug="sunrise", name="Sunrise Home Care", settings={})
        db.session.add(agency)
        facade = app.extensions["hub.connectors"]
        for connector in (sales, care):
            connection = Connection(
                agency=agency, connector=connector.name, settings={}
            )
            save_settings(connection, facade.info(connector.name), {"api_key": KEY})
            db.session.add(connection)
            db.session.flush()
            for purpose in connector.purposes:
                url = connection.webhook_url(purpose)
                urls[(connector.name, purpose)] = url.removeprefix(
                    app.config["HUB_PUBLIC_URL"]
                )
        db.session.commit()
        agency_id = agency.id

    return Hub(app, app.test_client(), clock, sales, care, agency_id, urls)
