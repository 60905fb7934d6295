"""Provisioning through the worker, the metrics page, and the retry schedule."""

from __future__ import annotations

import random
from datetime import datetime

import sqlalchemy as sa
from test_sync_flows import MARGARET

from hub import LocationInfo, RecordRef
from hub.errors import NeedsAttention, RateLimited, RemoteUnavailable
from hub.extensions import db
from hub.models import Agency, ProvisioningJob, ProvisioningStep, SyncLink
from hub.sync import enqueue_provisioning, links
from hub.sync.retry import RetryPolicy, from_config


def test_provisioning_runs_through_the_worker_care_first(hub):
    hub.care.locations = [
        LocationInfo("loc-1", "North"),
        LocationInfo("loc-2", "South"),
    ]
    with hub.app.app_context():
        job = enqueue_provisioning(db.session.get(Agency, hub.agency_id))
        again = enqueue_provisioning(db.session.get(Agency, hub.agency_id))
        assert again.id == job.id
        job_id = job.id
    assert hub.care.remote.calls == [] and hub.sales.remote.calls == []

    hub.run()

    with hub.app.app_context():
        job = db.session.get(ProvisioningJob, job_id)
        assert (job.status, job.attempts) == ("done", 1)
        agency = db.session.get(Agency, hub.agency_id)
        assert [(loc.remote_id, loc.name) for loc in agency.locations] == [
            ("loc-1", "North"),
            ("loc-2", "South"),
        ]
        steps = db.session.scalars(sa.select(ProvisioningStep)).all()
        assert {(s.step, s.status) for s in steps} == {("setup", "done")}
        assert len(steps) == 2
    assert hub.care.remote.calls == ["provision"]
    assert hub.sales.remote.calls == ["provision"]


def test_a_failed_provisioning_is_retried_then_needs_attention(hub):
    hub.sales.remote.fail("provision", RemoteUnavailable("Down.", retryable=True))
    with hub.app.app_context():
        job_id = enqueue_provisioning(db.session.get(Agency, hub.agency_id)).id

    hub.run()
    with hub.app.app_context():
        assert db.session.get(ProvisioningJob, job_id).status == "retry"
    hub.sales.remote.fail("provision", NeedsAttention("Grant the automation scope."))
    hub.clock.advance(60)
    hub.run()

    with hub.app.app_context():
        job = db.session.get(ProvisioningJob, job_id)
        assert job.status == "needs_attention"
        assert job.last_error == "Grant the automation scope."


def test_metrics_count_events_and_the_queue(hub):
    hub.sales.create_contact(MARGARET)
    hub.deliver()

    page = hub.client.get("/metrics").get_data(as_text=True)
    assert 'hub_events_pending{connector="memsales"} 1.0' in page
    assert 'hub_events_received_total{connector="memsales"}' in page

    hub.sync()
    page = hub.client.get("/metrics").get_data(as_text=True)

    assert 'hub_events_pending{connector="memsales"} 0.0' in page
    assert 'hub_events_processed_total{connector="memsales",outcome="created"}' in page
    assert (
        'hub_remote_calls_total{connector="memcare",hook="apply_change",status="ok"}'
        in page
    )
    assert "hub_event_processing_seconds_bucket" in page
    assert "hub_oldest_pending_event_age_seconds" in page


def test_the_schedule_grows_with_jitter_inside_its_bounds():
    policy = RetryPolicy(jitter=0.2, rng=random.Random(7))
    waits = [policy.wait(n) for n in range(1, 10)]
    bases = (30, 120, 600, 3600, 21600, 86400, 86400, 86400, 86400)

    assert all(0.8 * b <= w <= 1.2 * b for w, b in zip(waits, bases, strict=True))
    assert policy.max_tries == 9
    assert sum(bases[:8]) / 86400 > 3


