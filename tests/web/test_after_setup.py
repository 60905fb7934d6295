"""After setup: the dashboard, events with replay, credentials with Show and Rotate,
the audit log, and canary secrets that never leak."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from hub.extensions import db
from hub.models import (
    Agency,
    AuditEntry,
    Event,
    EventAttempt,
    RemoteRef,
    SyncLink,
    utcnow,
)
from web.conftest import (
    CANARIES,
    CARE,
    CARE_SECRET,
    PASSWORD,
    SALES_APP_SECRET,
    SALES_TOKEN,
    SALES_TOKEN_NEW,
    actions,
)


@pytest.fixture
def events(web_app, ready):
    """Store three events of sunrise: done, needs attention (two tries), pending."""
    with web_app.app_context():
        agency = db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))
        connection = agency.connection("tally")
        now = utcnow()
        rows = [
            Event(
                agency_id=agency.id,
                connection_id=connection.id,
                connector="tally",
                purpose="contact.created",
                payload={
                    "kind": "created",
                    "ref": {"kind": "contact", "id": "51"},
                    "prospect": {"first_name": "Ada", "last_name": "Byron"},
                    "data": {"signature": "sig-" + SALES_TOKEN},
                },
                status=status,
                attempts=attempts,
                last_error=error,
                received_at=now - timedelta(minutes=minutes),
                finished_at=now if status == "done" else None,
            )
            for status, attempts, error, minutes in (
                ("done", 1, None, 3),
                (
                    "needs_attention",
                    2,
                    "Ledger Care requires a phone number for Ada Byron. Add one to "
                    "the contact, then Replay.",
                    2,
                ),
                ("pending", 0, None, 1),
            )
        ]
        db.session.add_all(rows)
        db.session.flush()
        for number in (1, 2):
            db.session.add(
                EventAttempt(
                    event_id=rows[1].id,
                    number=number,
                    worker="w1",
                    outcome="failed",
                    error="Ledger Care requires a phone number.",
                )
            )
        db.session.commit()
        return [row.id for row in rows]


def test_the_dashboard_counts_events_and_says_how_the_sync_runs(ready, events):
    page = ready.get("/agencies/sunrise/").get_data(as_text=True)

    assert '<strong data-count="in sync">1</strong>' in page
    assert '<strong data-count="needs attention">1</strong>' in page
    assert '<strong data-count="pending">1</strong>' in page
    assert '<strong data-count="failing">0</strong>' in page
    assert "Tally CRM</strong> (Tally portal 4471): webhooks" in page
    assert "Ledger Care</strong> (Ledger Care agency 77): polling" in page
    assert "Last change from Tally CRM synced to Ledger Care: 20" in page
    assert page.count('href="/agencies/sunrise/events/') == 3


def test_the_events_list_filters_by_status(ready, events):
    page = ready.get("/agencies/sunrise/events?status=needs_attention").get_data(
        as_text=True
    )

    assert f"#{events[1]}<" in page
    assert f"#{events[0]}<" not in page
    assert "Add one to the contact, then Replay." in page


def test_an_event_page_shows_the_reason_the_attempts_and_masks_secrets(ready, events):
    page = ready.get(f"/agencies/sunrise/events/{events[1]}").get_data(as_text=True)

    assert "Needs attention: the reason and the fix" in page
    assert "Add one to the contact, then Replay." in page
    assert page.count("Ledger Care requires a phone number.") == 2
    assert "Ada" in page and "contact 51" in page
    assert SALES_TOKEN not in page
    assert SALES_TOKEN[-4:] + '"' in page


def test_replay_queues_the_event_again_and_is_audited(web_app, ready, events):
    answer = ready.post(f"/agencies/sunrise/events/{events[1]}/replay")

    assert answer.status_code == 302
    with web_app.app_context():
        event = db.session.get(Event, events[1])
        assert (event.status, event.attempts) == ("pending", 0)
    assert ("Replayed event", None) in actions(web_app)


def test_credentials_are_masked_with_their_dates(ready):
    page = ready.get("/agencies/sunrise/credentials").get_data(as_text=True)

    assert "<code>…" + SALES_TOKEN[-4:] + "</code>" in page
    assert "<code>…" + CARE_SECRET[-4:] + "</code>" in page
    assert "In the hub since" in page
    assert SALES_TOKEN not in page and CARE_SECRET not in page


def test_show_needs_the_password_and_is_logged_viewed(web_app, ready):
    wrong = ready.post("/agencies/sunrise/credentials/tally/show", {"password": "no"})

    assert wrong.status_code == 403
    assert "That password is wrong" in wrong.get_data(as_text=True)
    assert SALES_TOKEN not in wrong.get_data(as_text=True)
    assert not any(action == "Viewed" for action, _ in actions(web_app))

    shown = ready.post(
        "/agencies/sunrise/credentials/tally/show", {"password": PASSWORD}
    )

    assert shown.status_code == 200
    assert f'<code class="revealed">{SALES_TOKEN}</code>' in shown.get_data(
        as_text=True
    )
    assert CARE_SECRET not in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    assert ("Viewed", "…" + SALES_TOKEN[-4:]) in actions(web_app)


def test_rotate_refuses_a_token_the_crm_refuses_and_keeps_the_old(web_app, ready):
    answer = ready.post(
        "/agencies/sunrise/credentials/tally/rotate", {"access_token": "pat-bad"}
    )

    assert answer.status_code == 400
    assert "Tally CRM refused the access token" in answer.get_data(as_text=True)
    with web_app.app_context():
        agency = db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))
        assert agency.connection("tally").credentials["access_token"] == SALES_TOKEN
    assert not any(action == "Rotated" for action, _ in actions(web_app))


def test_rotate_checks_the_new_token_then_replaces_the_old(web_app, ready):
    answer = ready.post(
        "/agencies/sunrise/credentials/tally/rotate", {"access_token": SALES_TOKEN_NEW}
    )

    assert answer.status_code == 302
    with web_app.app_context():
        agency = db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))
        connection = agency.connection("tally")
        assert connection.credentials["access_token"] == SALES_TOKEN_NEW
        assert connection.credentials["client_secret"] == SALES_APP_SECRET
        assert connection.settings["app_id"] == "991"
        assert connection.credential_rotated_at is not None
    assert ("Rotated", "…" + SALES_TOKEN_NEW[-4:]) in actions(web_app)
    page = ready.get("/agencies/sunrise/credentials").get_data(as_text=True)
    assert "<td>Rotated</td><td>…" + SALES_TOKEN_NEW[-4:] in page


def test_rotate_to_the_same_token_or_nothing_is_refused(ready):
    same = ready.post(
        "/agencies/sunrise/credentials/tally/rotate", {"access_token": SALES_TOKEN}
    )
    empty = ready.post("/agencies/sunrise/credentials/tally/rotate", {})

    assert same.status_code == 400
    assert "in use already" in same.get_data(as_text=True)
    assert empty.status_code == 400
    assert "Paste the new credential" in empty.get_data(as_text=True)


def test_disconnect_forgets_the_credentials_and_is_logged(web_app, ready):
    ready.post("/agencies/sunrise/credentials/ledger/disconnect")

    with web_app.app_context():
        agency = db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))
        assert agency.connection("ledger").credentials == {}
    assert ("Disconnected", "…" + CARE_SECRET[-4:]) in actions(web_app)


@pytest.mark.parametrize(
    ("days", "words"),
    [(10, None), (160, "five months old"), (190, "six months old")],
    ids=("young", "five-months", "six-months"),
)
def test_old_credentials_earn_a_warning(web_app, ready, days, words):
    with web_app.app_context():
        agency = db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))
        agency.connection("tally").credential_added_at = utcnow() - timedelta(days=days)
        db.session.commit()

    page = ready.get("/agencies/sunrise/credentials").get_data(as_text=True)

    if words is None:
        assert "months old" not in page
    else:
        assert f"The Tally CRM credential is {words}" in page


def test_the_audit_log_lists_the_setup_in_order(web_app, ready):
    page = ready.get("/agencies/sunrise/credentials").get_data(as_text=True)

    assert [a for a, _ in actions(web_app)] == [
        "Agreed",
        "Created",
        "Created",
        "Setup finished",
    ]
    assert "admin@sunrise.example" in page
    assert "<td>Created</td><td>…" + CARE_SECRET[-4:] in page


def test_an_operator_creates_an_agency_and_its_admin(anonymous):
    anonymous.sign_in("ops@hub.example")

    bad = anonymous.post("/agencies", {"slug": "No Spaces", "name": ""})
    assert bad.status_code == 400
    assert 'id="agency-slug-error"' in bad.get_data(as_text=True)
    assert (
        anonymous.post("/agencies", {"slug": "bay", "name": "Bay"}).status_code == 302
    )
    short = anonymous.post(
        "/agencies/admins", {"email": "a@bay.example", "password": "x", "agency": "bay"}
    )
    assert 'id="admin-password-error"' in short.get_data(as_text=True)
    anonymous.post(
        "/agencies/admins",
        {"email": "a@bay.example", "password": PASSWORD, "agency": "bay"},
    )
    anonymous.post("/signout")

    assert anonymous.sign_in("a@bay.example").headers["Location"] == "/agencies/bay/"


def test_no_page_or_log_line_shows_a_secret(web_app, ready, events, logs):
    """Canary values never appear, except on the page Show answers."""
    ready.post(
        "/agencies/sunrise/credentials/tally/rotate", {"access_token": "pat-refused"}
    )
    ready.post(
        "/agencies/sunrise/credentials/tally/rotate", {"access_token": SALES_TOKEN_NEW}
    )
    ready.post("/agencies/sunrise/setup/connect/ledger", {**CARE, "client_secret": "x"})
    paths = [
        "/agencies/sunrise/",
        "/agencies/sunrise/setup/overview",
        "/agencies/sunrise/setup/agreement",
        "/agencies/sunrise/setup/connect/ledger",
        "/agencies/sunrise/setup/connect/tally",
        "/agencies/sunrise/setup/provisioning.json",
        "/agencies/sunrise/setup/webhooks",
        "/agencies/sunrise/setup/complete",
        "/agencies/sunrise/events",
        "/agencies/sunrise/credentials",
        "/agencies/harbor/credentials",
        "/no-such-page",
    ] + [f"/agencies/sunrise/events/{event}" for event in events]
    for path in paths:
        ready.get(path)
    ready.post("/agencies/sunrise/credentials/tally/show", {"password": "wrong"})

    text = "\n".join(ready.pages) + "\n".join(r.getMessage() for r in logs.records)
    for canary in CANARIES:
        assert canary not in text
    with web_app.app_context():
        credentials = db.session.scalars(sa.select(AuditEntry.credential)).all()
    assert all(c is None or c.startswith("…") for c in credentials)


def test_an_event_page_shows_the_records_linked_to_the_person(web_app, ready, events):
    with web_app.app_context():
        agency = db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))
        link = SyncLink(agency_id=agency.id)
        for connector, kind, remote_id in (
            ("tally", "contact", "51"),
            ("tally", "deal", "7"),
            ("ledger", "patient", "p-12"),
        ):
            link.refs.append(
                RemoteRef(
                    agency_id=agency.id,
                    connector=connector,
                    kind=kind,
                    remote_id=remote_id,
                )
            )
        db.session.add(link)
        db.session.commit()

    page = ready.get(f"/agencies/sunrise/events/{events[0]}").get_data(as_text=True)

    assert "<td>Tally CRM</td><td>deal</td><td>7</td>" in page
    assert "<td>Ledger Care</td><td>patient</td><td>p-12</td>" in page
