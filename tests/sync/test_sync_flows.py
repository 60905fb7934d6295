"""Every row of the flows table, with the two in-memory connectors."""

from __future__ import annotations

from hub import Prospect, ProspectStatus
from hub.sync.flows import CARE_CREATES_SALES

MARGARET = Prospect(
    first_name="Margaret",
    last_name="Johnson",
    email="m.johnson@example.com",
    phone="3035559876",
    city="Colorado Springs",
)


def only(mapping: dict):
    assert len(mapping) == 1, mapping
    return next(iter(mapping.items()))


def linked_person(hub, prospect=MARGARET):
    """Create a contact and sync it; return (contact id, patient id, deal id)."""
    contact = hub.sales.create_contact(prospect)
    hub.sync()
    patient, _ = only(hub.care.remote.all("patient"))
    return contact, patient, hub.sales.deal_of(contact)


def test_contact_created_makes_prospect_id_and_deal(hub):
    hub.add_locations(("loc-1", "Colorado Springs"))
    contact = hub.sales.create_contact(MARGARET)

    hub.sync()

    patient_id, patient = only(hub.care.remote.all("patient"))
    assert patient.status is ProspectStatus.NEW_LEAD
    assert patient.is_client is False
    assert patient.location == "loc-1"
    assert (patient.first_name, patient.last_name) == ("Margaret", "Johnson")
    assert hub.sales.care_ids[contact] == patient_id
    deal = hub.sales.deal_of(contact)
    assert hub.sales.remote.get("deal", deal).status is ProspectStatus.NEW_LEAD
    assert hub.sales.deal_names[deal] == "Margaret Johnson"
    [link] = hub.links()
    assert link.intent is None
    assert {(r.connector, r.kind) for r in link.refs} == {
        ("memsales", "contact"),
        ("memsales", "deal"),
        ("memcare", "patient"),
    }
    assert [e.outcome for e in hub.events()] == ["created", "echo"]


def test_contact_changed_updates_the_prospect(hub):
    contact, patient, _ = linked_person(hub)

    hub.sales.edit_contact(contact, phone="(719) 555-0101", city="Denver")
    hub.sync()

    written = hub.care.remote.get("patient", patient)
    assert written.phone == "(719) 555-0101"
    assert written.city == "Denver"
    assert written.status is ProspectStatus.NEW_LEAD
    assert hub.events()[-2].outcome == "synced"


def test_an_incomplete_contact_waits_then_gets_its_prospect(hub):
    hub.add_locations(("loc-1", "North"), ("loc-2", "South"))
    contact = hub.sales.create_contact(MARGARET.replace(last_name=None))

    hub.sync()

    [event] = hub.events()
    assert event.status == "needs_attention"
    assert "no last name and CareSys location" in event.last_error
    assert "make them required" in event.last_error
    assert hub.care.remote.all("patient") == {}

    hub.sales.edit_contact(contact, last_name="Johnson", location="South")
    hub.sync()

    patient_id, patient = only(hub.care.remote.all("patient"))
    assert patient.location == "loc-2"
    first, second = hub.events()[:2]
    assert (first.status, first.outcome) == ("done", "superseded")
    assert second.outcome == "created"


def test_deal_stage_changed_sets_the_prospect_status(hub):
    _, patient, deal = linked_person(hub)

    hub.sales.move_deal(deal, ProspectStatus.ASSESSMENT_SCHEDULED)
    hub.sync()
    assert hub.care.remote.get("patient", patient).status is (
        ProspectStatus.ASSESSMENT_SCHEDULED
    )
    assert hub.care.remote.get("patient", patient).is_client is False

    hub.sales.move_deal(deal, ProspectStatus.CARE_STARTED)
    hub.sync()
    written = hub.care.remote.get("patient", patient)
    assert written.status is ProspectStatus.CARE_STARTED
    assert written.is_client is True


def test_care_status_changed_moves_the_deal(hub):
    _, patient, deal = linked_person(hub)

    hub.care.edit_patient(patient, status=ProspectStatus.NEEDS_CONTRACT)
    hub.sync()

    assert hub.sales.remote.get("deal", deal).status is ProspectStatus.NEEDS_CONTRACT


