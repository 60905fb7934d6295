"""Secrets at rest: encrypted, never plaintext in the database, rotatable."""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.fernet import Fernet

from hub import create_app
from hub.extensions import db
from hub.models import Agency, Connection, WebhookEndpoint
from hub.testing.server import test_config

CANARY = "canary-7d1e3f-never-plaintext"


def test_the_database_holds_no_plaintext_credential_or_token(app, tmp_path, connection):
    with app.app_context():
        conn = db.session.get(Connection, connection)
        conn.credentials = {"api_key": CANARY}
        _, token = WebhookEndpoint.issue(conn, "contact.created")
        db.session.commit()
        db.engine.dispose()

    raw = b"".join(path.read_bytes() for path in tmp_path.glob("hub.sqlite*"))

    assert raw, "the database file should exist"
    assert CANARY.encode() not in raw
    assert token.encode() not in raw


def test_rotate_keys_re_encrypts_under_the_new_key(tmp_path, paper):
    # Built by hand rather than with the ``app`` fixture, whose request context
    # would make the command below run against the fixture's app.
    first = create_app(test_config(tmp_path, HUB_PLUGINS=[paper]))
    with first.app_context():
        db.create_all()
        agency = Agency(slug="sunrise", name="Sunrise", settings={})
        conn = Connection(agency=agency, connector="paper", settings={})
        conn.credentials = {"api_key": CANARY}
        db.session.add(conn)
        url = conn.webhook_url("contact.created")
        db.session.commit()
    old_key = first.config["HUB_ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()

    both = create_app(
        test_config(
            tmp_path, HUB_PLUGINS=[paper], HUB_ENCRYPTION_KEYS=f"{new_key},{old_key}"
        )
    )
    result = both.test_cli_runner().invoke(args=["hub", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "1 connection(s) and 1 webhook token(s)" in result.output

    only_new = create_app(
        test_config(tmp_path, HUB_PLUGINS=[paper], HUB_ENCRYPTION_KEYS=new_key)
    )
    with only_new.app_context():
        conn = db.session.scalars(sa.select(Connection)).one()
        assert conn.credentials == {"api_key": CANARY}
    answer = only_new.test_client().post(
        url.removeprefix(only_new.config["HUB_PUBLIC_URL"]),
        json={"id": 1},
        headers={"X-Paper-Secret": CANARY},
    )
    assert answer.status_code == 200
