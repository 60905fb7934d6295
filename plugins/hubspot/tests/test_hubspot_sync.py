"""The sync hooks against the sandbox: connect, read, map, write, poll, and limits."""

from __future__ import annotations

import logging
import time

import pytest

from carehub_hubspot import apply, paths
from carehub_hubspot.client import HubSpotClient
from hub.canonical import (
    Change,
    ChangeKind,
    Direction,
    Prospect,
    ProspectStatus,
    RecordRef,
)
from hub.errors import AuthenticationFailed, NeedsAttention
from hub.extensions import db
from hub.models import Connection

DEALS_UPSERT = paths.path("objects_batch", object_type="deals", action="upsert")


def create_contact(world, portal, **properties):
    path = paths.path("objects", object_type="contacts")
    return world.api(portal, "POST", path, json={"properties": properties})["id"]


def linked(contact_id, link_key, patient="p-1", prospect=None):
    return Change(
        kind=ChangeKind.LINKED,
        ref=RecordRef("contact", str(contact_id)),
        prospect=prospect or Prospect(first_name="Ann", last_name="Lee"),
        link_key=link_key,
        remote_ids={"contact": str(contact_id)},
        other_ids={"patient": patient},
    )


def deals_with_link(world, portal, link_key):
    body = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "carehub_link_id",
                        "operator": "EQ",
                        "value": link_key,
                    }
                ]
            }
        ],
        "properties": ["dealstage", "pipeline", "carehub_link_id"],
    }
    path = paths.path("objects_search", object_type="deals")
    return world.api(portal, "POST", path, json=body)["results"]


@pytest.fixture
def provisioned(world):
    """Return a professional sandbox portal, connected and provisioned."""
    portal = world.new_portal()
    world.hook("connect", portal)
    world.provision(portal)
    return portal


def test_connect_names_the_portal_and_its_time_zone(world):
    portal = world.new_portal()

    connected = world.hook("connect", portal)

    assert connected.facts["portal_id"] == portal.portal_id
    assert connected.facts["time_zone"]
    assert portal.portal_id in connected.account
    assert world.state(portal)["portal_id"] == portal.portal_id


def test_connect_explains_a_refused_token(world):
    portal = world.new_portal()
    world.control.verb("rotate_token", {"account": portal.portal_id})

    with pytest.raises(AuthenticationFailed) as caught:
        world.hook("connect", portal)

    assert "paste it in the HubSpot settings" in caught.value.message
    assert portal.token not in caught.value.message


def test_connect_refuses_an_oauth_token_of_the_sandbox(world):
    portal = world.new_portal(token_kind="oauth")

    with pytest.raises(AuthenticationFailed) as caught:
        world.hook("connect", portal)

    assert "OAuth access token" in caught.value.message
    assert portal.token not in caught.value.message


def test_connect_asks_no_token_info_for_a_private_app_token(world):
    portal = world.new_portal()
    asked = []
    world.rt.session.hooks["response"].append(
        lambda response, *args, **kwargs: asked.append(response.request.path_url)
    )

    world.hook("connect", portal)

    assert asked == ["/_sandbox/hubspot/account-info/v3/details"]


def test_map_status_goes_both_ways_through_the_provisioned_stages(world, provisioned):
    stage_ids = world.state(provisioned)["stage_ids"]

    for status in ProspectStatus:
        native = world.hook(
            "map_status", provisioned, status=status, direction=Direction.TO_NATIVE
        )
        assert native == stage_ids[status.name]
        back = world.hook(
            "map_status", provisioned, status=native, direction=Direction.FROM_NATIVE
        )
        assert back == status
    unknown = world.hook(
        "map_status", provisioned, status="closedwon", direction=Direction.FROM_NATIVE
    )
    assert unknown is None


