"""Provisioning a HubSpot portal for the sync, step by step, idempotently.

Each step reports as it moves. A second run reads and writes nothing unless
something drifted; what an admin deleted or changed by hand is put back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from carehub_hubspot import paths
from carehub_hubspot import workflow_specs as specs
from carehub_hubspot.access import is_real_hubspot
from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.errors import ProvisionProblem
from carehub_hubspot.pipeline import PIPELINE_LABEL, ensure_pipeline
from carehub_hubspot.properties import ensure_properties
from carehub_hubspot.workflows import MissingScope, NoWebhooks, ensure_flow
from hub.canonical import StepStatus
from hub.errors import AuthenticationFailed, RemoteError

log = logging.getLogger(__name__)

STEPS = ("pipeline", "properties", "contact_workflows", "deal_workflow")

POLLING = (
    "This HubSpot portal cannot send webhooks from workflows ({reason}): that needs "
    "Operations Hub (Data Hub) Professional or Enterprise, and the workflows API a "
    "Professional subscription. The sync runs by polling instead: the hub asks "
    "HubSpot for new and changed contacts and deals every few minutes."
)


def provision(client: HubSpotClient, agency, connection, report) -> None:
    """Make the portal ready for the sync, calling ``report`` as each step moves."""
    if not (connection.state or {}).get("portal_id"):
        details = client.get(paths.path("account_details"), what="reading the portal")
        connection.update_state(portal_id=str(details.get("portalId")))

    pipeline_ok = _run(report, "pipeline", lambda: ensure_pipeline(client, connection))
    _run(report, "properties", lambda: ensure_properties(client, agency, connection))
    _run(
        report,
        "contact_workflows",
        lambda: _contact_workflows(client, agency, connection),
    )
    if pipeline_ok:
        _run(report, "deal_workflow", lambda: _deal_workflow(client, connection))
    else:
        report(
            "deal_workflow",
            StepStatus.SKIPPED.value,
            f"The deal workflow needs {PIPELINE_LABEL}; fix the pipeline step first.",
        )


class StepOutcome(Exception):
    """A step ended other than done; carries its status and detail."""

    def __init__(self, status: StepStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _run(report, step: str, work: Callable[[], str]) -> bool:
    """Run one step, reporting it; return whether it ended done."""
    report(step, StepStatus.RUNNING.value, "")
    try:
        detail = work()
    except StepOutcome as outcome:
        report(step, outcome.status.value, outcome.detail)
        return False
    except ProvisionProblem as exc:
        report(step, StepStatus.FAILED.value, str(exc))
        return False
    except AuthenticationFailed as exc:
        report(step, StepStatus.FAILED.value, exc.message)
        raise
    except RemoteError as exc:
        log.warning("HubSpot provisioning step %s failed: %s", step, exc.message)
        report(step, StepStatus.FAILED.value, exc.message)
        return False

    report(step, StepStatus.DONE.value, detail)
    return True


def _check_public_url(client: HubSpotClient, url: str) -> None:
    if is_real_hubspot(client) and urlsplit(url).scheme != "https":
        base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
        raise StepOutcome(
            StepStatus.FAILED,
            f"HubSpot only sends webhooks to https:// addresses, but the hub's public "
            f"URL is {base}. Set HUB_PUBLIC_URL to the https:// address HubSpot can "
            "reach the hub at, then provision again.",
        )


def _contact_workflows(client: HubSpotClient, agency, connection) -> str:
    state = connection.state or {}
    portal = state.get("portal_id")
    app_id = connection.setting("app_id")
    created_url = connection.webhook_url("contact.created")
    changed_url = connection.webhook_url("contact.changed")
    _check_public_url(client, created_url)

    stored = dict(state.get("workflow_ids") or {})
    wanted = [
        ("contact.created", specs.contact_flow(created_url, app_id)),
        ("contact.changed", specs.field_sync_flow(changed_url, app_id, agency)),
    ]
    try:
        done = _ensure_all(client, connection, wanted, stored)
    except MissingScope:
        raise StepOutcome(
            StepStatus.MANUAL,
            "The HubSpot token lacks the automation scope, so make the two contact "
            "workflows by hand (or add the scope and provision again). "
            + specs.manual_contact_steps(portal, created_url, app_id)
            + " "
            + specs.manual_field_sync_steps(portal, changed_url, app_id, agency),
        ) from None
    except NoWebhooks as exc:
        connection.update_state(sync_by_polling=True)
        raise StepOutcome(StepStatus.UNAVAILABLE, _polling(exc)) from None

    return done or "Both contact workflows are as they should be."


def _deal_workflow(client: HubSpotClient, connection) -> str:
    state = connection.state or {}
    portal = state.get("portal_id")
    app_id = connection.setting("app_id")
    url = connection.webhook_url("deal.stage_changed")
    _check_public_url(client, url)

    stored = dict(state.get("workflow_ids") or {})
    first_time = "deal.stage_changed" not in stored
    wanted = [("deal.stage_changed", specs.deal_flow(url, app_id, state["stage_ids"]))]
    try:
        done = _ensure_all(client, connection, wanted, stored)
    except MissingScope:
        raise StepOutcome(
            StepStatus.MANUAL,
            "The HubSpot token lacks the automation scope, so make the deal workflow "
            "by hand (or add the scope and provision again). "
            + specs.manual_deal_steps(portal, url, app_id),
        ) from None
    except NoWebhooks as exc:
        connection.update_state(sync_by_polling=True)
        raise StepOutcome(StepStatus.UNAVAILABLE, _polling(exc)) from None

    if first_time:
        connection.update_state(deal_backfill=True)
    existing = (
        " Workflows made through HubSpot's API only enroll deals that change after "
        "they are turned on, so the hub's reconciliation brings in the deals already "
        "past New Lead."
    )
    return (done or "The deal workflow is as it should be.") + existing


def _polling(exc: NoWebhooks) -> str:
    return POLLING.format(reason=f"HubSpot said: {str(exc).rstrip('.')}")


def _ensure_all(client, connection, wanted, stored) -> str:
    done = []
    for purpose, spec in wanted:
        flow_id, what = ensure_flow(client, spec, stored.get(purpose))
        stored[purpose] = flow_id
        connection.update_state(workflow_ids=dict(stored), sync_by_polling=False)
        if what:
            done.append(what)
    if not done:
        return ""
    text = "; ".join(done)
    return text[0].upper() + text[1:] + "."
