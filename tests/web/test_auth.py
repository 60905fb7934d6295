"""Signing in and out, CSRF, sessions that expire, and agency isolation."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from hub.extensions import db
from hub.models import Event, SignInFailure, User, utcnow
from web.conftest import PASSWORD


def test_root_without_a_session_redirects_to_sign_in(anonymous):
    answer = anonymous.get("/")

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/signin")


def test_an_admin_signs_in_and_lands_in_the_agency_setup(anonymous):
    answer = anonymous.sign_in("admin@sunrise.example")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/agencies/sunrise/"
    follow = anonymous.get("/agencies/sunrise/", follow_redirects=True)
    assert "Overview" in follow.get_data(as_text=True)


def test_an_operator_lands_on_the_agencies(anonymous):
    answer = anonymous.sign_in("ops@hub.example")

    assert answer.headers["Location"] == "/agencies"
    page = anonymous.get("/agencies").get_data(as_text=True)
    assert "Sunrise Home Care" in page and "Harbor Care" in page


@pytest.mark.parametrize(
    ("email", "password"),
    [("admin@sunrise.example", "wrong password"), ("nobody@x.example", PASSWORD)],
    ids=("wrong-password", "unknown-email"),
)
def test_a_wrong_sign_in_gets_one_message_and_no_session(anonymous, email, password):
    answer = anonymous.sign_in(email, password)

    assert answer.status_code == 401
    assert "The email or the password is wrong" in answer.get_data(as_text=True)
    assert anonymous.get("/agencies/sunrise/").status_code == 302


def test_repeated_failures_slow_sign_in_down_even_with_the_right_password(
    web_app, anonymous
):
    for _ in range(3):
        anonymous.sign_in("admin@sunrise.example", "wrong password")

    answer = anonymous.sign_in("admin@sunrise.example")

    assert answer.status_code == 429
    assert "Too many wrong sign-ins in a row" in answer.get_data(as_text=True)
    with web_app.app_context():
        [failure] = db.session.scalars(sa.select(SignInFailure)).all()
        assert failure.failures == 3
        assert "sunrise" not in failure.email_hash
        failure.last_failed_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert anonymous.sign_in("admin@sunrise.example").status_code == 302
    with web_app.app_context():
        assert db.session.scalars(sa.select(SignInFailure)).all() == []


def test_an_unknown_email_is_slowed_down_alike_so_a_refusal_tells_nothing(
    anonymous,
):
    answers = {}
    for email in ("admin@sunrise.example", "nobody@sunrise.example"):
        for _ in range(3):
            anonymous.sign_in(email, "wrong password")
        answer = anonymous.sign_in(email, "wrong password")
        answers[email] = (answer.status_code, page_error(answer))

    assert answers["admin@sunrise.example"] == answers["nobody@sunrise.example"]
    assert answers["nobody@sunrise.example"][0] == 429
    # Another email is not slowed down by them.
    assert anonymous.sign_in("ops@hub.example").status_code == 302


def page_error(answer) -> str:
    """Return the refusal's message, without the seconds to wait."""
    page = answer.get_data(as_text=True)
    start = page.index("Too many")
    return re.sub(r"\d+ seconds", "N seconds", page[start : page.index(".", start)])


def test_signing_out_ends_the_session(browser):
    assert browser.get("/agencies/sunrise/setup/overview").status_code == 200

    browser.post("/signout")

    assert browser.get("/agencies/sunrise/setup/overview").status_code == 302


def test_a_session_expires_after_its_idle_time(web_app, browser):
    with browser.client.session_transaction() as session:
        session["seen"] = (
            int(time.time()) - web_app.config["HUB_SESSION_MINUTES"] * 60 - 1
        )

    answer = browser.get("/agencies/sunrise/setup/overview")

    assert answer.status_code == 302
    assert "/signin" in answer.headers["Location"]
    assert web_app.permanent_session_lifetime == timedelta(
        minutes=web_app.config["HUB_SESSION_MINUTES"]
    )


def test_a_new_password_ends_older_sessions(web_app, browser):
    with web_app.app_context():
        user = db.session.query(User).filter_by(email="admin@sunrise.example").one()
        user.password_hash = user.password_hash[:-4] + "0000"
        db.session.commit()

    assert browser.get("/agencies/sunrise/setup/overview").status_code == 302