def test_linking_sets_the_prospect_id_and_upserts_one_deal(world, provisioned):
    contact_id = create_contact(world, provisioned, firstname="Ann", lastname="Lee")

    first = world.hook("apply_change", provisioned, change=linked(contact_id, "link-1"))
    again = world.hook("apply_change", provisioned, change=linked(contact_id, "link-1"))

    assert first.remote_ids["contact"] == str(contact_id)
    assert first.remote_ids["deal"] == again.remote_ids["deal"]
    [deal] = deals_with_link(world, provisioned, "link-1")
    state = world.state(provisioned)
    assert deal["properties"]["dealstage"] == state["stage_ids"]["NEW_LEAD"]
    assert deal["properties"]["pipeline"] == state["pipeline_id"]
    contact = world.api(
        provisioned,
        "GET",
        paths.path("object", object_type="contacts", id=contact_id),
        params={"properties": "clearcare_prospect_id", "associations": "deals"},
    )
    assert contact["properties"]["clearcare_prospect_id"] == "p-1"
    associated = contact["associations"]["deals"]["results"]
    assert [a["id"] for a in associated] == [deal["id"]]


def test_a_status_change_moves_the_deal_and_reads_back(world, provisioned):
    contact_id = create_contact(world, provisioned, firstname="Bo")
    deal_id = world.hook(
        "apply_change", provisioned, change=linked(contact_id, "link-2")
    ).remote_ids["deal"]
    move = Change(
        kind=ChangeKind.STATUS_CHANGED,
        ref=RecordRef("deal", deal_id),
        prospect=Prospect(status=ProspectStatus.NEEDS_CONTRACT),
        link_key="link-2",
        remote_ids={"deal": deal_id, "contact": str(contact_id)},
    )

    moved = world.hook("apply_change", provisioned, change=move)
    unmoved = world.hook("apply_change", provisioned, change=move)

    assert (moved.wrote, unmoved.wrote) == (True, False)
    prospect = world.hook("fetch_record", provisioned, ref=RecordRef("deal", deal_id))
    assert prospect.status == ProspectStatus.NEEDS_CONTRACT


def test_contact_fields_are_updated_and_read_back(world, provisioned):
    contact_id = create_contact(world, provisioned, firstname="Cy")
    update = Change(
        kind=ChangeKind.UPDATED,
        ref=RecordRef("contact", str(contact_id)),
        prospect=Prospect(
            first_name="Cyrus",
            city="Springfield",
            postal_code="01101",
            location="loc-1",
        ),
        remote_ids={"contact": str(contact_id)},
    )

    wrote = world.hook("apply_change", provisioned, change=update)
    same = world.hook("apply_change", provisioned, change=update)

    assert (wrote.wrote, same.wrote) == (True, False)
    assert wrote.fingerprint == update.prospect.fingerprint()
    prospect = world.hook(
        "fetch_record", provisioned, ref=RecordRef("contact", str(contact_id))
    )
    assert (prospect.first_name, prospect.city, prospect.postal_code) == (
        "Cyrus",
        "Springfield",
        "01101",
    )
    assert prospect.location == "loc-1"


def test_a_prospect_id_held_by_another_contact_needs_attention(world, provisioned):
    first = create_contact(world, provisioned, firstname="Kim")
    second = create_contact(world, provisioned, firstname="Kim")
    world.hook("apply_change", provisioned, change=linked(first, "link-k1", "p-kim"))

    with pytest.raises(NeedsAttention) as caught:
        world.hook(
            "apply_change", provisioned, change=linked(second, "link-k2", "p-kim")
        )

    assert "already" in caught.value.message
    assert "merge" in caught.value.message.lower()


def test_a_record_gone_from_hubspot_reads_as_none(world, provisioned):
    assert (
        world.hook("fetch_record", provisioned, ref=RecordRef("contact", "999999"))
        is None
    )


def test_a_prospect_made_in_clearcare_becomes_a_contact_and_a_deal(world, provisioned):
    create = Change(
        kind=ChangeKind.CREATED,
        prospect=Prospect(
            first_name="Dee", last_name="Park", email="dee@example.org",
            status=ProspectStatus.INITIAL_PHONE_CALL,
        ),
        link_key="link-dee",
        other_ids={"patient": "p-dee"},
    )  # fmt: skip

    applied = world.hook("apply_change", provisioned, change=create)

    [deal] = deals_with_link(world, provisioned, "link-dee")
    assert applied.remote_ids["deal"] == deal["id"]
    assert (
        deal["properties"]["dealstage"]
        == world.state(provisioned)["stage_ids"]["INITIAL_PHONE_CALL"]
    )
    contact = world.hook(
        "fetch_record",
        provisioned,
        ref=RecordRef("contact", applied.remote_ids["contact"]),
    )
    assert contact.email == "dee@example.org"


