"""The batch hooks against the sandbox: list_records, fetch_records, apply_changes.

Each test counts the calls the hook made with the sandbox's counters, since the
point of these hooks is to cost a few calls per hundred people instead of several
per person.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from carehub_hubspot import paths
from hub.canonical import (
    Applied,
    Change,
    ChangeKind,
    Prospect,
    ProspectStatus,
    RecordPage,
    RecordRef,
)
from hub.errors import NeedsAttention

CONTACTS_LIST = paths.path("objects", object_type="contacts")
CONTACTS_CREATE = paths.path("objects_batch", object_type="contacts", action="create")
CONTACTS_READ = paths.path("objects_batch", object_type="contacts", action="read")
CONTACTS_UPDATE = paths.path("objects_batch", object_type="contacts", action="update")
DEALS_CREATE = paths.path("objects_batch", object_type="deals", action="create")
DEALS_READ = paths.path("objects_batch", object_type="deals", action="read")
DEALS_UPSERT = paths.path("objects_batch", object_type="deals", action="upsert")
DEALS_UPDATE = paths.path("objects_batch", object_type="deals", action="update")
ASSOCIATE = paths.path(
    "associations_batch", from_type="deals", to_type="contacts", action="create"
)
STATUSES = list(ProspectStatus)


class Calls:
    """Counts the API calls a portal makes from now on, by path."""

    def __init__(self, world, portal) -> None:
        self.world = world
        self.portal = portal
        self.start = self._now()

    def _now(self) -> dict:
        return self.world.control.counters(account=self.portal.portal_id)["by_path"]

    def made(self) -> dict[str, int]:
        """Return the calls made since the start, by path."""
        now = self._now()
        return {
            path: count - self.start.get(path, 0)
            for path, count in now.items()
            if count != self.start.get(path, 0)
        }


@pytest.fixture(autouse=True)
def patient_client(world):
    """Give the sandbox time to answer a batch of 100 on a busy machine, so that
    no call is tried twice and counted twice."""
    world.rt.timeout = (5.0, 60.0)


@pytest.fixture
def provisioned(world):
    """Return a professional sandbox portal, connected and provisioned."""
    portal = world.new_portal()
    world.hook("connect", portal)
    world.provision(portal)
    return portal


def create_contacts(world, portal, properties: list[dict]) -> list[str]:
    """Create contacts 100 a call; return their ids in the order given."""
    ids = []
    for start in range(0, len(properties), 100):
        chunk = properties[start : start + 100]
        inputs = [
            {"properties": p, "objectWriteTraceId": str(i)} for i, p in enumerate(chunk)
        ]
        answer = world.api(portal, "POST", CONTACTS_CREATE, json={"inputs": inputs})
        by_email = {r["properties"]["email"]: r["id"] for r in answer["results"]}
        ids += [by_email[p["email"]] for p in chunk]
    return ids


def people(count: int, **extra) -> list[dict]:
    """Return the properties of ``count`` contacts, each with its own email."""
    return [
        {
            "firstname": f"Pat{n}",
            "lastname": "Lane",
            "email": f"pat{n}@example.org",
            "city": "Salem",
            **extra,
        }
        for n in range(count)
    ]


def create_deals(world, portal, deals: list[tuple[str, dict]]) -> list[str]:
    """Create deals 100 a call, each associated with a contact; return their ids."""
    ids = []
    for start in range(0, len(deals), 100):
        inputs = [
            {
                "properties": {"dealname": f"Deal of {contact_id}", **properties},
                "associations": [
                    {
                        "to": {"id": contact_id},
                        "types": [
                            {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": 3,
                            }
                        ],
                    }
                ],
            }
            for contact_id, properties in deals[start : start + 100]
        ]
        answer = world.api(portal, "POST", DEALS_CREATE, json={"inputs": inputs})
        ids += [r["id"] for r in answer["results"]]
    return ids


def listed(world, portal) -> dict[str, dict]:
    """Return every live contact with its prospect id and deal ids, by id."""
    found, after = {}, None
    while True:
        params = {
            "limit": 100,
            "properties": "clearcare_prospect_id,city",
            "associations": "deals",
        }
        if after:
            params["after"] = after
        page = world.api(portal, "GET", CONTACTS_LIST, params=params)
        found.update({c["id"]: c for c in page["results"]})
        after = page.get("paging", {}).get("next", {}).get("after")
        if after is None:
            return found


def deals_of(contact: dict) -> list[str]:
    """Return the ids of the deals a listed contact is associated with."""
    associated = contact.get("associations", {}).get("deals", {})
    return [deal["id"] for deal in associated.get("results", [])]


def read_deals(world, portal, deal_ids: list[str]) -> dict[str, dict]:
    body = {
        "inputs": [{"id": i} for i in deal_ids],
        "properties": ["dealstage", "pipeline", "carehub_link_id", "dealname"],
    }
    answer = world.api(portal, "POST", DEALS_READ, json=body)
    return {r["id"]: r["properties"] for r in answer["results"]}


def fresh_window(world) -> None:
    """Let the sandbox's rate window of the setup calls pass."""
    world.control.advance_clock(11)