def test_a_form_posted_without_a_csrf_token_is_refused(web_app, browser):
    assert web_app.config.get("WTF_CSRF_ENABLED", True)

    answer = browser.client.post(
        "/agencies/sunrise/setup/agreement", data={"agree": "yes"}
    )

    assert answer.status_code == 400
    assert "CSRF" in answer.get_data(as_text=True)
    with web_app.app_context():
        assert (
            "setup"
            not in db.session.query(__import__("hub.models").models.Agency)
            .filter_by(slug="sunrise")
            .one()
            .settings
        )


def test_sign_in_itself_needs_a_csrf_token(anonymous):
    answer = anonymous.client.post(
        "/signin", data={"email": "admin@sunrise.example", "password": PASSWORD}
    )

    assert answer.status_code == 400


@pytest.fixture
def harbor_event(web_app):
    """Return the id of an event of the agency 'harbor'."""
    with web_app.app_context():
        from hub.models import Agency, Connection

        harbor = db.session.query(Agency).filter_by(slug="harbor").one()
        connection = Connection(agency=harbor, connector="tally", settings={})
        db.session.add(connection)
        db.session.flush()
        event = Event(
            agency_id=harbor.id,
            connection_id=connection.id,
            connector="tally",
            purpose="contact.created",
            payload={"kind": "created"},
        )
        db.session.add(event)
        db.session.commit()
        return event.id


@pytest.mark.parametrize(
    "path",
    [
        "/agencies/harbor/",
        "/agencies/harbor/setup",
        "/agencies/harbor/setup/overview",
        "/agencies/harbor/setup/agreement",
        "/agencies/harbor/setup/connect/tally",
        "/agencies/harbor/setup/webhooks",
        "/agencies/harbor/setup/complete",
        "/agencies/harbor/setup/provisioning.json",
        "/agencies/harbor/events",
        "/agencies/harbor/events/{event}",
        "/agencies/harbor/credentials",
        "/agencies/harbor/mapping",
        "/agencies/harbor/locations",
        "/agencies/harbor/required-fields",
        "/agencies",
    ],
)
def test_an_admin_gets_404_for_another_agency(browser, harbor_event, path):
    answer = browser.get(path.format(event=harbor_event))

    assert answer.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/agencies/harbor/setup/agreement",
        "/agencies/harbor/setup/connect/tally",
        "/agencies/harbor/setup/configure",
        "/agencies/harbor/events/{event}/replay",
        "/agencies/harbor/credentials/tally/show",
        "/agencies/harbor/credentials/tally/rotate",
        "/agencies/harbor/credentials/tally/disconnect",
        "/agencies/harbor/mapping",
        "/agencies/harbor/locations/refresh",
        "/agencies/harbor/required-fields",
        "/agencies/harbor/setup/complete",
        "/agencies/harbor/setup/webhooks",
        "/agencies",
        "/agencies/admins",
    ],
)
def test_an_admin_cannot_post_to_another_agency(web_app, browser, harbor_event, path):
    answer = browser.post(path.format(event=harbor_event), {"password": PASSWORD})

    assert answer.status_code == 404
    with web_app.app_context():
        assert db.session.get(Event, harbor_event).status == "pending"


def test_an_admin_cannot_see_an_event_of_another_agency_through_its_own(
    browser, harbor_event
):
    assert browser.get(f"/agencies/sunrise/events/{harbor_event}").status_code == 404
    answer = browser.post(f"/agencies/sunrise/events/{harbor_event}/replay")
    assert answer.status_code == 404


def test_an_operator_sees_every_agency(anonymous, harbor_event):
    anonymous.sign_in("ops@hub.example")

    assert anonymous.get("/agencies/harbor/events").status_code == 200
    assert anonymous.get(f"/agencies/harbor/events/{harbor_event}").status_code == 200
    assert anonymous.get("/agencies/sunrise/setup/overview").status_code == 200


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/agencies/sunrise/events", "/agencies/sunrise/events"),
        ("//evil.example/", "/agencies/sunrise/"),
        ("https://evil.example/", "/agencies/sunrise/"),
    ],
    ids=("own-page", "scheme-relative", "absolute"),
)
def test_sign_in_returns_only_to_pages_of_the_hub(anonymous, target, landing):
    answer = anonymous.client.post(
        f"/signin?next={target}",
        data={
            "csrf_token": anonymous.token(),
            "email": "admin@sunrise.example",
            "password": PASSWORD,
        },
    )

    assert answer.headers["Location"] == landing


def test_a_page_asked_for_without_a_session_comes_back_after_sign_in(anonymous):
    answer = anonymous.get("/agencies/sunrise/events?status=done")

    assert answer.headers["Location"] == (
        "/signin?next=/agencies/sunrise/events?status%3Ddone"
    )
