"""The agency's dashboard: sync health, the last events and how the sync runs."""

from __future__ import annotations

import sqlalchemy as sa
from flask import redirect, render_template, url_for

from hub.canonical import StepStatus
from hub.extensions import db
from hub.models import Agency, Event, EventStatus
from hub.web.admin import bp
from hub.web.admin.connections import setup_connectors
from hub.web.admin.progress import checklist, setup_state
from hub.web.auth import agency_or_404, signed_in

#: How the dashboard groups event statuses.
HEALTH = {
    "in sync": (EventStatus.DONE.value, EventStatus.DROPPED.value),
    "pending": (EventStatus.PENDING.value, EventStatus.PROCESSING.value),
    "failing": (EventStatus.RETRY.value,),
    "needs attention": (EventStatus.NEEDS_ATTENTION.value,),
}


def health_counts(agency: Agency) -> dict[str, int]:
    """Return how many of the agency's events are in each health group."""
    rows = db.session.execute(
        sa.select(Event.status, sa.func.count())
        .where(Event.agency_id == agency.id)
        .group_by(Event.status)
    ).all()
    by_status = dict(rows)

    return {
        group: sum(by_status.get(status, 0) for status in statuses)
        for group, statuses in HEALTH.items()
    }


def last_syncs(agency: Agency) -> list[dict]:
    """Return, for each connector, when a change from it last synced to the other."""
    infos = setup_connectors()
    found = []
    for info in infos:
        others = [i.label for i in infos if i.name != info.name]
        when = db.session.scalar(
            sa.select(sa.func.max(Event.finished_at)).where(
                Event.agency_id == agency.id,
                Event.connector == info.name,
                Event.status == EventStatus.DONE.value,
            )
        )
        found.append(
            {"from": info.label, "to": " and ".join(others) or "—", "at": when}
        )

    return found


def sync_modes(agency: Agency) -> list[dict]:
    """Return how changes of each connector reach the hub: webhooks or polling."""
    modes = []
    for info in setup_connectors():
        connection = agency.connection(info.name)
        if connection is None:
            continue
        unavailable = [
            row.step
            for row in connection.steps
            if row.status == StepStatus.UNAVAILABLE.value
        ]
        if not info.webhook_purposes:
            how = "polling: the hub asks for changes every few minutes"
        elif unavailable:
            how = "webhooks, and polling for what the account cannot send"
        else:
            how = "webhooks, with polling as a backstop"
        modes.append({"label": info.label, "how": how, "account": connection.account})

    return modes


@bp.get("/agencies/<slug>/")
@signed_in
def home(slug: str):
    """Show the dashboard once setup is finished; the wizard before."""
    agency = agency_or_404(slug)
    if not setup_state(agency).get("finished_at"):
        return redirect(url_for("admin.setup", slug=slug))

    recent = db.session.scalars(
        sa.select(Event)
        .where(Event.agency_id == agency.id)
        .order_by(Event.received_at.desc(), Event.id.desc())
        .limit(10)
    ).all()
    items = checklist(agency)

    return render_template(
        "admin/dashboard.html",
        agency=agency,
        counts=health_counts(agency),
        recent=recent,
        syncs=last_syncs(agency),
        modes=sync_modes(agency),
        items=[item for item in items if not item.done],
        labels={i.name: i.label for i in setup_connectors()},
    )