def test_a_rate_limit_waits_at_least_what_the_remote_asked():
    policy = RetryPolicy(jitter=0.0)
    now = datetime(2026, 1, 1)
    limited = RateLimited("Slow down.", retryable=True, retry_after=42)

    decision = policy.decide(limited, attempts=1, deferrals=0, now=now)
    assert (decision.action, (decision.at - now).total_seconds()) == ("defer", 42)

    decision = policy.decide(limited, attempts=1, deferrals=50, now=now)
    assert (decision.action, (decision.at - now).total_seconds()) == ("retry", 42)

    slow = RemoteUnavailable("Busy.", retryable=True, retry_after=500)
    decision = policy.decide(slow, attempts=1, deferrals=0, now=now)
    assert (decision.at - now).total_seconds() == 500


def test_the_schedule_comes_from_the_settings():
    policy = from_config({"HUB_RETRY_SCHEDULE": "1, 2,3", "HUB_RETRY_JITTER": "0"})

    assert policy.schedule == (1.0, 2.0, 3.0)
    assert policy.max_tries == 4
    assert policy.wait(2) == 2.0


def test_the_worker_starts_only_for_requests_a_server_serves():
    import click

    from hub.sync import serving_http

    assert serving_http()
    with click.Context(click.Command("run"), info_name="run"):
        assert serving_http()
    with click.Context(click.Command("dev-setup"), info_name="dev-setup"):
        assert not serving_http()


def test_metrics_need_the_bearer_token_when_one_is_set(hub):
    hub.app.config["HUB_METRICS_TOKEN"] = "scrape-token-0123456789"

    missing = hub.client.get("/metrics")
    wrong = hub.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    right = hub.client.get(
        "/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"}
    )

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "HUB_METRICS_TOKEN" in missing.get_data(as_text=True)
    assert "scrape-token" not in wrong.get_data(as_text=True)
    assert right.status_code == 200
    assert "hub_events_pending" in right.get_data(as_text=True)


def test_the_provision_command_runs_it_here_and_shows_each_step(hub):
    runner = hub.app.test_cli_runner()

    done = runner.invoke(args=["hub", "provision", "sunrise"])
    hub.sales.remote.fail("provision", NeedsAttention("Grant the automation scope."))
    failed = runner.invoke(args=["hub", "provision", "sunrise"])
    queued = runner.invoke(args=["hub", "provision", "sunrise", "--queue"])
    unknown = runner.invoke(args=["hub", "provision", "nobody"])

    assert done.exit_code == 0, done.output
    assert "memcare setup: done: CareSys is ready." in done.output
    assert "memsales setup: done: SalesCRM is ready." in done.output
    assert done.output.endswith("Provisioning of sunrise: done\n")
    assert failed.exit_code == 1
    assert "needs_attention: Grant the automation scope." in failed.output
    assert queued.exit_code == 0
    assert "Provisioning of sunrise is queued" in queued.output
    assert unknown.exit_code == 2
    assert "There is no agency 'nobody'" in unknown.output
    assert hub.care.remote.calls == ["provision", "provision"]


def test_find_many_returns_each_ref_s_link_of_one_agency_and_connector(hub):
    with hub.app.app_context():
        agency = db.session.scalars(sa.select(Agency)).first()
        other = Agency(slug="other-agency", name="Other Agency", settings={})
        db.session.add(other)
        db.session.flush()
        made = {}
        for n in range(3):
            link = SyncLink(agency_id=agency.id, fingerprints={}, snapshots={})
            db.session.add(link)
            db.session.flush()
            links.add_refs(link, "memsales", {"contact": str(n), "deal": f"d{n}"})
            made[n] = link.id
        stranger = SyncLink(agency_id=other.id, fingerprints={}, snapshots={})
        db.session.add(stranger)
        db.session.flush()
        links.add_refs(stranger, "memsales", {"contact": "0"})
        db.session.commit()

        asked = [RecordRef("contact", str(n)) for n in range(4)] + [
            RecordRef("deal", "d2"),
            RecordRef("patient", "0"),
        ]
        found = links.find_many(agency.id, "memsales", asked)

        assert {ref: link.id for ref, link in found.items()} == {
            RecordRef("contact", "0"): made[0],
            RecordRef("contact", "1"): made[1],
            RecordRef("contact", "2"): made[2],
            RecordRef("deal", "d2"): made[2],
        }
        assert links.find_many(agency.id, "memcare", asked) == {}
