"""Many records at once, with the two in-memory connectors: a backfill page costs
one list and one batch write on the sales side and one create per new person on the
care side, nothing is lost or made twice when it is cut short, and waiting events
read their records back together."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from memory_connectors import WorkerKilled

from hub import Prospect, ProspectStatus, RecordRef
from hub.errors import RemoteError
from hub.extensions import db
from hub.models import Agency, Connection, Event, EventStatus, SyncLink, utcnow
from hub.sync import links
from hub.sync.backfill import backfill


def run_backfill(hub, threads=1, **options):
    hub.app.config["HUB_BACKFILL_THREADS"] = threads
    with hub.app.app_context():
        agency = db.session.get(Agency, hub.agency_id)
        return backfill(
            agency,
            hub.app.extensions["hub.connectors"],
            hub.dispatcher.drain,
            clock=hub.clock,
            timeout=30,
            **options,
        )


def person(n: int) -> Prospect:
    return Prospect(first_name="Existing", last_name=f"Person {n}", phone=f"3035550{n}")


def existing(hub, count: int, statuses=None) -> list[str]:
    statuses = statuses or {}
    return [
        hub.sales.add_existing(person(n), status=statuses.get(n)) for n in range(count)
    ]


def test_a_page_costs_one_list_and_one_batch_write(hub):
    hub.add_locations(("loc-1", "Main Office"))
    statuses = {1: ProspectStatus.ASSESSMENT_SCHEDULED, 4: ProspectStatus.CARE_STARTED}
    contacts = existing(hub, 7, statuses)

    done = run_backfill(hub, batch_size=3)

    calls = hub.sales.remote.calls
    assert (done.done, done.total, done.created, done.stored) == (7, 7, 7, 0)
    assert calls.count("list_records") == 3
    assert calls.count("apply_changes") == 3
    assert "fetch_record" not in calls and "apply_change" not in calls
    assert hub.care.remote.calls.count("apply_change") == 7
    patients = hub.care.remote.all("patient")
    assert len(patients) == 7
    for n, contact in enumerate(contacts):
        patient = patients[hub.sales.care_ids[contact]]
        assert patient.last_name == f"Person {n}"
        assert patient.location == "loc-1"
        assert patient.status is statuses.get(n, ProspectStatus.NEW_LEAD)
        assert patient.is_client is (n == 4)
        deal = hub.sales.deal_of(contact)
        assert hub.sales.remote.get("deal", deal).status is patient.status
    assert len(hub.sales.deal_contact) == 7

    # The care system's "created" webhooks are the hub's own echoes, known without
    # reading the patients back.
    hub.sync()
    assert {e.outcome for e in hub.events()} == {"echo"}
    assert "fetch_record" not in hub.care.remote.calls
    assert len(hub.care.remote.all("patient")) == 7


def test_a_second_run_finds_it_finished_and_a_restart_makes_nothing_twice(hub):
    existing(hub, 3)
    run_backfill(hub)

    again = run_backfill(hub)
    restarted = run_backfill(hub, restart=True)

    assert (again.done, again.total) == (3, 3)
    assert (restarted.done, restarted.skipped, restarted.created) == (3, 3, 0)
    assert len(hub.care.remote.all("patient")) == 3


def test_records_it_cannot_finish_go_to_the_worker(hub):
    hub.add_locations(("loc-1", "Main Office"), ("loc-2", "North"))
    patient = hub.care.create_patient(Prospect(first_name="Known", last_name="Person"))
    hub.care.remote.outbox.clear()
    complete = hub.sales.add_existing(person(1).replace(location="North"))
    named = hub.sales.add_existing(
        Prospect(first_name="Known", last_name="Person", location="North"),
        care_id=patient,
    )
    lacking = hub.sales.add_existing(person(3))

    done = run_backfill(hub)

    assert (done.done, done.created, done.stored) == (3, 1, 2)
    assert hub.sales.care_ids[named] == patient
    assert hub.care.remote.get("patient", hub.sales.care_ids[complete]).location == (
        "loc-2"
    )
    assert lacking not in hub.sales.care_ids
    by_outcome = {e.outcome: e for e in hub.events()}
    assert by_outcome["linked"].status == EventStatus.DONE
    waiting = by_outcome["needs_attention"]
    assert "location" in waiting.last_error
    assert len(hub.care.remote.all("patient")) == 2


def test_an_interrupted_backfill_resumes_without_duplicates(hub):
    contacts = existing(hub, 5)
    # The fourth create reaches the care system, then the process dies.
    hub.care.remote.fail("create", WorkerKilled(), after=True, skip=3)

    with pytest.raises(WorkerKilled):
        run_backfill(hub, batch_size=3)
    # The first page is linked. Of the second, the create that died reached the
    # care system, and the one queued behind it may have begun before the backfill
    # stopped; a link still marked for its create may have reached it.
    assert len(hub.sales.care_ids) == 3
    made = len(hub.care.remote.all("patient"))
    assert made in (4, 5)
    with hub.app.app_context():
        cut = db.session.scalar(
            sa.select(sa.func.count(SyncLink.id)).where(
                SyncLink.intent.startswith("backfill:create:")
            )
        )
    assert cut == 2 - (made - 4)
    # Another worker's write of the connection's state lost the connector's own
    # record of the create: the hub's word that it was tried before is enough.
    with hub.app.app_context():
        care = db.session.scalar(
            sa.select(Connection).where(Connection.connector == "memcare")
        )
        care.state = {}
        db.session.commit()
    hub.care.remote.calls.clear()

    done = run_backfill(hub, batch_size=3)

    assert done.done == 5
    # Every create of the cut page that may have been tried is looked for first.
    assert hub.care.remote.calls.count("look") == cut
    assert len(hub.care.remote.all("patient")) == 5
    assert len({hub.sales.care_ids[c] for c in contacts}) == 5
    assert len(hub.sales.deal_contact) == 5


def test_a_failed_batch_write_is_finished_by_the_worker(hub):
    contacts = existing(hub, 4)
    hub.sales.remote.fail(
        "apply_changes", RemoteError("The CRM is down.", retryable=True)
    )

    done = run_backfill(hub)

    assert (done.done, done.stored) == (4, 4)
    assert len(hub.care.remote.all("patient")) == 4
    assert all(hub.sales.care_ids.get(c) for c in contacts)
    assert len(hub.sales.deal_contact) == 4
    assert {e.outcome for e in hub.events()} == {"linked"}


def test_waiting_events_read_their_records_back_in_one_call(hub):
    contacts = existing(hub, 5)
    run_backfill(hub)
    hub.sync()
    hub.sales.remote.calls.clear()

    for contact in contacts:
        hub.sales.edit_contact(contact, city="Denver")
    hub.deliver(hub.sales)
    hub.run()

    calls = hub.sales.remote.calls
    assert calls.count("fetch_records") == 1
    assert "fetch_record" not in calls
    patients = hub.care.remote.all("patient").values()
    assert [p.city for p in patients] == ["Denver"] * 5


def test_a_record_read_ahead_is_not_used_after_the_hub_wrote_to_the_person(hub):
    first, second = existing(hub, 2)
    run_backfill(hub)
    hub.sync()
    hub.sales.edit_contact(first, city="Denver")
    hub.sales.edit_contact(second, city="Boulder")
    hub.deliver(hub.sales)
    hub.sales.remote.calls.clear()
    # The first event reads the second contact ahead.
    first_event = min(e.id for e in hub.events() if e.status == "pending")
    hub.dispatcher.process(first_event)
    # Then the hub writes to that person's contact before the second event's turn,
    # as another worker would: the link records when.
    with hub.app.app_context():
        link = links.find(hub.agency_id, "memsales", RecordRef("contact", second))
        link.fingerprints = {
            **link.fingerprints,
            "memsales:written": utcnow().isoformat(),
        }
        db.session.commit()
    hub.run()

    calls = hub.sales.remote.calls
    assert calls == ["fetch_records", "fetch_record"]
    patient = hub.sales.care_ids[second]
    assert hub.care.remote.get("patient", patient).city == "Boulder"


def test_the_worker_leaves_a_person_to_the_backfill_then_takes_over(hub):
    [contact] = existing(hub, 1)
    # The backfill dies after the create, before it links the contact.
    hub.sales.remote.fail("apply_changes", WorkerKilled())
    with pytest.raises(WorkerKilled):
        run_backfill(hub)
    hub.sales.edit_contact(contact, city="Denver")
    hub.deliver(hub.sales)

    hub.run()
    [waiting] = [e for e in hub.events() if e.connector == "memsales"]
    assert (waiting.status, waiting.attempts, waiting.deferrals) == ("retry", 0, 1)
    assert "backfill is creating or linking" in waiting.last_error
    assert contact not in hub.sales.care_ids

    hub.clock.advance(11 * 60)
    hub.run()

    [patient] = hub.care.remote.all("patient")
    assert hub.sales.care_ids[contact] == patient
    assert hub.care.remote.get("patient", patient).city == "Denver"
    assert hub.sales.deal_of(contact) is not None
    assert [link.intent for link in hub.links()] == [None]


def test_creates_run_side_by_side_and_each_person_is_made_once(hub):
    contacts = existing(hub, 12)
    hub.care.remote.delay = 0.05

    done = run_backfill(hub, threads=4, batch_size=6)

    assert (done.done, done.created, done.stored) == (12, 12, 0)
    assert hub.care.remote.overlaps > 0
    patients = hub.care.remote.all("patient")
    assert len(patients) == 12
    assert sorted(hub.sales.care_ids[c] for c in contacts) == sorted(patients)
    assert hub.sales.remote.calls.count("apply_changes") == 2
    assert [link.intent for link in hub.links()] == [None] * 12


@pytest.fixture
def settling_hub(tmp_path):
    """Return the in-memory hub with likely echoes waiting 2 s, as in production."""
    from memory_hub import make_hub

    made = make_hub(tmp_path, HUB_ECHO_SETTLE_SECONDS=2)
    yield made
    made.dispatcher.stop()
    with made.app.app_context():
        db.engine.dispose()


def test_the_echoes_of_a_batch_write_wait_then_are_read_back_in_one_call(
    settling_hub,
):
    hub = settling_hub
    contacts = existing(hub, 5)
    run_backfill(hub)
    hub.sales.remote.calls.clear()

    # The CRM's workflow sends one webhook for each contact the batch wrote.
    for contact in contacts:
        hub.sales.queue("contact.changed", "contact", contact)
    hub.deliver(hub.sales)
    hub.run()

    waiting = [e for e in hub.events() if e.connector == "memsales"]
    assert [(e.status, e.attempts, e.deferrals) for e in waiting] == [
        ("retry", 0, 1)
    ] * 5
    assert "echoes of that write are read back together" in waiting[0].last_error
    assert hub.sales.remote.calls == []

    hub.clock.advance(3)
    hub.run()

    assert hub.sales.remote.calls == ["fetch_records"]
    ended = [e for e in hub.events() if e.connector == "memsales"]
    assert {(e.status, e.outcome) for e in ended} == {("dropped", "echo")}


def test_an_edit_long_after_the_hubs_write_runs_at_once(settling_hub):
    hub = settling_hub
    [contact] = existing(hub, 1)
    run_backfill(hub)
    with hub.app.app_context():
        link = links.find(hub.agency_id, "memsales", RecordRef("contact", contact))
        earlier = utcnow() - timedelta(minutes=5)
        link.fingerprints = {
            **link.fingerprints,
            "memsales:written": earlier.isoformat(),
        }
        db.session.commit()

    hub.sales.edit_contact(contact, city="Denver")
    hub.deliver(hub.sales)
    hub.run()

    [event] = [e for e in hub.events() if e.connector == "memsales"]
    assert (event.status, event.deferrals) == ("done", 0)
    patient = hub.sales.care_ids[contact]
    assert hub.care.remote.get("patient", patient).city == "Denver"


def test_once_the_echo_has_come_a_persons_edits_run_at_once(settling_hub):
    hub = settling_hub
    [contact] = existing(hub, 1)
    run_backfill(hub)
    hub.sales.queue("contact.changed", "contact", contact)
    hub.deliver(hub.sales)
    hub.run()
    hub.clock.advance(3)
    hub.run()
    [echo] = [e for e in hub.events() if e.connector == "memsales"]
    assert (echo.outcome, echo.deferrals) == ("echo", 1)

    hub.sales.edit_contact(contact, city="Denver")
    hub.deliver(hub.sales)
    hub.run()

    edit = [e for e in hub.events() if e.connector == "memsales"][-1]
    assert (edit.status, edit.deferrals) == ("done", 0)
    patient = hub.sales.care_ids[contact]
    assert hub.care.remote.get("patient", patient).city == "Denver"


def test_an_echo_that_waited_its_turn_longer_than_the_settling_runs_at_once(
    settling_hub,
):
    hub = settling_hub
    [contact] = existing(hub, 1)
    run_backfill(hub)
    hub.sales.queue("contact.changed", "contact", contact)
    hub.deliver(hub.sales)
    # It arrived three seconds ago, and waited behind the person's other events.
    with hub.app.app_context():
        stored = sa.select(Event).filter_by(connector="memsales")
        event = db.session.scalars(stored).one()
        event.received_at -= timedelta(seconds=3)
        db.session.commit()
    hub.run()

    [echo] = [e for e in hub.events() if e.connector == "memsales"]
    assert (echo.status, echo.outcome, echo.deferrals) == ("dropped", "echo", 0)