def test_polling_finds_contacts_and_deals_changed_since_the_cursor(world, provisioned):
    start = world.hook("fetch_changes", provisioned, cursor=None)
    assert start.changes == []
    world.control.advance_clock(1)
    contact_id = create_contact(world, provisioned, firstname="Eve")
    deal_id = world.hook(
        "apply_change", provisioned, change=linked(contact_id, "link-eve")
    ).remote_ids["deal"]

    batch = world.hook("fetch_changes", provisioned, cursor=start.cursor)

    refs = {(c.ref.kind, c.ref.id) for c in batch.changes}
    assert ("contact", str(contact_id)) in refs
    [contact] = [c for c in batch.changes if c.ref.id == str(contact_id)]
    assert contact.other_ids == {"patient": "p-1"}
    assert ("deal", deal_id) in refs
    assert int(batch.cursor) > int(start.cursor)
    again = world.hook("fetch_changes", provisioned, cursor=batch.cursor)
    assert {c.dedup_key for c in again.changes} <= {c.dedup_key for c in batch.changes}


def test_the_overlap_window_catches_what_the_search_index_showed_late(world):
    portal = world.new_portal()
    old = create_contact(world, portal, firstname="Old")
    world.control.advance_clock(60)
    start = world.hook("fetch_changes", portal, cursor=None)
    world.control.verb("search_lag", {"seconds": 30})
    try:
        late = create_contact(world, portal, firstname="Late")
        world.control.advance_clock(5)
        world.api(
            portal,
            "PATCH",
            paths.path("object", object_type="contacts", id=old),
            json={"properties": {"city": "Salem"}},
        )
        first = world.hook("fetch_changes", portal, cursor=start.cursor)
        world.control.advance_clock(31)
        second = world.hook("fetch_changes", portal, cursor=first.cursor)
    finally:
        world.control.verb("search_lag", {"seconds": 0})

    assert [c.ref.id for c in first.changes] == [str(old)]
    assert str(late) in [c.ref.id for c in second.changes]


def test_a_deal_create_whose_answer_is_lost_leaves_one_deal(world, provisioned):
    contact_id = create_contact(world, provisioned, firstname="Fay")
    world.rt.timeout = (2.0, 0.4)
    world.control.fault(1, latency_ms=1200, path_prefix=DEALS_UPSERT)

    applied = world.hook(
        "apply_change", provisioned, change=linked(contact_id, "link-fay")
    )
    time.sleep(1.2)

    deals = deals_with_link(world, provisioned, "link-fay")
    assert [d["id"] for d in deals] == [applied.remote_ids["deal"]]
    assert world.control.counters(provisioned.portal_id)["by_path"][DEALS_UPSERT] >= 2


def test_a_pipeline_create_whose_answer_is_lost_leaves_one_pipeline(world):
    portal = world.new_portal()
    world.rt.timeout = (2.0, 0.4)
    world.control.fault(
        1, latency_ms=1200, path_prefix=paths.path("pipelines", object_type="deals")
    )

    reports = world.provision(portal)
    time.sleep(1.2)

    assert reports.status("pipeline") == "done"
    listed = world.api(portal, "GET", paths.path("pipelines", object_type="deals"))
    labels = [p["label"] for p in listed["results"]]
    assert labels.count("ClearCare_Sales_Pipeline") == 1


def test_a_429_storm_slows_the_client_and_loses_nothing(world, provisioned):
    contacts = [create_contact(world, provisioned, firstname=f"G{i}") for i in range(5)]
    world.control.fault(25, status=429, path_prefix="/crm/")

    for i, contact_id in enumerate(contacts):
        change = linked(contact_id, f"storm-{i}", patient=f"p-storm-{i}")
        world.hook("apply_change", provisioned, change=change)

    for i in range(5):
        assert len(deals_with_link(world, provisioned, f"storm-{i}")) == 1
    waits = [s for s in world.clock.slept if s >= 10]
    assert len(waits) >= 25


