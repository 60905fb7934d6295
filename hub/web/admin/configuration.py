"""What provisioning shows: each step's status, the last job's problem, and the
workflows with their webhook URLs."""

from __future__ import annotations

import sqlalchemy as sa

from hub.extensions import db
from hub.models import Agency, EventStatus, ProvisioningJob
from hub.web.admin import texts
from hub.web.admin.connections import setup_connectors
from hub.web.admin.progress import sales_connection


def step_groups(agency: Agency) -> list[dict]:
    """Return each connection's provisioning steps with their status and detail."""
    groups = []
    for info in setup_connectors():
        connection = agency.connection(info.name)
        if connection is None or not (connection.steps or info.provision_steps):
            continue
        rows = {row.step: row for row in connection.steps}
        names = list(info.provision_steps) + [
            s for s in rows if s not in info.provision_steps
        ]
        groups.append(
            {
                "label": info.label,
                "connector": info.name,
                "steps": [
                    {
                        "step": name,
                        "title": texts.STEP_TITLES.get(name, name.replace("_", " ")),
                        "status": rows[name].status if name in rows else "not started",
                        "detail": (rows[name].detail or "") if name in rows else "",
                    }
                    for name in names
                ],
            }
        )

    return groups


def job_problem(agency: Agency) -> str | None:
    """Return why the agency's last provisioning job did not finish, or None."""
    job = db.session.scalar(
        sa.select(ProvisioningJob)
        .filter_by(agency_id=agency.id)
        .order_by(ProvisioningJob.id.desc())
        .limit(1)
    )
    failing = (EventStatus.RETRY.value, EventStatus.NEEDS_ATTENTION.value)
    if job is None or job.status not in failing:
        return None

    return job.last_error


def workflows(agency: Agency) -> list[dict]:
    """Return each workflow step of the sales connection with its URLs and status."""
    found = sales_connection(agency)
    if found is None:
        return []
    info, connection = found
    rows = [row for row in connection.steps if row.step in texts.STEP_PURPOSES]
    workflows = []
    for row in rows:
        purposes = [
            p for p in texts.STEP_PURPOSES[row.step] if p in info.webhook_purposes
        ]
        workflows.append(
            {
                "step": row.step,
                "title": texts.STEP_TITLES.get(row.step, row.step),
                "status": row.status,
                "detail": row.detail or "",
                "manual_steps": texts.MANUAL_STEPS.get(row.step, []),
                "urls": [
                    (texts.PURPOSE_TITLES.get(p, p), connection.webhook_url(p))
                    for p in purposes
                ],
            }
        )
    db.session.commit()

    return workflows