# -- list_records --------------------------------------------------------------------


def test_list_records_pages_through_every_contact_with_its_deal(world, provisioned):
    state = world.state(provisioned)
    stage_ids, pipeline_id = state["stage_ids"], state["pipeline_id"]
    patients = {n: f"p-{n}" for n in range(0, 250, 7)}
    contact_ids = create_contacts(
        world,
        provisioned,
        [
            {**p, **({"clearcare_prospect_id": patients[n]} if n in patients else {})}
            for n, p in enumerate(people(250))
        ],
    )
    pipeline = {n: STATUSES[n % 12] for n in range(0, 250, 3)}
    made = create_deals(
        world,
        provisioned,
        [
            (contact_ids[n], {"pipeline": pipeline_id, "dealstage": stage_ids[s.name]})
            for n, s in pipeline.items()
        ]
        + [
            (contact_ids[n], {"pipeline": "default", "dealstage": "closedwon"})
            for n in range(1, 250, 5)
        ]
        # Contact 4 has a deal made by hand and, later, the hub's: the hub's wins.
        + [
            (
                contact_ids[4],
                {"pipeline": pipeline_id, "dealstage": stage_ids["NEW_LEAD"]},
            ),
            (
                contact_ids[4],
                {
                    "pipeline": pipeline_id,
                    "dealstage": stage_ids["CARE_STARTED"],
                    "carehub_link_id": "link-four",
                },
            ),
        ],
    )
    deal_of = {contact_ids[n]: made[i] for i, n in enumerate(pipeline)}
    deal_of[contact_ids[4]] = made[-1]
    pipeline[4] = ProspectStatus.CARE_STARTED
    world.api(provisioned, "DELETE", f"{CONTACTS_LIST}/{contact_ids[10]}")
    live = [c for n, c in enumerate(contact_ids) if n != 10]
    fresh_window(world)

    pages, costs, after = [], [], None
    while True:
        calls = Calls(world, provisioned)
        page = world.hook("list_records", provisioned, after=after, limit=100)
        costs.append(calls.made())
        pages.append(page)
        after = page.after
        if after is None:
            break

    assert all(isinstance(page, RecordPage) for page in pages)
    assert [len(page.records) for page in pages] == [100, 100, 49]
    records = [record for page in pages for record in page.records]
    assert [r.ref for r in records] == [RecordRef("contact", c) for c in live]
    assert costs == [{CONTACTS_LIST: 1, DEALS_READ: 1}] * 3
    for n, contact_id in enumerate(contact_ids):
        if n == 10:
            continue
        [record] = [r for r in records if r.ref.id == contact_id]
        assert record.kind == ChangeKind.CREATED
        assert record.purpose == "contact.created"
        assert record.dedup_key == f"hubspot:backfill:contact:{contact_id}"
        assert record.prospect.first_name == f"Pat{n}"
        assert record.prospect.email == f"pat{n}@example.org"
        assert record.prospect.status == pipeline.get(n)
        expected_ids = {"contact": contact_id}
        if n in pipeline:
            expected_ids["deal"] = deal_of[contact_id]
        assert record.remote_ids == expected_ids
        expected_other = {"patient": patients[n]} if n in patients else {}
        assert record.other_ids == expected_other


def test_list_records_reads_no_deals_where_there_are_none(world):
    portal = world.new_portal()
    world.hook("connect", portal)
    contact_ids = create_contacts(world, portal, people(3))
    create_deals(world, portal, [(contact_ids[0], {"dealstage": "closedwon"})])
    fresh_window(world)

    # Before provisioning no deal can be in the pipeline, so none is read.
    calls = Calls(world, portal)
    first = world.hook("list_records", portal, after=None, limit=2)
    last = world.hook("list_records", portal, after=first.after, limit=500)

    assert calls.made() == {CONTACTS_LIST: 2}
    assert [r.ref.id for r in first.records + last.records] == contact_ids
    assert last.after is None
    assert first.records[0].remote_ids == {"contact": contact_ids[0]}
    assert first.records[0].prospect.status is None


# -- fetch_records -------------------------------------------------------------------


