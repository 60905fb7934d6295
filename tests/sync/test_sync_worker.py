"""The worker: duplicates, retries, rate limits, echoes, leases, ordering, replay."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from memory_connectors import WorkerKilled
from memory_hub import make_hub
from test_sync_flows import MARGARET, linked_person, only

from hub import Prospect, ProspectStatus
from hub.errors import (
    AuthenticationFailed,
    Deferred,
    NeedsAttention,
    RateLimited,
    RemoteUnavailable,
)
from hub.extensions import db
from hub.models import Connection, Event, EventAttempt
from hub.sync import leases


def test_a_duplicate_delivery_makes_one_prospect(hub):
    contact = hub.sales.create_contact(MARGARET)
    hub.sales.queue("contact.created", "contact", contact, kind="created")
    hub.sales.queue("contact.changed", "contact", contact)

    hub.sync()

    assert len(hub.care.remote.all("patient")) == 1
    assert len(hub.sales.deal_contact) == 1
    outcomes = [e.outcome for e in hub.events() if e.connector == "memsales"]
    assert outcomes.count("created") == 1
    assert set(outcomes) <= {"created", "unchanged", "echo"}


def test_created_goes_before_a_changed_that_arrived_first(hub):
    contact = hub.sales.create_contact(MARGARET)
    hub.sales.queue("contact.changed", "contact", contact)
    hub.sales.remote.outbox.reverse()

    hub.deliver()
    changed, created = hub.events()
    assert (changed.payload["kind"], created.payload["kind"]) == ("updated", "created")
    hub.sync()

    changed, created = hub.events()[:2]
    assert created.outcome == "created"
    assert changed.outcome in ("unchanged", "echo")
    assert len(hub.care.remote.all("patient")) == 1


def test_a_server_error_three_times_is_retried_until_it_succeeds(hub):
    hub.care.remote.fail(
        "apply_change", RemoteUnavailable("CareSys answered 500.", retryable=True), 3
    )
    hub.sales.create_contact(MARGARET)
    hub.deliver()

    waits = []
    for _ in range(3):
        hub.run()
        [event] = hub.events()
        assert event.status == "retry"
        assert "500" in event.last_error
        waits.append((event.next_attempt_at - hub.clock.now()).total_seconds())
        hub.clock.advance(waits[-1] + 0.001)
    hub.sync()

    assert 24 <= waits[0] <= 36 and 96 <= waits[1] <= 144 and 480 <= waits[2] <= 720
    [event] = [e for e in hub.events() if e.connector == "memsales"]
    assert (event.status, event.outcome, event.attempts) == ("done", "created", 4)
    assert len(hub.care.remote.all("patient")) == 1
    with hub.app.app_context():
        tries = db.session.scalars(sa.select(EventAttempt.outcome)).all()
    assert tries[:4] == ["retry", "retry", "retry", "created"]


def test_a_rate_limit_storm_loses_nothing_and_uses_no_attempts(hub):
    storm = RateLimited("Slow down.", retryable=True, retry_after=10)
    hub.sales.remote.fail("apply_change", storm, count=20)
    contacts = [
        hub.sales.create_contact(MARGARET.replace(first_name=f"Person{n}"))
        for n in range(5)
    ]
    hub.deliver()

    for _ in range(30):
        hub.run()
        hub.clock.advance(13)
    hub.sync()

    assert len(hub.care.remote.all("patient")) == 5
    assert all(hub.sales.deal_of(c) for c in contacts)
    events = [e for e in hub.events() if e.connector == "memsales"]
    assert {e.status for e in events} == {"done"}
    assert sum(e.deferrals for e in events) == 20
    assert max(e.attempts for e in events) == 1


@pytest.mark.parametrize(
    ("still_waiting", "status"),
    [(False, "done"), (True, "retry")],
    ids=("wait-ended-meanwhile", "still-waiting"),
)
def test_a_deferral_whose_wait_ended_meanwhile_runs_at_once(hub, still_waiting, status):
    asked = []

    def ask() -> bool:
        asked.append(True)
        return still_waiting

    wait = Deferred("Another worker has the person.", retry_after=30, still_waiting=ask)
    hub.sales.remote.fail("fetch_record", wait)
    hub.sales.create_contact(MARGARET)
    hub.deliver()

    hub.run()

    [event] = [e for e in hub.events() if e.connector == "memsales"]
    assert asked == [True]
    assert (event.status, event.deferrals) == (status, 1)
    assert bool(hub.care.remote.all("patient")) == (status == "done")


def test_after_the_last_try_the_event_needs_attention(hub):
    hub.care.remote.fail(
        "apply_change", RemoteUnavailable("CareSys is down.", retryable=True), 10
    )
    hub.sales.create_contact(MARGARET)
    hub.deliver()

    for _ in range(5):
        hub.run()
        hub.clock.advance(3600)

    [event] = hub.events()
    assert event.status == "needs_attention"
    assert event.attempts == 4
    assert event.last_error == "Gave up after 4 tries. CareSys is down."


@pytest.mark.parametrize(
    "error",
    [
        NeedsAttention("Fill in the phone."),
        AuthenticationFailed("CareSys refused the key.", retryable=False),
    ],
    ids=["needs-attention", "not-retryable"],
)
def test_an_error_that_cannot_pass_is_not_retried(hub, error):
    hub.care.remote.fail("apply_change", error, 5)
    hub.sales.create_contact(MARGARET)
    hub.deliver()

    hub.run()

    [event] = hub.events()
    assert (event.status, event.attempts) == ("needs_attention", 1)
    assert event.last_error == error.message


def test_an_echo_is_dropped_and_a_human_edit_in_between_is_kept(hub):
    contact, patient, deal = linked_person(hub)
    hub.care.edit_patient(patient, status=ProspectStatus.ASSESSMENT_SCHEDULED)
    hub.deliver()
    hub.run()
    assert hub.sales.remote.get("deal", deal).status is (
        ProspectStatus.ASSESSMENT_SCHEDULED
    )
    echo = hub.sales.remote.outbox[:]
    writes = len(hub.care.remote.calls)

    # A person moves the deal on before the echo of the hub's own move arrives.
    hub.sales.move_deal(deal, ProspectStatus.ASSESSMENT_PERFORMED)
    hub.sales.remote.outbox = echo
    hub.deliver()
    hub.run()
    assert hub.care.remote.get("patient", patient).status is (
        ProspectStatus.ASSESSMENT_PERFORMED
    )

    # The person's own webhook comes last and finds nothing new.
    hub.sales.queue("deal.stage_changed", "deal", deal, kind="status_changed")
    hub.deliver(hub.sales)
    hub.run()
    assert hub.events()[-1].outcome in ("echo", "unchanged")

    # The care system's echo of that write is dropped too: one write in all.
    hub.sync()
    assert hub.care.remote.calls[writes:].count("apply_change") == 1
    assert hub.sales.remote.get("deal", deal).status is (
        ProspectStatus.ASSESSMENT_PERFORMED
    )


def test_an_echo_of_a_care_write_is_dropped(hub):
    _, patient, deal = linked_person(hub)
    hub.sales.move_deal(deal, ProspectStatus.NEEDS_CONTRACT)

    hub.sync()

    care_events = [e for e in hub.events() if e.connector == "memcare"]
    assert [e.outcome for e in care_events] == ["echo", "echo"]
    with hub.app.app_context():
        from hub.sync.metrics import ECHOES_DROPPED

        assert ECHOES_DROPPED.labels("memcare")._value.get() >= 2


def test_a_worker_killed_after_the_create_leaves_one_prospect_and_one_deal(hub):
    hub.care.remote.fail("create", WorkerKilled(), after=True)
    contact = hub.sales.create_contact(MARGARET)
    hub.deliver()

    with pytest.raises(WorkerKilled):
        hub.run()
    [event] = hub.events()
    assert event.status == "processing"
    assert len(hub.care.remote.all("patient")) == 1
    with hub.app.app_context():
        connection = db.session.scalar(
            sa.select(Connection).where(Connection.connector == "memcare")
        )
        assert list(connection.state["intents"]) == [hub.links()[0].key]

    hub.run()
    assert hub.events()[0].status == "processing", (
        "claimed again before the lease ran out"
    )

    hub.clock.advance(61)
    hub.sync()

    assert len(hub.care.remote.all("patient")) == 1
    assert len(hub.sales.deal_contact) == 1
    assert hub.sales.deal_of(contact) is not None
    event = hub.events()[0]
    assert (event.status, event.outcome, event.attempts) == ("done", "created", 2)


def test_a_lost_deal_answer_makes_no_second_deal(hub):
    hub.sales.remote.fail(
        "apply_change", RemoteUnavailable("Timed out.", retryable=True), after=True
    )
    contact = hub.sales.create_contact(MARGARET)
    hub.deliver()
    hub.run()
    hub.clock.advance(40)

    hub.sync()

    assert len(hub.sales.deal_contact) == 1
    assert hub.sales.deal_of(contact) is not None
    assert len(hub.care.remote.all("patient")) == 1


def test_a_lease_is_renewed_while_the_worker_works(hub):
    contact, patient, _ = linked_person(hub)
    hub.sales.edit_contact(contact, city="Denver")
    hub.deliver()
    dispatcher = hub.dispatcher
    with hub.app.app_context():
        event_id = db.session.scalar(sa.select(sa.func.max(Event.id)))
        assert leases.claim(Event, event_id, "w1", hub.clock.now(), dispatcher.lease)
    dispatcher._hold("w1", Event, event_id)

    hub.clock.advance(50)
    dispatcher.renew_leases()
    hub.clock.advance(50)

    assert hub.dispatcher.process(event_id) is None
    with hub.app.app_context():
        event = db.session.get(Event, event_id)
        assert event.lease_owner == "w1"
        assert event.lease_until > hub.clock.now()


def test_one_persons_events_run_one_at_a_time_in_arrival_order(tmp_path):
    hub = make_hub(tmp_path, HUB_WORKER_THREADS=3, HUB_SYNC_CLOCK=None)
    try:
        contact, _, _ = linked_person(hub)
        for n in range(6):
            hub.sales.edit_contact(contact, city=f"City{n}")
        hub.sales.remote.delay = 0.05
        hub.dispatcher.start()
        hub.deliver(hub.sales)

        # Generous: on a loaded machine a claim may wait out a lease (60 s).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(
            e.status != "done" and e.status != "dropped" for e in hub.events()
        ):
            time.sleep(0.05)
        hub.dispatcher.stop()

        with hub.app.app_context():
            order = (
                db.session.execute(
                    sa.select(EventAttempt.event_id)
                    .join(Event, Event.id == EventAttempt.event_id)
                    .where(Event.connector == "memsales")
                    .order_by(EventAttempt.started_at)
                )
                .scalars()
                .all()
            )
        assert order == sorted(order)
        assert len(order) == 7
        assert hub.sales.remote.overlaps == 0
        assert hub.care.remote.all("patient")
    finally:
        hub.dispatcher.stop()
        with hub.app.app_context():
            db.engine.dispose()


def test_two_peoples_events_run_side_by_side(tmp_path):
    hub = make_hub(tmp_path, HUB_WORKER_THREADS=2, HUB_SYNC_CLOCK=None)
    try:
        for n in range(4):
            hub.sales.create_contact(MARGARET.replace(first_name=f"P{n}"))
        hub.sales.remote.delay = 0.2
        hub.dispatcher.start()
        hub.deliver(hub.sales)

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(hub.care.remote.all("patient")) < 4:
            time.sleep(0.05)
        hub.dispatcher.stop()

        assert len(hub.care.remote.all("patient")) == 4
        assert hub.sales.remote.overlaps > 0
    finally:
        hub.dispatcher.stop()
        with hub.app.app_context():
            db.engine.dispose()


def test_the_embedded_worker_wakes_at_once_when_an_event_is_stored(hub):
    hub.dispatcher.poll_seconds = 300
    hub.dispatcher.start()
    hub.run()
    time.sleep(0.1)

    started = time.monotonic()
    hub.sales.create_contact(MARGARET)
    hub.deliver()
    while time.monotonic() - started < 10 and not hub.care.remote.all("patient"):
        time.sleep(0.01)

    assert hub.care.remote.all("patient")
    assert time.monotonic() - started < 5
    hub.dispatcher.stop()
    assert not hub.dispatcher.running


def test_replay_runs_an_event_again(hub):
    hub.care.remote.fail("apply_change", NeedsAttention("Fill in the phone."))
    hub.sales.create_contact(MARGARET)
    hub.deliver()
    hub.run()
    [event] = hub.events()
    assert event.status == "needs_attention"

    result = hub.app.test_cli_runner().invoke(args=["hub", "replay", str(event.id)])

    assert result.exit_code == 0, result.output
    assert f"Event {event.id} ran again: done (created)" in result.output
    assert len(hub.care.remote.all("patient")) == 1
    assert hub.events()[0].status == "done"


def test_replay_of_an_unknown_event_says_so(hub):
    result = hub.app.test_cli_runner().invoke(args=["hub", "replay", "999"])

    assert result.exit_code != 0
    assert "There is no event 999." in result.output


def test_cli_commands_never_start_the_worker(tmp_path):
    hub = make_hub(tmp_path, HUB_WORKER=True)
    try:
        result = hub.app.test_cli_runner().invoke(args=["hub", "connectors"])
        assert result.exit_code == 0
        assert not hub.dispatcher.running

        with hub.app.test_request_context():
            hub.client.get("/healthz")
        assert hub.dispatcher.running
    finally:
        hub.dispatcher.stop()
        with hub.app.app_context():
            db.engine.dispose()


def test_events_of_two_people_do_not_wait_for_each_other(hub):
    hub.care.remote.fail(
        "apply_change", RemoteUnavailable("Down.", retryable=True), count=1
    )
    hub.sales.create_contact(MARGARET)
    hub.sales.create_contact(Prospect(first_name="Ann", last_name="Lee"))
    hub.deliver()

    hub.run()

    first, second = [e for e in hub.events() if e.connector == "memsales"][:2]
    assert first.status == "retry"
    assert second.outcome == "created"
    assert only({k: v for k, v in hub.care.remote.all("patient").items()})


def test_a_person_waits_behind_their_own_retrying_event(hub):
    contact, patient, _ = linked_person(hub)
    hub.care.remote.fail("apply_change", RemoteUnavailable("Down.", retryable=True))
    hub.sales.edit_contact(contact, city="First")
    hub.sales.edit_contact(contact, city="Second")
    hub.deliver()

    hub.run()
    assert hub.care.remote.get("patient", patient).city == "Colorado Springs"

    hub.clock.advance(40)
    hub.sync()
    assert hub.care.remote.get("patient", patient).city == "Second"


def test_threads_are_daemons(hub):
    hub.dispatcher.start()
    threads = [t for t in threading.enumerate() if t.name.startswith("hub-")]
    hub.dispatcher.stop()

    assert threads and all(t.daemon for t in threads)
