"""The setup wizard, step by step: messages beside fields, nothing changed by a
refused step, every step safe to repeat, and provisioning run by the worker."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hub.extensions import db
from hub.models import Agency, AuditEntry, Connection, ProvisioningJob
from web.conftest import CARE, CARE_SECRET, SALES, SALES_APP_SECRET, run_worker


def audit(app, action: str | None = None) -> list[dict]:
    """Return the audit entries, oldest first, as dictionaries."""
    with app.app_context():
        query = sa.select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.filter_by(action=action)
        return [
            {
                "action": e.action,
                "credential": e.credential,
                "user": e.user.email if e.user else None,
                "agency": e.agency_id,
            }
            for e in db.session.scalars(query)
        ]


def sunrise(app) -> Agency:
    return db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))


@pytest.fixture
def agreed(browser):
    browser.post("/agencies/sunrise/setup/agreement", {"agree": "yes"})
    return browser


@pytest.fixture
def care_connected(agreed):
    answer = agreed.post("/agencies/sunrise/setup/connect/ledger", CARE)
    assert answer.status_code == 302
    return agreed


@pytest.fixture
def configured(web_app, care_connected):
    care_connected.post("/agencies/sunrise/setup/connect/tally", SALES)
    care_connected.post("/agencies/sunrise/setup/configure")
    run_worker(web_app)
    return care_connected


def test_the_wizard_resumes_at_the_first_open_step(browser):
    answer = browser.get("/agencies/sunrise/setup")

    assert answer.headers["Location"].endswith("/setup/overview")
    page = browser.get("/agencies/sunrise/setup/overview").get_data(as_text=True)
    assert "Ledger Care" in page and "Tally CRM" in page
    assert page.index("Ledger Care") < page.index("Tally CRM")


def test_a_later_step_sends_back_to_the_open_one(browser):
    answer = browser.get("/agencies/sunrise/setup/connect/tally")

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/setup/agreement")


def test_the_agreement_is_refused_until_ticked_and_changes_nothing(web_app, browser):
    answer = browser.post("/agencies/sunrise/setup/agreement", {})

    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'id="agree-error"' in page and "Tick the box" in page
    assert audit(web_app) == []
    with web_app.app_context():
        assert "setup" not in sunrise(web_app).settings


def test_the_agreement_is_recorded_once_in_the_audit_log(web_app, browser):
    for _ in range(2):
        answer = browser.post("/agencies/sunrise/setup/agreement", {"agree": "yes"})
        assert answer.status_code == 302

    entries = audit(web_app, "Agreed")
    assert len(entries) == 1
    assert entries[0]["user"] == "admin@sunrise.example"


def test_an_empty_care_form_gets_a_message_beside_each_field(web_app, agreed):
    answer = agreed.post(
        "/agencies/sunrise/setup/connect/ledger",
        {"client_id": "", "client_secret": "", "agency_id": ""},
    )

    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    for name, label in (("client_id", "Client id"), ("agency_id", "Agency id")):
        assert f'id="{name}-error">Enter the {label}.' in page
    with web_app.app_context():
        assert sunrise(web_app).connections == []


def test_a_wrong_care_secret_gets_a_clear_message_and_changes_nothing(web_app, agreed):
    answer = agreed.post(
        "/agencies/sunrise/setup/connect/ledger", {**CARE, "client_secret": "nope"}
    )

    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Ledger Care refused the client id and secret" in page
    assert 'value="cc-client-1"' in page
    with web_app.app_context():
        assert sunrise(web_app).connections == []
        assert sunrise(web_app).locations == []
    assert audit(web_app, "Created") == []


def test_connecting_the_care_system_lists_its_locations(web_app, agreed):
    answer = agreed.post("/agencies/sunrise/setup/connect/ledger", CARE)
    page = agreed.get(answer.headers["Location"]).get_data(as_text=True)

    assert "Ledger Care agency 77" in page
    assert "North office" in page and "South office" in page
    entries = audit(web_app, "Created")
    assert len(entries) == 1
    assert entries[0]["credential"] == "…" + CARE_SECRET[-4:]


def test_connecting_again_with_the_stored_secret_is_safe(web_app, care_connected):
    answer = care_connected.post(
        "/agencies/sunrise/setup/connect/ledger", {**CARE, "client_secret": ""}
    )

    assert answer.status_code == 302
    assert len(audit(web_app, "Created")) == 1
    assert audit(web_app, "Rotated") == []
    with web_app.app_context():
        assert sunrise(web_app).connection("ledger").credentials["client_secret"] == (
            CARE_SECRET
        )


def test_a_wrong_sales_token_gets_a_clear_message_and_changes_nothing(
    web_app, care_connected
):
    answer = care_connected.post(
        "/agencies/sunrise/setup/connect/tally", {**SALES, "access_token": "pat-x"}
    )

    assert answer.status_code == 400
    assert "Tally CRM refused the access token" in answer.get_data(as_text=True)
    with web_app.app_context():
        assert sunrise(web_app).connection("tally") is None


def test_connecting_the_sales_crm_shows_the_portal_and_configure(
    web_app, care_connected
):
    answer = care_connected.post(
        "/agencies/sunrise/setup/connect/tally",
        {**SALES, "app_id": "991", "client_secret": SALES_APP_SECRET},
    )
    page = care_connected.get(answer.headers["Location"]).get_data(as_text=True)

    assert "Tally portal 4471" in page
    assert "Configure Tally CRM" in page
    assert 'value="991"' in page
    with web_app.app_context():
        connection = sunrise(web_app).connection("tally")
        assert connection.state["portal_id"] == "4471"
        assert connection.credentials["client_secret"] == SALES_APP_SECRET


def test_configure_queues_provisioning_without_running_it(web_app, care_connected):
    care_connected.post("/agencies/sunrise/setup/connect/tally", SALES)

    answer = care_connected.post("/agencies/sunrise/setup/configure")
    care_connected.post("/agencies/sunrise/setup/configure")

    assert answer.status_code == 302
    with web_app.app_context():
        jobs = db.session.scalars(sa.select(ProvisioningJob)).all()
        assert [job.status for job in jobs] == ["pending"]
    status = care_connected.get("/agencies/sunrise/setup/provisioning.json").get_json()
    assert status["settled"] is False
    steps = status["groups"][0]["steps"]
    assert [s["step"] for s in steps] == [
        "pipeline",
        "properties",
        "contact_workflows",
        "deal_workflow",
    ]
    assert {s["status"] for s in steps} == {"pending"}
    page = care_connected.get("/agencies/sunrise/setup/connect/tally")
    assert 'id="continue" hidden' in page.get_data(as_text=True)


def test_the_worker_runs_provisioning_and_the_page_shows_each_step(web_app, configured):
    status = configured.get("/agencies/sunrise/setup/provisioning.json").get_json()

    assert status["settled"] is True
    assert [s["status"] for s in status["groups"][0]["steps"]] == [
        "done",
        "done",
        "done",
        "manual",
    ]
    page = configured.get("/agencies/sunrise/setup/connect/tally").get_data(
        as_text=True
    )
    assert 'id="continue" hidden' not in page
    assert "the portal&#39;s tier cannot create it." in page


def test_a_failed_step_shows_its_message_and_configure_retries(
    web_app, sales, care_connected
):
    sales.fail_step = "properties"
    care_connected.post("/agencies/sunrise/setup/connect/tally", SALES)
    care_connected.post("/agencies/sunrise/setup/configure")
    run_worker(web_app)

    status = care_connected.get("/agencies/sunrise/setup/provisioning.json").get_json()
    steps = {s["step"]: s for s in status["groups"][0]["steps"]}
    assert steps["properties"]["status"] == "failed"
    assert "refused the properties" in steps["properties"]["detail"]
    assert "refused the properties" in status["job"]
    page = care_connected.get("/agencies/sunrise/setup/connect/tally")
    assert 'id="retry-note" class="error" hidden' not in page.get_data(as_text=True)
    assert care_connected.get("/agencies/sunrise/setup/webhooks").status_code == 302

    sales.fail_step = None
    care_connected.post("/agencies/sunrise/setup/configure")
    with web_app.app_context():
        db.session.execute(
            sa.update(ProvisioningJob).values(next_attempt_at=sa.func.now())
        )
        db.session.commit()
    run_worker(web_app)

    status = care_connected.get("/agencies/sunrise/setup/provisioning.json").get_json()
    assert status["settled"] is True


def test_the_webhook_page_shows_each_workflow_as_created_or_manual(web_app, configured):
    page = configured.get("/agencies/sunrise/setup/webhooks").get_data(as_text=True)

    assert page.count("created for you") == 1
    with web_app.app_context():
        connection = sunrise(web_app).connection("tally")
        deal_url = connection.webhook_url("deal.stage_changed")
    assert f'value="{deal_url}"' in page
    assert 'data-copy="url-deal_workflow-1"' in page
    assert "every ClearCare stage except New Lead" in page
    assert "enroll existing deals" in page


def test_a_workflow_the_portal_cannot_run_is_synced_by_polling(web_app, configured):
    with web_app.app_context():
        connection = sunrise(web_app).connection("tally")
        step = next(s for s in connection.steps if s.step == "deal_workflow")
        step.status = "unavailable"
        db.session.commit()

    page = configured.get("/agencies/sunrise/setup/webhooks").get_data(as_text=True)

    assert "synced by polling" in page


def test_finish_leads_to_the_checklist_which_stays_on_the_dashboard(
    web_app, configured
):
    answer = configured.post("/agencies/sunrise/setup/webhooks")
    assert answer.headers["Location"].endswith("/setup/complete")
    configured.post("/agencies/sunrise/setup/webhooks")
    assert len(audit(web_app, "Setup finished")) == 1

    page = configured.get("/agencies/sunrise/setup/complete").get_data(as_text=True)
    assert "Finish in HubSpot" in page
    assert "Deal workflow" in page
    assert "ClearCare Prospect Id" in page
    assert "First name, Last name, Phone number" in page
    dashboard = configured.get("/agencies/sunrise/").get_data(as_text=True)
    assert "Finish in HubSpot" in dashboard

    for item in ("manual:deal_workflow", "form_properties", "required_fields"):
        configured.post("/agencies/sunrise/setup/complete", {"item": item})

    dashboard = configured.get("/agencies/sunrise/").get_data(as_text=True)
    assert "Finish in HubSpot" not in dashboard
    assert "Sync health" in dashboard
    assert len(audit(web_app, "Checklist item done")) == 3


def test_a_manual_step_the_hub_sees_done_is_ticked_by_itself(web_app, configured):
    configured.post("/agencies/sunrise/setup/webhooks")
    with web_app.app_context():
        connection = sunrise(web_app).connection("tally")
        step = next(s for s in connection.steps if s.step == "deal_workflow")
        step.status = "done"
        db.session.commit()

    page = configured.get("/agencies/sunrise/setup/complete").get_data(as_text=True)

    assert "Done (seen by the hub)" in page


def test_an_unknown_checklist_item_is_refused(configured):
    configured.post("/agencies/sunrise/setup/webhooks")

    answer = configured.post("/agencies/sunrise/setup/complete", {"item": "nope"})

    assert answer.status_code == 400


def test_every_wizard_page_can_be_shown_again_after_setup(web_app, configured):
    configured.post("/agencies/sunrise/setup/webhooks")

    for path in (
        "overview",
        "agreement",
        "connect/ledger",
        "connect/tally",
        "webhooks",
        "complete",
    ):
        assert configured.get(f"/agencies/sunrise/setup/{path}").status_code == 200
    assert (
        configured.get("/agencies/sunrise/setup")
        .headers["Location"]
        .endswith("/setup/complete")
    )
    with web_app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(Connection)) == 2
        )


def test_marking_an_item_done_goes_back_only_to_pages_of_the_hub(configured):
    configured.post("/agencies/sunrise/setup/webhooks")

    inside = configured.post(
        "/agencies/sunrise/setup/complete",
        {"item": "form_properties", "back": "/agencies/sunrise/"},
    )
    outside = configured.post(
        "/agencies/sunrise/setup/complete",
        {"item": "required_fields", "back": "//evil.example/"},
    )

    assert inside.headers["Location"] == "/agencies/sunrise/"
    assert outside.headers["Location"] == "/agencies/sunrise/setup/complete"
