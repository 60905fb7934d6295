"""Provisioning jobs: making an agency's remotes ready, run by the sync worker.

A web request only records a job; the worker runs the care connector first, then
the sales connector, storing each step as it moves and the facts a connector found
(locations, required fields) on the agency for the others.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from hub.canonical import AgencyFacts, Connected, Role
from hub.errors import HubError
from hub.extensions import db
from hub.models import (
    Agency,
    Connection,
    EventStatus,
    Location,
    ProvisioningJob,
    ProvisioningStep,
    utcnow,
)

log = logging.getLogger(__name__)

#: The order roles are provisioned in: the care system's facts feed the CRM's.
ROLE_ORDER = {Role.CARE: 0, Role.SALES: 1}


def enqueue(agency: Agency) -> ProvisioningJob:
    """Record a provisioning job for an agency, or return the one still waiting,
    and wake the worker."""
    from flask import current_app

    job = db.session.scalar(
        sa.select(ProvisioningJob).where(
            ProvisioningJob.agency_id == agency.id,
            ProvisioningJob.status.in_(
                (EventStatus.PENDING.value, EventStatus.RETRY.value)
            ),
        )
    )
    if job is None:
        job = ProvisioningJob(agency_id=agency.id)
        db.session.add(job)
    db.session.commit()
    dispatcher = current_app.extensions.get("hub.dispatcher")
    if dispatcher is not None:
        dispatcher.wake()

    return job


def ordered_connections(agency: Agency, connectors) -> list[Connection]:
    """Return the agency's connections in the order they are provisioned."""
    known = []
    for connection in agency.connections:
        try:
            info = connectors.info(connection.connector)
        except HubError:
            log.warning(
                "Agency %s: connector %s is not installed; not provisioned.",
                agency.slug,
                connection.connector,
            )
            continue
        known.append((ROLE_ORDER.get(info.role, 2), connection.connector, connection))

    return [connection for _, _, connection in sorted(known, key=lambda k: k[:2])]


def provision_agency(agency: Agency, connectors) -> None:
    """Provision each of an agency's connections in turn.

    :raises HubError: from the first connector that fails; steps already done stay
        done, since provisioning is idempotent.
    """
    for connection in ordered_connections(agency, connectors):
        info = connectors.info(connection.connector)
        report = step_reporter(connection, info.provision_steps)
        log.info("Agency %s: provisioning connector %s.", agency.slug, info.name)
        facts = connectors.provision(info.name, agency, connection, report)
        if isinstance(facts, AgencyFacts):
            store_agency_facts(agency, facts)
        db.session.commit()


def step_reporter(connection: Connection, steps: tuple[str, ...]):
    """Return the ``report(step, status, detail)`` callable that stores each step."""

    def report(step: str, status: str, detail: str = "") -> None:
        row = db.session.scalar(
            sa.select(ProvisioningStep).where(
                ProvisioningStep.connection_id == connection.id,
                ProvisioningStep.step == step,
            )
        )
        if row is None:
            row = ProvisioningStep(connection_id=connection.id, step=step)
            db.session.add(row)
        row.position = steps.index(step) if step in steps else len(steps)
        row.status = str(status)
        row.detail = detail
        db.session.commit()

    return report


def keep_connected(agency: Agency, connection: Connection, found: Connected) -> None:
    """Keep what ``connect`` found: the remote account, the connection's facts, and
    the agency facts the other connectors need. The caller commits."""
    connection.account = found.account
    connection.connected_at = utcnow()
    if found.facts:
        connection.update_state(**dict(found.facts))
    if found.agency_facts is not None:
        store_agency_facts(agency, found.agency_facts)


def store_agency_facts(agency: Agency, facts: AgencyFacts) -> None:
    """Keep what a connector found about the agency, for the other connectors."""
    if facts.locations is not None:
        current = {location.remote_id: location for location in agency.locations}
        seen = set()
        for found in facts.locations:
            seen.add(found.id)
            row = current.get(found.id)
            if row is None:
                agency.locations.append(
                    Location(remote_id=found.id, name=found.name, active=True)
                )
            else:
                row.name = found.name
                row.active = True
        for remote_id, row in current.items():
            if remote_id not in seen:
                row.active = False
    if facts.required_fields is not None:
        agency.settings = {
            **(agency.settings or {}),
            "required_fields": list(facts.required_fields),
        }
