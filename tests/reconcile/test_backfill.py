"""Backfill: existing HubSpot contacts become ClearCare prospects, resumably."""

from __future__ import annotations

import uuid

import pytest
from sandbox_world import API, Tenant, wait_for

from hub.extensions import db
from hub.models import Agency, Connection
from hub.settings import save_settings
from hub.sync import enqueue_provisioning
from hub.sync.backfill import backfill

pytestmark = pytest.mark.slow


class Interrupted(Exception):
    """Stands for a backfill stopped half way, as by Ctrl-C."""


def tenant_with_contacts(world, count: int) -> Tenant:
    """Return a provisioned tenant whose portal held ``count`` contacts before the
    hub was connected, so no workflow fired for them."""
    name = f"Agency {uuid.uuid4().hex[:6]}"
    portal = world.hubspot.create_account(name, "professional", operations_hub=True)
    care = world.clearcare.create_account(name, locations=["Main Office"])
    tenant = Tenant(0, portal["token"], str(portal["portal_id"]), care)
    inputs = [
        {"properties": {"firstname": "Existing", "lastname": f"Person {n}"}}
        for n in range(count)
    ]
    world.hs(tenant, "POST", f"{API}/contacts/batch/create", json={"inputs": inputs})
    with world.app.app_context():
        facade = world.app.extensions["hub.connectors"]
        agency = Agency(slug=name.lower().replace(" ", "-"), name=name, settings={})
        hubspot = Connection(agency=agency, connector="hubspot", settings={})
        save_settings(hubspot, facade.info("hubspot"), {"access_token": tenant.token})
        clearcare = Connection(agency=agency, connector="clearcare", settings={})
        keys = ("client_id", "client_secret", "agency_id")
        save_settings(clearcare, facade.info("clearcare"), {k: care[k] for k in keys})
        db.session.add(agency)
        db.session.commit()
        enqueue_provisioning(agency)
        tenant.agency_id = agency.id
    wait_for(lambda: world.provisioned(tenant.agency_id))

    return tenant


def run_backfill(world, tenant, **options):
    with world.app.app_context():
        agency = db.session.get(Agency, tenant.agency_id)
        return backfill(
            agency,
            world.app.extensions["hub.connectors"],
            world.dispatcher.drain,
            timeout=60,
            **options,
        )


def test_backfill_makes_a_prospect_and_deal_for_each_existing_contact(world):
    tenant = tenant_with_contacts(world, 4)
    assert world.patients(tenant) == []

    done = run_backfill(world, tenant, batch_size=3)

    assert (done.done, done.total, done.created) == (4, 4, 4)
    wait_for(lambda: world.settled(tenant))
    patients = world.patients(tenant)
    assert sorted(p["name"][0]["family"] for p in patients) == [
        f"Person {n}" for n in range(4)
    ]
    assert len(world.deals(tenant)) == 4
    assert len(world.linked(tenant, "contact")) == 4


def test_an_interrupted_backfill_resumes_without_duplicates(world):
    tenant = tenant_with_contacts(world, 6)
    seen = []

    def stop_half_way(progress):
        seen.append(progress.done)
        if progress.done == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_backfill(world, tenant, batch_size=3, on_progress=stop_half_way)
    # The second page's creates run while the first page's links are written.
    assert 3 <= len(world.patients(tenant)) <= 6

    resumed = []
    done = run_backfill(
        world, tenant, batch_size=3, on_progress=lambda p: resumed.append(p.done)
    )

    assert seen == [0, 3]
    assert resumed[0] == 3
    assert done.done == done.total >= 6
    wait_for(lambda: world.settled(tenant))
    assert len(world.patients(tenant)) == 6
    assert len(world.deals(tenant)) == 6
    again = run_backfill(world, tenant, batch_size=3)
    assert (again.done, again.stored, again.created) == (done.total, 0, 0)
    assert len(world.patients(tenant)) == 6


def test_the_backfill_command_shows_its_progress_and_refuses_unknown_agencies(world):
    tenant = tenant_with_contacts(world, 2)
    with world.app.app_context():
        slug = db.session.get(Agency, tenant.agency_id).slug
    runner = world.app.test_cli_runner()

    done = runner.invoke(args=["hub", "backfill", slug, "--batch-size", "1"])
    unknown = runner.invoke(args=["hub", "backfill", "nobody"])

    assert done.exit_code == 0, done.output
    assert f"Backfilled 2 of 2 record(s) of {slug}: 2 linked now" in done.output
    assert len(world.patients(tenant)) == 2
    assert unknown.exit_code == 2
    assert "There is no agency 'nobody'" in unknown.output