def test_the_client_keeps_to_its_share_of_the_portal_limit(world):
    portal = world.new_portal(tier="starter")
    contact_id = create_contact(world, portal, firstname="Hal")
    world.control.advance_clock(11)
    seen = []
    world.rt.session.hooks["response"].append(
        lambda response, *args, **kwargs: seen.append(
            (
                response.status_code,
                response.headers.get("X-HubSpot-RateLimit-Max"),
                response.headers.get("X-HubSpot-RateLimit-Remaining"),
            )
        )
    )

    for _ in range(200):
        world.hook("fetch_record", portal, ref=RecordRef("contact", str(contact_id)))

    assert len(seen) == 200
    assert {status for status, _, _ in seen} == {200}
    limit = int(seen[0][1])
    lowest = min(int(remaining) for _, _, remaining in seen)
    assert lowest >= limit - int(limit * 0.75)
    assert sum(world.clock.slept) >= 10


class TestNeedsAttention:
    """HubSpot's 400 VALIDATION_ERROR for portal-required properties."""

    def test_a_required_property_becomes_a_clear_reason(self, world, scripted, clock):
        portal = world.new_portal()
        contact = paths.path("object", object_type="contacts", id="51")
        scripted.script(contact, (200, {"id": "51", "properties": {}}, {}))
        scripted.script(
            contact,
            (
                400,
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "Property values were not valid",
                    "correlationId": "c-9",
                    "errors": [
                        {
                            "message": "phone is required",
                            "code": "REQUIRED_PROPERTY",
                            "context": {"propertyName": ["phone"]},
                        }
                    ],
                },
                {},
            ),
        )
        client = HubSpotClient(
            "pat-na1-x", base_url=scripted.url, limiter_key="portal:9", rt=world.rt
        )
        change = Change(
            kind=ChangeKind.UPDATED,
            ref=RecordRef("contact", "51"),
            prospect=Prospect(first_name="Ida"),
        )

        with world.app.app_context():
            connection = db.session.get(Connection, portal.connection_id)
            with pytest.raises(NeedsAttention) as caught:
                apply.apply_change(client, connection.agency, connection, change)

        reason = caught.value.message
        assert "HubSpot requires phone" in reason
        assert "replay the event" in reason

    def test_a_location_hubspot_does_not_offer_needs_attention(
        self, world, provisioned
    ):
        contact_id = create_contact(world, provisioned, firstname="Lu")
        change = Change(
            kind=ChangeKind.UPDATED,
            ref=RecordRef("contact", str(contact_id)),
            prospect=Prospect(first_name="Lu", location="loc-nowhere"),
            remote_ids={"contact": str(contact_id)},
        )

        with pytest.raises(NeedsAttention) as caught:
            world.hook("apply_change", provisioned, change=change)

        assert "clearcare_location" in caught.value.message
        assert "refused values" in caught.value.message

    def test_a_portal_required_property_needs_attention_in_the_sandbox(
        self, world, provisioned
    ):
        world.control.verb(
            "required_properties",
            {
                "account": provisioned.portal_id,
                "object_type": "contacts",
                "properties": ["phone"],
            },
        )
        change = Change(
            kind=ChangeKind.CREATED,
            prospect=Prospect(first_name="Jo", last_name="Day"),
            link_key="link-jo",
            other_ids={"patient": "p-jo"},
        )

        with pytest.raises(NeedsAttention) as caught:
            world.hook("apply_change", provisioned, change=change)

        assert "HubSpot requires phone" in caught.value.message
        assert deals_with_link(world, provisioned, "link-jo") == []


def test_deals_already_past_new_lead_are_brought_in_once(world):
    portal = world.new_portal()
    world.hook("connect", portal)
    stages = [
        {"label": s.label, "displayOrder": s.position, "metadata": {"probability": p}}
        for s, p in zip(
            ProspectStatus,
            ["0.1"] * 10 + ["1.0", "0.0"],
            strict=True,
        )
    ]
    made = world.api(
        portal,
        "POST",
        paths.path("pipelines", object_type="deals"),
        json={"label": "ClearCare_Sales_Pipeline", "displayOrder": 1, "stages": stages},
    )
    by_label = {s["label"]: s["id"] for s in made["stages"]}
    old = world.api(
        portal,
        "POST",
        paths.path("objects", object_type="deals"),
        json={
            "properties": {
                "dealname": "Old deal",
                "pipeline": made["id"],
                "dealstage": by_label["Assessment Performed"],
            }
        },
    )
    world.api(
        portal,
        "POST",
        paths.path("objects", object_type="deals"),
        json={
            "properties": {
                "dealname": "New lead",
                "pipeline": made["id"],
                "dealstage": by_label["New Lead"],
            }
        },
    )

    reports = world.provision(portal)
    first = world.hook("fetch_changes", portal, cursor=None)
    second = world.hook("fetch_changes", portal, cursor=None)

    assert "reconciliation brings in" in reports.detail("deal_workflow")
    assert world.state(portal)["pipeline_id"] == made["id"]
    assert [(c.kind, c.ref) for c in first.changes] == [
        (ChangeKind.STATUS_CHANGED, RecordRef("deal", old["id"]))
    ]
    assert second.changes == []