def test_fetch_records_reads_what_fetch_record_reads(world, provisioned):
    state = world.state(provisioned)
    contact_ids = create_contacts(
        world,
        provisioned,
        [
            {**p, "zip": f"0{n:04d}", "clearcare_location": "loc-1", "phone": ""}
            for n, p in enumerate(people(120))
        ],
    )
    deal_ids = create_deals(
        world,
        provisioned,
        [
            (
                contact_ids[0],
                {
                    "pipeline": state["pipeline_id"],
                    "dealstage": state["stage_ids"]["NEEDS_CONTRACT"],
                },
            ),
            (contact_ids[1], {"pipeline": "default", "dealstage": "closedwon"}),
        ],
    )
    world.api(provisioned, "DELETE", f"{CONTACTS_LIST}/{contact_ids[5]}")
    refs = [RecordRef("contact", c) for c in contact_ids] + [
        RecordRef("contact", "999999"),
        RecordRef("contact", "not-an-id"),
        RecordRef("deal", deal_ids[0]),
        RecordRef("deal", deal_ids[1]),
        RecordRef("deal", "888888"),
    ]
    fresh_window(world)

    calls = Calls(world, provisioned)
    found = world.hook("fetch_records", provisioned, refs=refs)
    made = calls.made()

    assert made == {CONTACTS_READ: 2, DEALS_READ: 1}
    assert set(found) == set(refs)
    for ref in refs:
        assert found[ref] == world.hook("fetch_record", provisioned, ref=ref), ref
    assert found[RecordRef("contact", contact_ids[7])] == Prospect(
        first_name="Pat7",
        last_name="Lane",
        email="pat7@example.org",
        phone="",
        city="Salem",
        postal_code="00007",
        location="loc-1",
    )
    gone = [ref for ref in refs if found[ref] is None]
    assert gone == [
        RecordRef("contact", contact_ids[5]),
        RecordRef("contact", "999999"),
        RecordRef("contact", "not-an-id"),
        RecordRef("deal", "888888"),
    ]
    assert found[RecordRef("deal", deal_ids[0])].status == ProspectStatus.NEEDS_CONTRACT
    assert found[RecordRef("deal", deal_ids[1])] == Prospect(status=None)


def test_fetch_records_refuses_a_kind_hubspot_has_not(world, provisioned):
    with pytest.raises(ValueError, match="contacts or deals"):
        world.hook("fetch_records", provisioned, refs=[RecordRef("ticket", "1")])


# -- apply_changes -------------------------------------------------------------------


def linked_changes(contact_ids: list[str]) -> list[Change]:
    """Return one linked change for each contact, cycling through the statuses."""
    return [
        Change(
            kind=ChangeKind.LINKED,
            ref=RecordRef("contact", contact_id),
            prospect=Prospect(
                first_name=f"Pat{n}",
                last_name="Lane",
                email=f"pat{n}@example.org",
                city="Boston" if n % 2 else "Salem",
                status=STATUSES[n % 12],
            ),
            link_key=f"link-{contact_id}",
            remote_ids={"contact": contact_id},
            other_ids={"patient": f"p-{contact_id}"},
        )
        for n, contact_id in enumerate(contact_ids)
    ]


def test_apply_changes_links_100_people_in_three_calls(world, provisioned):
    state = world.state(provisioned)
    contact_ids = create_contacts(world, provisioned, people(100))
    changes = linked_changes(contact_ids)
    fresh_window(world)

    calls = Calls(world, provisioned)
    applied = world.hook("apply_changes", provisioned, changes=changes)

    assert calls.made() == {CONTACTS_UPDATE: 1, DEALS_UPSERT: 1, ASSOCIATE: 1}
    contacts = listed(world, provisioned)
    deals = read_deals(world, provisioned, [a.remote_ids["deal"] for a in applied])
    for n, (change, result) in enumerate(zip(changes, applied, strict=True)):
        contact_id = change.ref.id
        contact = contacts[contact_id]
        assert contact["properties"]["clearcare_prospect_id"] == f"p-{contact_id}"
        assert contact["properties"]["city"] == change.prospect.city
        assert deals_of(contact) == [result.remote_ids["deal"]]
        deal = deals[result.remote_ids["deal"]]
        assert deal["dealstage"] == state["stage_ids"][STATUSES[n % 12].name]
        assert deal["pipeline"] == state["pipeline_id"]
        assert deal["carehub_link_id"] == change.link_key
        assert deal["dealname"] == f"Pat{n} Lane"
        assert result == Applied(
            remote_ids={"contact": contact_id, "deal": result.remote_ids["deal"]},
            fingerprint=change.prospect.fingerprint(),
            wrote=True,
        )

    again = world.hook("apply_changes", provisioned, changes=changes)
    one_by_one = [
        world.hook("apply_change", provisioned, change=change) for change in changes
    ]

    assert again == applied
    assert one_by_one == applied
    contacts = listed(world, provisioned)
    assert all(len(deals_of(contacts[c])) == 1 for c in contact_ids)


