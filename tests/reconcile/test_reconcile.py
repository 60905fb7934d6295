"""Reconciliation heals webhooks that never came, through the real sandboxes."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sandbox_world import wait_for

from hub import ProspectStatus
from hub.extensions import db
from hub.models import Agency, Connection, SyncCursor, utcnow
from hub.sync.clock import ManualClock
from hub.sync.reconcile import Reconciler, interval_for

pytestmark = pytest.mark.slow


def reconcile(world, tenant=None) -> int:
    """Reconcile every provisioned connection (or a tenant's) now; return the new
    events stored."""
    agency_id = tenant.agency_id if tenant else None
    return world.app.extensions["hub.reconciler"].run_due(
        force=True, agency_id=agency_id
    )


@contextmanager
def webhooks_refused(world, tenant, connector: str):
    """Make the hub refuse a connector's webhooks (404) while the block runs, as a
    lost delivery: the vendors do not send a refused webhook again."""

    def revoke(when):
        with world.app.app_context():
            agency = db.session.get(Agency, tenant.agency_id)
            for endpoint in agency.connection(connector).endpoints:
                endpoint.revoked_at = when
            db.session.commit()

    revoke(utcnow())
    try:
        yield
    finally:
        revoke(None)


def deliveries(world, tenant) -> list[dict]:
    answer = world.http.get(
        world.hubspot.base_url + "/_control/deliveries",
        params={"account": tenant.portal_id},
        timeout=30,
    )
    return answer.json()["results"]


def cursor(world, tenant, connector: str) -> SyncCursor:
    with world.app.app_context():
        row = db.session.scalar(
            sa.select(SyncCursor)
            .join(Connection)
            .where(
                Connection.agency_id == tenant.agency_id,
                Connection.connector == connector,
            )
        )
        db.session.expunge_all()
        return row


def test_a_contact_whose_webhook_was_lost_gets_its_prospect_and_deal(world):
    tenant = world.new_tenant()
    reconcile(world)

    with webhooks_refused(world, tenant, "hubspot"):
        contact = world.new_contact(tenant, firstname="Ada", lastname="Lovelace")
        wait_for(
            lambda: [d for d in deliveries(world, tenant) if d["state"] != "pending"]
        )
    assert [d["state"] for d in deliveries(world, tenant)] == ["failed"]
    assert world.patients(tenant) == []

    assert reconcile(world) >= 1
    wait_for(lambda: world.linked(tenant, "deal"))

    [patient] = world.patients(tenant)
    assert patient["name"][0]["family"] == "Lovelace"
    assert world.contact(tenant, contact)["clearcare_prospect_id"] == patient["id"]
    assert len(world.deals(tenant)) == 1


def test_reconciling_again_makes_no_duplicates(world):
    tenant = world.new_tenant()
    reconcile(world)
    world.new_contact(tenant, firstname="Grace", lastname="Hopper")
    wait_for(lambda: world.linked(tenant, "deal"))

    for _ in range(2):
        reconcile(world)
        wait_for(lambda: world.settled(tenant))
    stored = reconcile(world)

    assert stored == 0
    assert len(world.patients(tenant)) == 1
    assert len(world.deals(tenant)) == 1
    assert cursor(world, tenant, "hubspot").last_error is None


def test_a_care_status_whose_webhook_was_lost_moves_the_deal(world):
    tenant = world.new_tenant()
    reconcile(world)
    world.new_contact(tenant, firstname="Mary", lastname="Somerville")
    wait_for(lambda: world.linked(tenant, "deal"))
    [patient] = world.patients(tenant)
    [deal] = world.deals(tenant)
    scheduled = world.stage(tenant, ProspectStatus.ASSESSMENT_SCHEDULED)

    with webhooks_refused(world, tenant, "clearcare"):
        world.clearcare.verb(
            "prospect_status",
            {"patient_id": patient["id"], "status": "Assessment Scheduled"},
        )
        wait_for(lambda: world.settled(tenant))
    assert world.deal(tenant, deal["id"])["properties"]["dealstage"] != scheduled

    assert reconcile(world) >= 1
    wait_for(
        lambda: world.deal(tenant, deal["id"])["properties"]["dealstage"] == scheduled
    )


def test_a_portal_without_workflow_webhooks_is_reconciled_more_often(world):
    tenant = world.new_tenant()
    with world.app.app_context():
        agency = db.session.get(Agency, tenant.agency_id)
        webhooks = interval_for(agency.connection("hubspot"), world.app.config)
        agency.connection("hubspot").update_state(sync_by_polling=True)
        db.session.commit()
        polling = interval_for(agency.connection("hubspot"), world.app.config)
        care = interval_for(agency.connection("clearcare"), world.app.config)
    assert polling < webhooks == care

    clock = ManualClock(utcnow() + timedelta(days=30))
    reconciler = Reconciler(world.app, clock)
    reconciler.run_due()
    ran = {c: cursor(world, tenant, c).last_run_at for c in ("hubspot", "clearcare")}
    clock.advance(polling.total_seconds() + 1)
    reconciler.run_due()

    assert cursor(world, tenant, "hubspot").last_run_at > ran["hubspot"]
    assert cursor(world, tenant, "clearcare").last_run_at == ran["clearcare"]


def test_the_reconciliation_thread_heals_a_lost_webhook_by_itself(world):
    tenant = world.new_tenant()
    config = world.app.config
    before = {name: config[name] for name in ("HUB_RECONCILE_SECONDS",)}
    config["HUB_RECONCILE_SECONDS"] = 0.5
    reconciler = world.app.extensions["hub.reconciler"]
    reconcile(world)

    with webhooks_refused(world, tenant, "hubspot"):
        world.new_contact(tenant, firstname="Emmy", lastname="Noether")
        wait_for(
            lambda: [d for d in deliveries(world, tenant) if d["state"] != "pending"]
        )
    reconciler.start()
    try:
        wait_for(lambda: world.linked(tenant, "deal"))
    finally:
        reconciler.stop()
        config.update(before)

    assert [p["name"][0]["family"] for p in world.patients(tenant)] == ["Noether"]


def test_a_failed_round_keeps_its_cursor_and_the_next_round_heals(world):
    tenant = world.new_tenant()
    reconcile(world)
    before = cursor(world, tenant, "hubspot").cursor

    with webhooks_refused(world, tenant, "hubspot"):
        world.new_contact(tenant, firstname="Lise", lastname="Meitner")
        wait_for(
            lambda: [d for d in deliveries(world, tenant) if d["state"] != "pending"]
        )
    world.hubspot.fault(
        count=1, status=401, path_prefix="/crm/objects/2026-09/contacts/search"
    )
    reconcile(world, tenant)
    failed = cursor(world, tenant, "hubspot")
    assert failed.cursor == before
    assert failed.last_error
    assert world.patients(tenant) == []

    reconcile(world, tenant)
    wait_for(lambda: world.linked(tenant, "deal"))
    assert cursor(world, tenant, "hubspot").last_error is None
    assert [p["name"][0]["family"] for p in world.patients(tenant)] == ["Meitner"]
