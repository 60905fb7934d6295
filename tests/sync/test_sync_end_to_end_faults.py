"""What goes wrong, through the real connectors and their sandboxes: duplicates,
server errors, rate limits, a person's edit racing an echo, a killed worker."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sandbox_world import (
    API,
    SandboxClock,
    kill,
    wait_for,
    worker_process,
)
from test_sync_end_to_end import new_patient, person, tag

from hub import ProspectStatus
from hub.extensions import db
from hub.models import Event

pytestmark = pytest.mark.slow


@contextmanager
def worker_paused(world):
    """Stop the embedded worker for the block, so events wait to be run by hand."""
    world.dispatcher.stop()
    try:
        yield
    finally:
        world.dispatcher.start()


def pending_ids(world, tenant) -> list[int]:
    return [e.id for e in world.events(tenant) if e.status == "pending"]


def pending(world, tenant) -> int:
    return sum(e.status == "pending" for e in world.events(tenant))


def test_a_duplicate_delivery_makes_one_prospect(world):
    tenant = world.new_tenant()
    with worker_paused(world):
        contact = world.new_contact(tenant, firstname="Dee", lastname="Dupe")
        wait_for(lambda: pending(world, tenant) == 1)
        body = {"vid": int(contact), "portal-id": int(tenant.portal_id)}
        assert world.post_webhook(tenant, "contact.created", body) == {"stored": 0}
        assert world.post_webhook(tenant, "contact.changed", body) == {"stored": 1}

    wait_for(lambda: world.linked(tenant, "deal"))
    assert len(world.patients(tenant)) == 1
    assert len(world.deals(tenant)) == 1
    outcomes = [e.outcome for e in world.events(tenant)]
    assert outcomes.count("created") == 1


def test_a_contact_naming_its_prospect_is_linked_not_duplicated(world):
    tenant = world.new_tenant()
    created = world.cc(
        tenant, "POST", "/v1/patients/", json=new_patient(tenant, "Known")
    )
    wait_for(lambda: world.settled(tenant))

    world.new_contact(
        tenant,
        firstname="Rosa",
        lastname="Known",
        clearcare_prospect_id=str(created["id"]),
    )

    wait_for(lambda: world.linked(tenant, "deal"))
    assert [p["id"] for p in world.patients(tenant)] == [created["id"]]
    assert "linked" in [e.outcome for e in world.events(tenant)]


def test_clearcare_failing_three_times_is_retried_and_succeeds(world):
    tenant = world.new_tenant()
    world.clearcare.fault(3, status=500, path_prefix="/v1/patients/")

    _, patient, _ = person(world, tenant, lastname="Retry")

    assert patient["name"][0]["family"] == "Retry"
    [event] = [e for e in world.events(tenant) if e.purpose == "contact.created"]
    assert (event.status, event.outcome) == ("done", "created")
    assert event.attempts > 1
    assert "500" in (event.last_error or "")


def test_a_hubspot_429_storm_loses_nothing(world):
    from carehub_hubspot.runtime import Runtime, install, runtime

    tenant = world.new_tenant()
    names = ["Storm", "Gale", "Squall"]
    before = runtime(world.app)
    clock = SandboxClock(world.hubspot, time.time())
    install(world.app, Runtime(clock=clock, sleep=clock.sleep, jitter=lambda: 0.0))
    try:
        with worker_paused(world):
            for name in names:
                world.new_contact(tenant, firstname="Ann", lastname=name)
            wait_for(lambda: pending(world, tenant) == 3)
            world.hubspot.fault(45, status=429, path_prefix="/crm/objects")
        wait_for(lambda: len(world.linked(tenant, "deal")) == 3, timeout=60)
    finally:
        install(world.app, before)

    families = sorted(p["name"][0]["family"] for p in world.patients(tenant))
    assert families == sorted(names)
    assert len(world.deals(tenant)) == 3
    assert {e.status for e in world.events(tenant)} <= {"done", "dropped"}
    assert len(clock.slept) >= 30, "the client waited out the rate limit"


def test_an_echo_is_dropped_and_a_human_edit_in_between_is_kept(world):
    tenant = world.new_tenant()
    _, patient, deal = person(world, tenant)
    hubspot_writes = world.hubspot.counters(account=tenant.portal_id)["writes"]
    performed = world.stage(tenant, ProspectStatus.ASSESSMENT_PERFORMED)

    with worker_paused(world):
        world.clearcare.verb(
            "prospect_status",
            {"patient_id": patient["id"], "status": "Assessment Scheduled"},
        )
        [care_event] = wait_for(lambda: pending_ids(world, tenant))
        assert world.dispatcher.process(care_event) == "done"
        # The deal workflow's webhook of the hub's own move is now on its way; a
        # person moves the deal on before the hub reads it.
        wait_for(lambda: len(pending_ids(world, tenant)) == 1)
        world.hs(
            tenant,
            "PATCH",
            f"{API}/deals/{deal['id']}",
            json={"properties": {"dealstage": performed}},
        )
        wait_for(lambda: len(pending_ids(world, tenant)) == 2)
        world.dispatcher.drain()

    wait_for(lambda: world.settled(tenant))
    written = world.patient(tenant, patient["id"])
    assert tag(written, "status") == "30"
    assert world.deal(tenant, deal["id"])["properties"]["dealstage"] == performed
    hubspot_writes = world.hubspot.counters(account=tenant.portal_id)["writes"] - (
        hubspot_writes
    )
    assert hubspot_writes == 2, "the hub's move and the person's"
    outcomes = [e.outcome for e in world.events(tenant)]
    assert outcomes.count("synced") == 2
    assert "needs_attention" not in outcomes


def test_a_worker_killed_mid_create_leaves_one_prospect_and_one_deal(world):
    tenant = world.new_tenant()
    log = world.tmp / "worker.log"
    world.dispatcher.stop()
    first = second = None
    try:
        first = worker_process(
            world.tmp, world.sandbox.url, world.app.config["HUB_PUBLIC_URL"], log
        )
        world.clearcare.fault(1, latency_ms=3000, path_prefix="/v1/patients/")
        world.new_contact(tenant, firstname="Kim", lastname="Killed")

        def processing():
            events = world.events(tenant)
            return events and events[0].status == "processing"

        wait_for(processing)
        time.sleep(1.0)
        kill(first)
        # The sandbox goes on to make the patient after its delay; the hub never
        # hears of it.
        wait_for(lambda: world.patients(tenant), timeout=10)
        assert world.links(tenant)[0].intent == "create:clearcare"

        second = worker_process(
            world.tmp, world.sandbox.url, world.app.config["HUB_PUBLIC_URL"], log
        )
        wait_for(lambda: world.linked(tenant, "deal"), timeout=30)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                kill(process)
        world.dispatcher.start()

    assert len(world.patients(tenant)) == 1, log.read_text()[-3000:]
    assert len(world.deals(tenant)) == 1
    with world.app.app_context():
        event = db.session.scalar(
            sa.select(Event)
            .where(Event.agency_id == tenant.agency_id)
            .order_by(Event.id)
        )
        assert (event.status, event.outcome, event.attempts) == ("done", "created", 2)
