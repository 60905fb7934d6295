"""The webhook ingress: what is stored, and what each bad request gets."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa
from flask import request

from hub import Inbound, hookimpl
from hub.extensions import db
from hub.models import Connection, Event
from tests.conftest import PaperConnector

SECRET = {"X-Paper-Secret": "paper-canary-key-1234"}


def stored(app) -> list[Event]:
    with app.app_context():
        return db.session.scalars(sa.select(Event).order_by(Event.id)).all()


def test_valid_webhook_is_stored_as_a_pending_event(app, client, webhook_url):
    answer = client.post(
        webhook_url, json={"id": 51, "kind": "created"}, headers=SECRET
    )

    assert answer.status_code == 200
    assert answer.get_json() == {"stored": 1}
    [event] = stored(app)
    assert event.status == "pending"
    assert event.connector == "paper"
    assert event.purpose == "contact.changed"
    assert event.payload["kind"] == "created"
    assert event.payload["ref"] == {"kind": "contact", "id": "51"}


def test_a_fhir_json_content_type_is_accepted(app, client, webhook_url):
    answer = client.post(
        webhook_url,
        data=json.dumps({"id": 7}),
        headers={**SECRET, "Content-Type": "application/fhir+json"},
    )

    assert answer.status_code == 200
    assert len(stored(app)) == 1


def test_a_duplicate_delivery_is_stored_once(app, client, webhook_url):
    body = {"id": 51, "delivery": "d-1"}
    first = client.post(webhook_url, json=body, headers=SECRET)
    second = client.post(webhook_url, json=body, headers=SECRET)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json() == {"stored": 0}
    assert len(stored(app)) == 1


@pytest.mark.parametrize(
    ("name", "path_of", "body", "headers", "status"),
    [
        ("unknown token", lambda url: url[:-4] + "abcd", b'{"id": 1}', {}, 404),
        (
            "wrong connector",
            lambda url: url.replace("/paper/", "/other/"),
            b"{}",
            {},
            404,
        ),
        ("bad secret", None, b'{"id": 1}', {"X-Paper-Secret": "wrong"}, 401),
        ("no secret", None, b'{"id": 1}', {"X-Paper-Secret": ""}, 401),
        ("not JSON", None, b"{nope", SECRET, 400),
        ("no id", None, b'{"name": "x"}', SECRET, 400),
        ("text body", None, b"hello", {**SECRET, "Content-Type": "text/plain"}, 415),
        (
            "too large",
            None,
            b'{"id": 1, "x": "' + b"a" * (1024 * 1024) + b'"}',
            SECRET,
            413,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_requests_get_their_status_and_store_nothing(
    app, client, webhook_url, name, path_of, body, headers, status
):
    path = path_of(webhook_url) if path_of else webhook_url
    headers = {"Content-Type": "application/json", **headers}

    answer = client.post(path, data=body, headers=headers)

    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.is_json
    assert answer.get_json()["message"]
    assert stored(app) == []


def test_a_revoked_token_gets_the_same_answer_as_an_unknown_one(
    app, client, webhook_url
):
    unknown = client.post(webhook_url[:-4] + "zzzz", json={"id": 1}, headers=SECRET)
    with app.app_context():
        endpoint = db.session.scalars(sa.select(Connection)).one().endpoints[0]
        endpoint.revoked_at = endpoint.created_at
        db.session.commit()

    revoked = client.post(webhook_url, json={"id": 1}, headers=SECRET)

    assert revoked.status_code == unknown.status_code == 404
    assert revoked.get_json() == unknown.get_json()
    assert stored(app) == []


def test_storage_failing_answers_503_with_retry_after(app, client, webhook_url):
    with app.app_context():
        db.session.execute(sa.text("DROP TABLE event"))
        db.session.commit()

    answer = client.post(webhook_url, json={"id": 1}, headers=SECRET)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert "again" in answer.get_json()["message"]


def test_refusals_are_logged_without_the_token_or_secret(
    app, client, webhook_url, caplog
):
    caplog.set_level(logging.INFO)
    token = webhook_url.rsplit("/", 1)[1]

    client.post(webhook_url, json={"id": 1}, headers={"X-Paper-Secret": "wrong"})

    assert "Refused a webhook for agency sunrise" in caplog.text
    assert token not in caplog.text
    assert "paper-canary-key-1234" not in caplog.text


def test_only_post_is_accepted(client, webhook_url):
    assert client.get(webhook_url).status_code == 405


def test_a_webhook_gets_no_session_while_other_pages_keep_theirs(app):
    interface = app.session_interface
    with app.test_request_context("/hooks/paper/some-token", method="POST"):
        assert interface.open_session(app, request) is None
    with app.test_request_context("/signin"):
        assert interface.open_session(app, request) is not None


def test_a_webhook_with_a_cookie_is_answered_without_one(app, client, webhook_url):
    client.set_cookie("session", "a-cookie-the-vendor-should-not-send")

    answer = client.post(webhook_url, json={"id": 51}, headers=SECRET)

    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert "Cookie" not in answer.headers.get("Vary", "")
    assert len(stored(app)) == 1


def test_a_body_shorter_than_its_length_is_refused_and_not_stored(
    app, client, webhook_url
):
    answer = client.post(
        webhook_url,
        data=b'{"id": 51}',
        headers=SECRET,
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": "100"},
    )

    assert answer.status_code == 400
    assert stored(app) == []


class RecordingPaper(PaperConnector):
    """The paper connector, keeping each request it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.inbound: list[Inbound] = []

    @hookimpl
    def receive_event(self, connector, connection, inbound):
        self.inbound.append(inbound)
        return super().receive_event(connector, connection, inbound)


@pytest.mark.parametrize("paper", [RecordingPaper()], ids=["recording"])
def test_the_query_and_headers_reach_the_connector_as_sent(
    app, client, webhook_url, paper
):
    answer = client.post(
        webhook_url + "?objectId=51&x=%2F",
        json={"id": 51},
        headers={**SECRET, "X-Custom-Header": "yes"},
    )

    assert answer.status_code == 200
    [inbound] = paper.inbound
    assert inbound.method == "POST"
    assert inbound.query == {"objectId": "51", "x": "/"}
    assert inbound.url == app.config["HUB_PUBLIC_URL"] + webhook_url + (
        "?objectId=51&x=%2F"
    )
    assert inbound.headers["X-Custom-Header"] == "yes"
    assert inbound.headers["Content-Type"] == "application/json"
    assert inbound.body == b'{"id": 51}'
