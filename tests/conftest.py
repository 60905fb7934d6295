"""Fixtures for the core's tests: an app with an inline test connector."""

from __future__ import annotations

import hmac
import json

import pytest
from marshmallow import Schema, fields

from hub import (
    Applied,
    Change,
    ChangeBatch,
    ChangeKind,
    Connected,
    ConnectorInfo,
    Direction,
    Prospect,
    ProspectStatus,
    RecordPage,
    RecordRef,
    Role,
    create_app,
    hookimpl,
)
from hub.errors import MalformedEvent, VerificationFailed
from hub.extensions import db
from hub.models import Agency, Connection
from hub.settings import save_settings
from hub.testing.server import test_config


class PaperSettings(Schema):
    api_key = fields.String(required=True, metadata={"secret": True})
    region = fields.String(load_default="eu")


class PaperConnector:
    """A connector with no remote at all: its 'remote' is a dictionary in memory.

    It verifies webhooks by an ``X-Paper-Secret`` header equal to the connection's
    api key, and parses ``{"id": ..., "kind": ...}`` bodies.
    """

    name = "paper"

    def __init__(self) -> None:
        self.records: dict[str, Prospect] = {}
        self.calls: list[str] = []

    @hookimpl
    def register_connectors(self, register):
        register(
            ConnectorInfo(
                name=self.name,
                label="Paper CRM",
                role=Role.SALES,
                settings_schema=PaperSettings,
                webhook_purposes=("contact.created", "contact.changed"),
                provision_steps=("folder",),
            )
        )

    @hookimpl
    def connect(self, connector, connection):
        self.calls.append("connect")
        return Connected(account=f"Paper {connection.setting('region')}")

    @hookimpl
    def provision(self, connector, agency, connection, report):
        self.calls.append("provision")
        report("folder", "running", "")
        connection.update_state(folder=f"{agency.slug}-folder")
        report("folder", "done", "The folder is there.")

    @hookimpl
    def receive_event(self, connector, connection, inbound):
        self.calls.append("receive_event")
        given = inbound.header("X-Paper-Secret") or ""
        if not hmac.compare_digest(given, connection.credentials["api_key"]):
            raise VerificationFailed("The X-Paper-Secret header is wrong.")
        body = inbound.json()
        if not isinstance(body, dict) or "id" not in body:
            raise MalformedEvent("The body must be an object with an 'id'.")
        return [
            Change(
                kind=ChangeKind(body.get("kind", "updated")),
                ref=RecordRef("contact", str(body["id"])),
                dedup_key=body.get("delivery"),
                data={"raw": json.dumps(body)[:200]},
            )
        ]

    @hookimpl
    def fetch_record(self, connector, ref):
        self.calls.append("fetch_record")
        return self.records.get(ref.id)

    @hookimpl
    def map_status(self, status, direction):
        if direction == Direction.TO_NATIVE:
            return status.name.lower()
        return ProspectStatus[status.upper()]

    @hookimpl
    def apply_change(self, change):
        record_id = change.remote_ids.get("contact") or str(len(self.records) + 1)
        self.records[record_id] = change.prospect
        return Applied(
            remote_ids={"contact": record_id}, fingerprint=change.prospect.fingerprint()
        )

    @hookimpl
    def list_records(self, after, limit):
        ids = sorted(self.records, key=int)
        ids = [i for i in ids if after is None or int(i) > int(after)][:limit]
        records = [
            Change(
                ChangeKind.CREATED,
                ref=RecordRef("contact", i),
                prospect=self.records[i],
                remote_ids={"contact": i},
                dedup_key=f"paper:backfill:{i}",
            )
            for i in ids
        ]
        last = ids[-1] if len(ids) == limit else None
        return RecordPage(records=records, after=last)

    @hookimpl
    def fetch_changes(self, connector, cursor):
        start = int(cursor or 0)
        ids = sorted(self.records, key=int)[start:]
        changes = [Change(ChangeKind.UPDATED, RecordRef("contact", i)) for i in ids]
        return ChangeBatch(changes=changes, cursor=str(start + len(ids)))


@pytest.fixture
def paper():
    """Return a fresh inline connector, registered for the app under test."""
    return PaperConnector()


@pytest.fixture
def app(tmp_path, paper):
    """Return the hub with the paper connector and an upgraded database."""
    app = create_app(test_config(tmp_path, HUB_PLUGINS=[paper]))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def connection(app):
    """Return the id of agency 'sunrise''s connection to the paper connector."""
    with app.app_context():
        agency = Agency(slug="sunrise", name="Sunrise Home Care", settings={})
        connection = Connection(agency=agency, connector="paper", settings={})
        info = app.extensions["hub.connectors"].info("paper")
        save_settings(connection, info, {"api_key": "paper-canary-key-1234"})
        db.session.add(connection)
        db.session.commit()
        return connection.id


@pytest.fixture
def webhook_url(app, connection):
    """Return the path of the connection's ``contact.changed`` webhook."""
    with app.app_context():
        url = db.session.get(Connection, connection).webhook_url("contact.changed")
        db.session.commit()
    return url.removeprefix(app.config["HUB_PUBLIC_URL"])