def test_an_oauth_access_token_is_refused_with_the_reason(world, scripted, caplog):
    from carehub_hubspot import connect as connecting

    caplog.set_level(logging.DEBUG, logger="urllib3")

    scripted.script(
        paths.path("account_details"),
        (200, {"portalId": 7, "timeZone": "US/Eastern"}, {}),
    )
    scripted.script(
        paths.path("oauth_token", token="CJSomeOAuthToken"),
        (200, {"hub_id": 7, "expires_in": 1700, "token_type": "access"}, {}),
    )
    client = HubSpotClient(
        "CJSomeOAuthToken", base_url=scripted.url, limiter_key="portal:7", rt=world.rt
    )
    portal = world.new_portal()

    with world.app.app_context():
        connection = db.session.get(Connection, portal.connection_id)
        with pytest.raises(AuthenticationFailed) as caught:
            connecting.connect(client, connection, "CJSomeOAuthToken")

    assert "expires within minutes" in caught.value.message
    assert "Service Key or a private-app token" in caught.value.message
    assert "CJSomeOAuthToken" not in caught.value.message
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("urllib3")
    )
    assert "access-tokens" in ours
    assert "CJSomeOAuthToken" not in ours


def test_an_agencys_status_override_wins(world, provisioned):
    with world.app.app_context():
        connection = db.session.get(Connection, provisioned.connection_id)
        connection.agency.settings = {
            "status_overrides": {"hubspot": {"Closed-Won": "closedwon"}}
        }
        db.session.commit()

    native = world.hook(
        "map_status",
        provisioned,
        status=ProspectStatus.CLOSED_WON,
        direction=Direction.TO_NATIVE,
    )
    back = world.hook(
        "map_status", provisioned, status="closedwon", direction=Direction.FROM_NATIVE
    )

    assert (native, back) == ("closedwon", ProspectStatus.CLOSED_WON)


def test_a_deal_outside_the_provisioned_pipeline_has_no_status(world, provisioned):
    deal = world.api(
        provisioned,
        "POST",
        paths.path("objects", object_type="deals"),
        json={
            "properties": {
                "dealname": "Other",
                "pipeline": "default",
                "dealstage": "closedwon",
            }
        },
    )

    prospect = world.hook(
        "fetch_record", provisioned, ref=RecordRef("deal", deal["id"])
    )

    assert prospect is not None and prospect.status is None


def test_a_deactivation_writes_nothing(world, provisioned):
    change = Change(
        kind=ChangeKind.DEACTIVATED,
        ref=RecordRef("contact", "1"),
        prospect=Prospect(active=False),
        remote_ids={"contact": "1", "deal": "2"},
    )
    writes = world.writes(provisioned)

    applied = world.hook("apply_change", provisioned, change=change)

    assert applied.wrote is False
    assert applied.remote_ids == {"contact": "1", "deal": "2"}
    assert world.writes(provisioned) == writes


def test_the_settings_take_a_blank_app_id_as_none(world):
    from hub.settings import save_settings

    with world.app.app_context():
        info = world.app.extensions["hub.connectors"].info("hubspot")
        connection = Connection(connector="hubspot", settings={})
        save_settings(
            connection,
            info,
            {"access_token": "pat-na1-x", "app_id": "", "client_secret": ""},
        )

        assert connection.settings["app_id"] is None
        assert connection.credentials == {"access_token": "pat-na1-x"}


def test_the_settings_refuse_an_app_id_that_is_not_a_number(world):
    from hub.errors import BadRequest
    from hub.settings import save_settings

    with world.app.app_context():
        info = world.app.extensions["hub.connectors"].info("hubspot")
        connection = Connection(connector="hubspot", settings={})
        with pytest.raises(BadRequest, match="app id is a number"):
            save_settings(
                connection, info, {"access_token": "pat-na1-x", "app_id": "my-app"}
            )
