"""Health, readiness, and how errors are rendered for programs and people."""

from __future__ import annotations

from hub import create_app
from hub.testing.server import test_config


def test_healthz_and_readyz_answer_200(client):
    assert client.get("/healthz").get_json() == {"status": "alive"}
    assert client.get("/readyz").status_code == 200


def test_readyz_answers_503_when_the_database_is_unreachable(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'folder' / 'hub.sqlite'}"
    app = create_app(test_config(tmp_path, HUB_DATABASE_URL=url))

    answer = app.test_client().get("/readyz")

    assert answer.status_code == 503
    assert answer.get_json() == {"status": "database unreachable"}


def test_errors_are_json_for_programs(client):
    answer = client.post("/hooks/paper/nope", json={})

    assert answer.status_code == 404
    assert answer.get_json()["error"] == "not_found"


def test_errors_are_a_page_for_people(client):
    answer = client.get("/no-such-page", headers={"Accept": "text/html"})

    assert answer.status_code == 404
    assert answer.mimetype == "text/html"
    assert "Something went wrong (404)" in answer.get_data(as_text=True)


def test_access_log_lines_hide_webhook_tokens():
    import logging

    from hub import _HideWebhookTokens

    hide = _HideWebhookTokens()
    werkzeug = logging.LogRecord(
        "werkzeug",
        20,
        "",
        0,
        '"%s" %s',
        ("POST /hooks/hubspot/s3cr3t HTTP/1.1", 200),
        None,
    )
    gunicorn = logging.LogRecord(
        "gunicorn.access", 20, "", 0, "%(r)s %(s)s", None, None
    )
    gunicorn.args = {"r": "POST /hooks/clearcare/t0ken?x=1 HTTP/1.1", "s": "200"}

    assert hide.filter(werkzeug) and hide.filter(gunicorn)
    assert werkzeug.getMessage() == '"POST /hooks/hubspot/… HTTP/1.1" 200'
    assert gunicorn.getMessage() == "POST /hooks/clearcare/…?x=1 HTTP/1.1 200"
