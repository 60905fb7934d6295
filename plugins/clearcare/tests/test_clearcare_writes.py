"""apply_change and fetch_record against the sandbox: creates, updates, statuses,
required fields, phones and lost answers."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from carehub_clearcare.api import client_for
from hub import Change, ChangeKind, Prospect, ProspectStatus, RecordRef
from hub.errors import NeedsAttention, RemoteUnavailable
from hub.extensions import db

MARGARET = Prospect(
    first_name="Margaret",
    last_name="Johnson",
    email="m.johnson@example.com",
    phone="(719) 555-0142",
    mobile_phone="+1 303 555 9876",
    street="456 Oak Ave",
    city="Colorado Springs",
    state="CO",
    postal_code="80903",
)


def create(connectors, agency, connection, prospect=MARGARET, link_key="link-1"):
    return connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(kind=ChangeKind.CREATED, prospect=prospect, link_key=link_key),
    )


def change(connectors, agency, connection, patient_id, prospect, kind):
    return connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(kind=kind, prospect=prospect, remote_ids={"patient": patient_id}),
    )


def read(connectors, connection, patient_id) -> Prospect:
    return connectors.fetch_record(
        "clearcare", connection, RecordRef("patient", patient_id)
    )


def requests_made(control, account) -> dict:
    return control.counters(account=account["account"])


def test_create_makes_a_new_lead_and_reads_back(connectors, agency, connection):
    applied = create(connectors, agency, connection)

    patient_id = applied.remote_ids["patient"]
    prospect = read(connectors, connection, patient_id)
    assert applied.fingerprint == MARGARET.fingerprint()
    assert prospect.status is ProspectStatus.NEW_LEAD
    assert prospect.is_client is False
    assert prospect.phone == "7195550142"
    assert prospect.mobile_phone == "3035559876"
    assert prospect.fields() == {
        **MARGARET.fields(),
        "phone": "7195550142",
        "mobile_phone": "3035559876",
    }


def test_create_tags_the_only_location(connectors, agency, connection):
    from hub.models import Location

    agency.locations.append(Location(remote_id="42", name="Main Office"))
    db.session.commit()

    applied = create(connectors, agency, connection)

    assert read(connectors, connection, applied.remote_ids["patient"]).location == "42"


def test_location_given_by_name_is_written_as_its_id(connectors, agency, connection):
    from hub.models import Location

    agency.locations.extend(
        [
            Location(remote_id="42", name="Main Office"),
            Location(remote_id="43", name="North"),
        ]
    )
    db.session.commit()

    applied = create(connectors, agency, connection, MARGARET.replace(location="north"))

    assert read(connectors, connection, applied.remote_ids["patient"]).location == "43"


def test_unknown_location_is_reported_before_any_call(
    connectors, agency, connection, control, account
):
    from hub.models import Location

    agency.locations.append(Location(remote_id="42", name="Main Office"))
    db.session.commit()

    with pytest.raises(NeedsAttention) as failure:
        create(connectors, agency, connection, MARGARET.replace(location="Elsewhere"))

    assert "'Elsewhere' is not one of the ClearCare locations" in failure.value.message
    assert "(Main Office)" in failure.value.message
    assert requests_made(control, account)["by_path"] == {}


def test_update_sends_only_what_changed(
    connectors, agency, connection, control, account
):
    patient_id = create(connectors, agency, connection).remote_ids["patient"]
    before = requests_made(control, account)["writes"]

    applied = change(
        connectors,
        agency,
        connection,
        patient_id,
        Prospect(city="Denver", email="new@example.com"),
        ChangeKind.UPDATED,
    )
    unchanged = change(
        connectors,
        agency,
        connection,
        patient_id,
        Prospect(city="Denver"),
        ChangeKind.UPDATED,
    )

    prospect = read(connectors, connection, patient_id)
    assert applied.wrote and not unchanged.wrote
    assert requests_made(control, account)["writes"] == before + 1
    assert prospect.city == "Denver"
    assert prospect.email == "new@example.com"
    assert prospect.street == "456 Oak Ave"
    assert prospect.mobile_phone == "3035559876"
    assert prospect.first_name == "Margaret"


def test_prospect_moves_through_all_twelve_statuses(connectors, agency, connection):
    connection.settings = {
        **connection.settings,
        "collect_payment_status_confirmed": True,
    }
    patient_id = create(connectors, agency, connection).remote_ids["patient"]

    seen = []
    for status in ProspectStatus:
        prospect = MARGARET.replace(status=status)
        applied = change(
            connectors,
            agency,
            connection,
            patient_id,
            prospect,
            ChangeKind.STATUS_CHANGED,
        )
        assert applied.fingerprint == prospect.fingerprint()
        back = read(connectors, connection, patient_id)
        seen.append(back.status)
        if status is ProspectStatus.CARE_STARTED:
            assert back.is_client is True

    assert seen == list(ProspectStatus)


def test_only_the_fields_a_change_names_are_written(connectors, agency, connection):
    patient_id = create(connectors, agency, connection).remote_ids["patient"]
    stale = MARGARET.replace(city="Old Town", status=ProspectStatus.NEEDS_CONTRACT)

    connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(
            kind=ChangeKind.UPDATED,
            prospect=stale.replace(email="only@example.com"),
            remote_ids={"patient": patient_id},
            data={"changed": ["email"]},
        ),
    )
    change(connectors, agency, connection, patient_id, stale, ChangeKind.STATUS_CHANGED)

    prospect = read(connectors, connection, patient_id)
    assert prospect.email == "only@example.com"
    assert prospect.city == "Colorado Springs"
    assert prospect.status is ProspectStatus.NEEDS_CONTRACT


def test_unconfirmed_collect_payment_is_not_written(
    connectors, agency, connection, control, account
):
    patient_id = create(connectors, agency, connection).remote_ids["patient"]
    before = requests_made(control, account)["writes"]
    reads_before = requests_made(control, account)["reads"]

    with pytest.raises(NeedsAttention):
        change(
            connectors,
            agency,
            connection,
            patient_id,
            Prospect(status=ProspectStatus.COLLECT_PAYMENT_INFORMATION),
            ChangeKind.STATUS_CHANGED,
        )

    assert requests_made(control, account)["writes"] == before
    assert requests_made(control, account)["reads"] == reads_before


def test_missing_required_field_is_named_before_any_call(
    connectors, agency, connection, control, account
):
    agency.settings = {"required_fields": ["first_name", "last_name", "city"]}
    db.session.commit()

    with pytest.raises(NeedsAttention) as failure:
        create(connectors, agency, connection, Prospect(first_name="A", last_name="B"))

    assert "lacks city" in failure.value.message
    assert f"'{agency.slug}'" in failure.value.message
    assert requests_made(control, account)["by_path"] == {}


def test_refused_phone_is_reported_not_sent(
    connectors, agency, connection, control, account
):
    prospect = MARGARET.replace(phone="555-0142")

    with pytest.raises(NeedsAttention) as failure:
        create(connectors, agency, connection, prospect)

    assert "'555-0142'" in failure.value.message
    assert "10 digits" in failure.value.message
    assert requests_made(control, account)["by_path"] == {}


def test_clearcare_422_names_a_further_required_field(
    connectors, app_ctx, control, make_agency
):
    strict = control.create_account("Strict", required_fields=["address[0].postalCode"])
    agency = make_agency(strict, slug="strict")

    with pytest.raises(NeedsAttention) as failure:
        create(
            connectors,
            agency,
            agency.connection("clearcare"),
            MARGARET.replace(postal_code=None),
        )

    assert "'address[0].postalCode' is required." in failure.value.message
    assert "Add postal code to the required fields" in failure.value.message


def test_lost_create_answer_leaves_one_patient(
    connectors, agency, connection, control, account, app_ctx
):
    app_ctx.config["HUB_CLEARCARE_TIMEOUT"] = 0.3
    control.fault(count=1, latency_ms=1200, path_prefix="/v1/patients/")

    with pytest.raises(RemoteUnavailable):
        create(connectors, agency, connection)
    db.session.commit()
    assert connection.state["create_intents"]["link-1"]["at"] > 0

    with client_for(connection) as api:
        deadline = time.monotonic() + 5
        while not list(api.search_patients()) and time.monotonic() < deadline:
            time.sleep(0.05)
    app_ctx.config["HUB_CLEARCARE_TIMEOUT"] = 5
    applied = create(connectors, agency, connection)

    with client_for(connection) as api:
        patients = list(api.search_patients())
    assert [p["id"] for p in patients] == [applied.remote_ids["patient"]]
    assert requests_made(control, account)["by_path"]["POST /v1/patients/"] == 1
    assert connection.state["create_intents"] == {}


def test_a_create_the_hub_tried_before_is_looked_for_without_a_record_here(
    connectors, agency, connection, control, account, app_ctx
):
    app_ctx.config["HUB_CLEARCARE_TIMEOUT"] = 0.3
    control.fault(count=1, latency_ms=1200, path_prefix="/v1/patients/")
    with pytest.raises(RemoteUnavailable):
        create(connectors, agency, connection)
    # Another worker's write of the connection's state replaced the record.
    connection.state = {**connection.state, "create_intents": {}}
    db.session.commit()
    with client_for(connection) as api:
        deadline = time.monotonic() + 5
        while not list(api.search_patients()) and time.monotonic() < deadline:
            time.sleep(0.05)
    app_ctx.config["HUB_CLEARCARE_TIMEOUT"] = 5

    applied = connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(
            kind=ChangeKind.CREATED,
            prospect=MARGARET,
            link_key="link-1",
            data={"intent_at": "2026-01-01T00:00:00Z", "tried_before": True},
        ),
    )

    with client_for(connection) as api:
        patients = list(api.search_patients())
    assert [p["id"] for p in patients] == [applied.remote_ids["patient"]]
    assert requests_made(control, account)["by_path"]["POST /v1/patients/"] == 1


def test_a_first_try_makes_one_call(connectors, agency, connection, control, account):
    applied = connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(
            kind=ChangeKind.CREATED,
            prospect=MARGARET,
            link_key="link-2",
            data={"intent_at": "2026-01-01T00:00:00Z"},
        ),
    )

    assert applied.remote_ids["patient"]
    made = requests_made(control, account)["by_path"]
    assert {k: v for k, v in made.items() if "oauth" not in k} == {
        "POST /v1/patients/": 1
    }


def test_a_create_whose_intent_the_hub_holds_keeps_no_record_here(
    connectors, agency, connection, control, account, app_ctx
):
    """With ``intent_at`` the hub holds the intent: a lost answer leaves the
    connection's state untouched, and the hub's retry finds the patient."""
    hub_change = Change(
        kind=ChangeKind.CREATED,
        prospect=MARGARET,
        link_key="link-3",
        data={"intent_at": "2026-01-01T00:00:00Z"},
    )
    state_before = dict(connection.state or {})
    app_ctx.config["HUB_CLEARCARE_TIMEOUT"] = 0.3
    control.fault(count=1, latency_ms=1200, path_prefix="/v1/patients/")
    with pytest.raises(RemoteUnavailable):
        connectors.apply_change("clearcare", agency, connection, hub_change)
    db.session.commit()
    db.session.expire_all()
    assert (connection.state or {}) == state_before

    with client_for(connection) as api:
        deadline = time.monotonic() + 5
        while not list(api.search_patients()) and time.monotonic() < deadline:
            time.sleep(0.05)
    app_ctx.config["HUB_CLEARCARE_TIMEOUT"] = 5
    retry = replace(hub_change, data={**hub_change.data, "tried_before": True})
    applied = connectors.apply_change("clearcare", agency, connection, retry)

    with client_for(connection) as api:
        patients = list(api.search_patients())
    assert [p["id"] for p in patients] == [applied.remote_ids["patient"]]
    assert requests_made(control, account)["by_path"]["POST /v1/patients/"] == 1
    assert (connection.state or {}) == state_before


def test_deactivation_is_written(connectors, agency, connection):
    patient_id = create(connectors, agency, connection).remote_ids["patient"]

    change(connectors, agency, connection, patient_id, MARGARET, ChangeKind.DEACTIVATED)

    assert read(connectors, connection, patient_id).active is False


def test_update_of_a_deleted_patient_needs_attention(connectors, agency, connection):
    with pytest.raises(NeedsAttention) as failure:
        change(
            connectors,
            agency,
            connection,
            "12345",
            Prospect(city="Denver"),
            ChangeKind.UPDATED,
        )

    assert "patient 12345" in failure.value.message