def test_a_deal_the_person_has_already_is_linked_not_doubled(world, provisioned):
    state = world.state(provisioned)
    contact_ids = create_contacts(world, provisioned, people(4))
    stage = {"pipeline": state["pipeline_id"], "dealstage": state["stage_ids"]}
    deal_ids = create_deals(
        world,
        provisioned,
        [
            (c, {**stage, "dealstage": state["stage_ids"]["NEEDS_CONTRACT"]})
            for c in contact_ids[:3]
        ],
    )
    every = linked_changes(contact_ids)
    changes = [
        replace(
            change,
            prospect=change.prospect.replace(status=ProspectStatus.NEEDS_CONTRACT),
            remote_ids={**change.remote_ids, "deal": deal_id},
        )
        for change, deal_id in zip(every[:3], deal_ids, strict=True)
    ]
    # The fourth names a deal that was deleted since: it gets a new one.
    gone = replace(
        every[3], remote_ids={"contact": contact_ids[3], "deal": "987654321"}
    )
    fresh_window(world)

    calls = Calls(world, provisioned)
    applied = world.hook("apply_changes", provisioned, changes=changes)
    made = calls.made()
    alone = world.hook("apply_change", provisioned, change=gone)

    assert made == {CONTACTS_UPDATE: 1, DEALS_UPDATE: 1, ASSOCIATE: 1}
    assert [a.remote_ids["deal"] for a in applied] == deal_ids
    contacts = listed(world, provisioned)
    deals = read_deals(world, provisioned, deal_ids)
    for contact_id, deal_id, change in zip(
        contact_ids, deal_ids, changes, strict=False
    ):
        assert deals_of(contacts[contact_id]) == [deal_id]
        assert deals[deal_id]["carehub_link_id"] == change.link_key
        assert deals[deal_id]["dealname"] == f"Deal of {contact_id}"
        assert deals[deal_id]["dealstage"] == state["stage_ids"]["NEEDS_CONTRACT"]
    assert alone.remote_ids["deal"] not in (*deal_ids, "987654321")
    assert deals_of(contacts[contact_ids[3]]) == [alone.remote_ids["deal"]]


def test_apply_changes_applies_other_kinds_in_their_place(world, provisioned):
    contact_ids = create_contacts(world, provisioned, people(3))
    first, second, third = linked_changes(contact_ids)
    update = Change(
        kind=ChangeKind.UPDATED,
        ref=RecordRef("contact", contact_ids[1]),
        prospect=Prospect(first_name="Patricia", city="Lowell"),
        remote_ids={"contact": contact_ids[1]},
    )
    # The same person linked twice in a row is written in two batches.
    changes = [first, update, second, third, third]
    fresh_window(world)

    calls = Calls(world, provisioned)
    applied = world.hook("apply_changes", provisioned, changes=changes)

    assert calls.made()[DEALS_UPSERT] == 3
    assert [a.remote_ids["contact"] for a in applied] == [
        contact_ids[0],
        contact_ids[1],
        contact_ids[1],
        contact_ids[2],
        contact_ids[2],
    ]
    assert "deal" not in applied[1].remote_ids
    assert applied[1].fingerprint == update.prospect.fingerprint()
    assert applied[3] == applied[4]
    contacts = listed(world, provisioned)
    assert contacts[contact_ids[1]]["properties"]["city"] == second.prospect.city
    assert [len(deals_of(contacts[c])) for c in contact_ids] == [1, 1, 1]


def test_apply_changes_refused_data_needs_attention_and_applies_again(
    world, provisioned
):
    holder, taker, other = create_contacts(world, provisioned, people(3))
    world.api(
        provisioned,
        "PATCH",
        f"{CONTACTS_LIST}/{holder}",
        json={"properties": {"clearcare_prospect_id": f"p-{taker}"}},
    )
    changes = linked_changes([holder, taker, other])[1:]

    with pytest.raises(NeedsAttention) as caught:
        world.hook("apply_changes", provisioned, changes=changes)

    assert "merge" in caught.value.message.lower()
    contacts = listed(world, provisioned)
    assert deals_of(contacts[taker]) == deals_of(contacts[other]) == []
    # As the hub does after a failed batch: each change again, one at a time.
    with pytest.raises(NeedsAttention):
        world.hook("apply_change", provisioned, change=changes[0])
    applied = world.hook("apply_change", provisioned, change=changes[1])
    assert deals_of(listed(world, provisioned)[other]) == [applied.remote_ids["deal"]]


def test_apply_changes_before_provisioning_needs_attention_and_writes_nothing(world):
    portal = world.new_portal()
    world.hook("connect", portal)
    contact_ids = create_contacts(world, portal, people(2))
    writes = world.writes(portal)

    with pytest.raises(NeedsAttention, match="provisioning"):
        world.hook("apply_changes", portal, changes=linked_changes(contact_ids))

    assert world.writes(portal) == writes
