"""Registration, connect, map_status and fetch_changes, through the hub's facade."""

from __future__ import annotations

import pytest

from carehub_clearcare.statuses import STATUS_IDS
from hub import ChangeKind, Direction, ProspectStatus, RecordRef, Role
from hub.errors import AuthenticationFailed, NeedsAttention
from hub.extensions import db


def test_connector_is_registered_with_its_sandbox(connectors, app_ctx):
    info = connectors.info("clearcare")

    assert info.label == "ClearCare"
    assert info.role is Role.CARE
    assert info.secret_fields() == {"client_secret"}
    assert info.webhook_purposes == ("clearcare.event",)
    assert info.provision_steps == ("locations", "subscriptions")
    assert "clearcare" in app_ctx.extensions["hub.sandbox"].mounted


def test_connect_names_the_agency_and_its_locations(connectors, agency, connection):
    connected = connectors.connect("clearcare", agency, connection)

    assert connected.account == (
        f"ClearCare agency {connection.setting('agency_id')} (Sunrise Care)"
    )
    assert connected.facts["subdomain"] == "sunrisecare"
    assert [loc.name for loc in connected.agency_facts.locations] == [
        "Main Office",
        "North Branch",
    ]


def test_connect_says_when_the_agency_id_is_wrong(connectors, agency, connection):
    connection.settings = {**connection.settings, "agency_id": "9999"}

    with pytest.raises(NeedsAttention) as failure:
        connectors.connect("clearcare", agency, connection)

    assert "not to agency 9999" in failure.value.message
    assert "Correct the agency id" in failure.value.message


def test_connect_says_when_the_secret_is_wrong(connectors, make_agency, account):
    agency = make_agency({**account, "client_secret": "not-it"}, slug="wrong")

    with pytest.raises(AuthenticationFailed) as failure:
        connectors.connect("clearcare", agency, agency.connection("clearcare"))

    assert "client id and secret" in failure.value.message


def test_connect_says_when_a_credential_is_missing(connectors, make_agency, account):
    agency = make_agency({**account, "client_id": ""}, slug="empty")

    with pytest.raises(NeedsAttention) as failure:
        connectors.connect("clearcare", agency, agency.connection("clearcare"))

    assert "lacks its client id" in failure.value.message


def test_statuses_map_to_the_documented_ids(connectors, connection):
    connection.settings = {
        **connection.settings,
        "collect_payment_status_confirmed": True,
    }

    for status in ProspectStatus:
        native = connectors.map_status(
            "clearcare", connection, status, Direction.TO_NATIVE
        )
        assert native == STATUS_IDS[status]
        back = connectors.map_status(
            "clearcare", connection, native, Direction.FROM_NATIVE
        )
        assert back is status


@pytest.mark.parametrize(
    ("native", "status"),
    (
        ("Closed - Lost", ProspectStatus.CLOSED_LOST),
        ("Closed-Lost", ProspectStatus.CLOSED_LOST),
        ("Closed - Won", ProspectStatus.CLOSED_WON),
        ("Closed-Won", ProspectStatus.CLOSED_WON),
        (90, ProspectStatus.CLOSED_LOST),
        ("1", ProspectStatus.NEW_LEAD),
        ("777", None),
    ),
)
def test_native_statuses_are_read_in_every_spelling(
    connectors, connection, native, status
):
    found = connectors.map_status(
        "clearcare", connection, native, Direction.FROM_NATIVE
    )

    assert found is status


def test_collect_payment_needs_confirmation(connectors, connection):
    with pytest.raises(NeedsAttention) as failure:
        connectors.map_status(
            "clearcare",
            connection,
            ProspectStatus.COLLECT_PAYMENT_INFORMATION,
            Direction.TO_NATIVE,
        )

    assert "not confirmed" in failure.value.message
    assert (
        connectors.map_status("clearcare", connection, "65", Direction.FROM_NATIVE)
        is None
    )


def test_agency_overrides_win(connectors, agency, connection):
    agency.settings = {
        "status_overrides": {
            "clearcare": {"Needs Contract": "55", "Collect Payment Information": "67"}
        }
    }
    db.session.commit()

    assert (
        connectors.map_status(
            "clearcare", connection, ProspectStatus.NEEDS_CONTRACT, Direction.TO_NATIVE
        )
        == "55"
    )
    assert (
        connectors.map_status("clearcare", connection, "67", Direction.FROM_NATIVE)
        is ProspectStatus.COLLECT_PAYMENT_INFORMATION
    )


def test_fetch_changes_returns_patients_updated_since_the_cursor(
    connectors, agency, connection
):
    from hub import Change, Prospect

    first = connectors.fetch_changes("clearcare", connection, None)
    applied = connectors.apply_change(
        "clearcare",
        agency,
        connection,
        Change(
            kind=ChangeKind.CREATED,
            prospect=Prospect(first_name="Ann", last_name="Poll"),
            link_key="poll-1",
        ),
    )

    batch = connectors.fetch_changes("clearcare", connection, first.cursor)

    assert first.changes == [] and first.cursor
    assert [c.ref for c in batch.changes] == [
        RecordRef("patient", applied.remote_ids["patient"])
    ]
    assert batch.changes[0].prospect.last_name == "Poll"
    assert batch.changes[0].dedup_key.startswith(
        f"poll:{applied.remote_ids['patient']}:"
    )
    assert batch.cursor >= first.cursor


def test_fetch_record_of_a_missing_patient_is_none(connectors, connection):
    assert (
        connectors.fetch_record("clearcare", connection, RecordRef("patient", "1"))
        is None
    )
