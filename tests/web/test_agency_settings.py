"""The status mapping, the locations and the required fields, after setup."""

from __future__ import annotations

import sqlalchemy as sa

from hub.canonical import Direction, ProspectStatus
from hub.extensions import db
from hub.models import Agency, ProvisioningJob
from web.conftest import actions

CPI = ProspectStatus.COLLECT_PAYMENT_INFORMATION


def sunrise() -> Agency:
    return db.session.scalar(sa.select(Agency).filter_by(slug="sunrise"))


def pending_jobs(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ProvisioningJob)
            .filter_by(status="pending")
        )


def test_the_mapping_shows_each_status_beside_each_connector(ready):
    page = ready.get("/agencies/sunrise/mapping").get_data(as_text=True)

    for status in ProspectStatus:
        assert f'<th scope="row">{status.label}</th>' in page
    assert "<code>10</code>" in page and "<code>stage-0</code>" in page
    assert "Collect Payment Information is not confirmed" in page
    assert 'name="confirm:ledger:COLLECT_PAYMENT_INFORMATION"' in page


def test_an_override_that_is_not_a_value_is_refused_beside_its_field(web_app, ready):
    answer = ready.post(
        "/agencies/sunrise/mapping", {"override:tally:NEW_LEAD": "<script>"}
    )

    assert answer.status_code == 400
    assert 'id="override-tally-NEW_LEAD-error"' in answer.get_data(as_text=True)
    with web_app.app_context():
        assert sunrise().status_overrides == {}


def test_two_statuses_cannot_share_one_value(ready):
    answer = ready.post(
        "/agencies/sunrise/mapping", {"override:tally:CARE_STARTED": "stage-0"}
    )

    assert answer.status_code == 400
    assert "New Lead has this value already in Tally CRM" in answer.get_data(
        as_text=True
    )


def test_collect_payment_information_syncs_only_once_confirmed(web_app, ready):
    field = "ledger:COLLECT_PAYMENT_INFORMATION"

    refused = ready.post("/agencies/sunrise/mapping", {f"override:{field}": "65"})
    saved = ready.post(
        "/agencies/sunrise/mapping",
        {f"override:{field}": "65", f"confirm:{field}": "yes"},
    )

    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.get_data(as_text=True)
    assert saved.status_code == 302
    with web_app.app_context():
        agency = sunrise()
        connectors = web_app.extensions["hub.connectors"]
        native = connectors.map_status(
            "ledger", agency.connection("ledger"), CPI, Direction.TO_NATIVE
        )
        assert native == "65"
    assert (
        "Status mapping changed",
        None,
    ) in actions(web_app)


def test_saving_the_mapping_unchanged_logs_nothing(web_app, ready):
    ready.post("/agencies/sunrise/mapping", {})

    assert not any(a == "Status mapping changed" for a, _ in actions(web_app))


def test_the_locations_are_listed_and_refresh_queues_provisioning(web_app, ready):
    page = ready.get("/agencies/sunrise/locations").get_data(as_text=True)
    assert "North office" in page and "South office" in page

    answer = ready.post("/agencies/sunrise/locations/refresh")

    assert answer.status_code == 302
    assert pending_jobs(web_app) == 1
    assert ("Locations refreshed", None) in actions(web_app)


def test_required_fields_keep_the_names_and_queue_the_workflow_update(web_app, ready):
    page = ready.get("/agencies/sunrise/required-fields").get_data(as_text=True)
    assert 'id="field-phone" name="phone" value="yes" checked' in page

    refused = ready.post("/agencies/sunrise/required-fields", {"last_name": "yes"})
    assert refused.status_code == 400
    assert "first and a last name" in refused.get_data(as_text=True)

    saved = ready.post(
        "/agencies/sunrise/required-fields",
        {"first_name": "yes", "last_name": "yes", "email": "yes"},
    )

    assert saved.status_code == 302
    with web_app.app_context():
        assert sunrise().required_fields == ["first_name", "last_name", "email"]
    assert pending_jobs(web_app) == 1
    assert ("Required fields changed", None) in actions(web_app)