def test_care_fields_changed_update_the_contact(hub):
    contact, patient, _ = linked_person(hub)

    hub.care.edit_patient(
        patient,
        first_name="Maggie",
        street="456 Oak Ave",
        email="maggie@example.com",
        phone="7195550101",
    )
    hub.sync()

    written = hub.sales.remote.get("contact", contact)
    assert (written.first_name, written.street) == ("Maggie", "456 Oak Ave")
    assert (written.email, written.phone) == ("maggie@example.com", "7195550101")


def test_care_client_without_status_change_moves_the_deal_to_care_started(hub):
    _, patient, deal = linked_person(hub)

    hub.care.edit_patient(patient, is_client=True)
    hub.sync()

    assert hub.sales.remote.get("deal", deal).status is ProspectStatus.CARE_STARTED
    assert hub.care.remote.get("patient", patient).status is ProspectStatus.NEW_LEAD


def test_care_patient_not_linked_is_left_alone_by_default(hub):
    hub.care.create_patient(MARGARET.replace(status=ProspectStatus.NEW_LEAD))

    hub.sync()

    [event] = hub.events()
    assert (event.status, event.outcome) == ("dropped", "not_linked")
    assert hub.sales.remote.all("contact") == {}
    assert hub.links() == []


def test_care_patient_not_linked_makes_contact_and_deal_when_asked(hub):
    hub.set_agency(**{CARE_CREATES_SALES: True})
    patient = hub.care.create_patient(
        MARGARET.replace(status=ProspectStatus.INITIAL_PHONE_CALL)
    )

    hub.sync()

    contact_id, contact = only(hub.sales.remote.all("contact"))
    assert contact.last_name == "Johnson"
    assert hub.sales.care_ids[contact_id] == patient
    deal = hub.sales.deal_of(contact_id)
    assert hub.sales.remote.get("deal", deal).status is (
        ProspectStatus.INITIAL_PHONE_CALL
    )
    assert len(hub.care.remote.all("patient")) == 1


def test_care_patient_deactivated_marks_the_link_inactive(hub):
    contact, patient, deal = linked_person(hub)

    hub.care.edit_patient(patient, active=False)
    hub.sync()

    [link] = hub.links()
    assert link.active is False
    assert hub.sales.remote.get("deal", deal).status is ProspectStatus.NEW_LEAD
    assert hub.events()[-1].outcome == "deactivated"

    hub.sales.edit_contact(contact, city="Pueblo")
    hub.sync()
    assert hub.care.remote.get("patient", patient).city == "Colorado Springs"
    assert hub.events()[-1].outcome == "inactive"


def test_a_contact_naming_its_prospect_is_linked_not_duplicated(hub):
    patient = hub.care.create_patient(MARGARET.replace(status=ProspectStatus.NEW_LEAD))
    hub.care.remote.outbox.clear()
    contact = hub.sales.create_contact(MARGARET, other={"patient": patient})

    hub.sync()

    assert list(hub.care.remote.all("patient")) == [patient]
    assert hub.sales.care_ids[contact] == patient
    assert hub.sales.deal_of(contact) is not None
    assert hub.events()[0].outcome == "linked"


def test_the_only_location_is_filled_in(hub):
    hub.add_locations(("loc-9", "Main office"))
    hub.sales.create_contact(MARGARET)

    hub.sync()

    _, patient = only(hub.care.remote.all("patient"))
    assert patient.location == "loc-9"


def test_a_location_given_by_name_becomes_its_id(hub):
    hub.add_locations(("loc-1", "North"), ("loc-2", "South"))
    hub.sales.create_contact(MARGARET.replace(location="north"))

    hub.sync()

    _, patient = only(hub.care.remote.all("patient"))
    assert patient.location == "loc-1"


def test_a_deal_no_one_is_linked_to_is_left_alone(hub):
    hub.sales.move_deal("9001", ProspectStatus.NEEDS_CONTRACT)

    hub.sync()

    [event] = hub.events()
    assert (event.status, event.outcome) == ("dropped", "not_linked")
    assert hub.care.remote.all("patient") == {}


def test_a_second_contact_naming_a_linked_prospect_needs_attention(hub):
    contact, patient, _ = linked_person(hub)

    hub.sales.create_contact(MARGARET, other={"patient": patient})
    hub.sync()

    event = hub.events()[-1]
    assert event.status == "needs_attention"
    assert f"linked to SalesCRM contact {contact} already" in event.last_error
    assert len(hub.care.remote.all("patient")) == 1
    assert len(hub.sales.deal_contact) == 1
