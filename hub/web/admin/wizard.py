"""The setup wizard: overview, agreement, one connect page per connector, webhooks
and setup complete. Every step can be repeated; the agency resumes where it left."""

from __future__ import annotations

import logging

from flask import abort, flash, jsonify, redirect, render_template, request, url_for

from hub.canonical import Role, StepStatus
from hub.errors import HubError, NotFound
from hub.extensions import db
from hub.web.admin import bp, texts
from hub.web.admin.audit import record
from hub.web.admin.configuration import job_problem, step_groups, workflows
from hub.web.admin.connections import (
    connect as connect_connection,
)
from hub.web.admin.connections import (
    connectors,
    field_errors,
    form_fields,
    queue_provisioning,
    read_form,
    setup_connectors,
)
from hub.web.admin.progress import (
    SETTLED,
    checklist,
    first_open_step,
    now_text,
    sales_connection,
    setup_state,
    step_done,
    update_setup,
    wizard_steps,
)
from hub.web.auth import agency_or_404, safe_next, signed_in

log = logging.getLogger(__name__)


def _render(agency, key: str, template: str, status: int = 200, **context):
    steps = wizard_steps()
    current = next(s for s in steps if s.key == key)
    done = {s.key: step_done(agency, s) for s in steps}
    page = render_template(
        template,
        agency=agency,
        steps=steps,
        current=current,
        done=done,
        texts=texts,
        **context,
    )

    return page, status


def _guard(agency, key: str):
    """Return a redirect to the first open step when an earlier one is not done."""
    for step in wizard_steps():
        if step.key == key:
            return None
        if not step_done(agency, step):
            flash(f"Finish “{step.title}” first.")
            return redirect(url_for(step.endpoint, slug=agency.slug, **step.args))

    return None


@bp.get("/agencies/<slug>/setup")
@signed_in
def setup(slug: str):
    """Send the admin to the first step of the wizard not done yet."""
    agency = agency_or_404(slug)
    step = first_open_step(agency)

    return redirect(url_for(step.endpoint, slug=slug, **step.args))


@bp.get("/agencies/<slug>/setup/overview")
@signed_in
def overview(slug: str):
    """Show what the integration does, and Start."""
    agency = agency_or_404(slug)
    return _render(
        agency, "overview", "admin/wizard/overview.html", infos=setup_connectors()
    )


@bp.route("/agencies/<slug>/setup/agreement", methods=["GET", "POST"])
@signed_in
def agreement(slug: str):
    """Ask for permission to change the sales CRM; record it in the audit log."""
    agency = agency_or_404(slug)
    if request.method == "GET":
        return _render(agency, "agreement", "admin/wizard/agreement.html", error=None)

    if request.form.get("agree") != "yes":
        return _render(
            agency,
            "agreement",
            "admin/wizard/agreement.html",
            status=400,
            error="Tick the box to give the hub this permission, then Continue.",
        )
    if not setup_state(agency).get("agreed_at"):
        update_setup(agency, agreed_at=now_text())
        record(agency, "Agreed", detail="Gave the hub permission to change the CRM.")
        db.session.commit()

    return redirect(url_for("admin.setup", slug=slug))


def _connector_for_step(name: str):
    info = next((i for i in setup_connectors() if i.name == name), None)
    if info is None:
        raise NotFound(f"No connector named {name!r} is set up by the wizard.")
    return info


def _connect_page(agency, info, status=200, errors=None, values=None, error=None):
    connection = agency.connection(info.name)
    template = "admin/wizard/connect_care.html"
    if info.role == Role.SALES:
        template = "admin/wizard/connect_sales.html"
    kept = set(connection.credentials) if connection else set()

    return _render(
        agency,
        f"connect:{info.name}",
        template,
        status=status,
        info=info,
        connection=connection,
        fields=form_fields(info),
        kept=kept,
        errors=errors or {},
        values=values or (connection.settings if connection else {}),
        error=error,
        groups=step_groups(agency),
        job=job_problem(agency),
        configured=bool(setup_state(agency).get("configured_at")),
    )


@bp.route("/agencies/<slug>/setup/connect/<connector>", methods=["GET", "POST"])
@signed_in
def connect(slug: str, connector: str):
    """Show a connector's settings form; Connect checks them with the connector."""
    agency = agency_or_404(slug)
    info = _connector_for_step(connector)
    blocked = _guard(agency, f"connect:{info.name}")
    if blocked is not None:
        return blocked
    if request.method == "GET":
        return _connect_page(agency, info)

    raw = read_form(info, request.form)
    values = {f.name: raw.get(f.name) for f in form_fields(info) if not f.secret}
    errors = field_errors(info, agency.connection(info.name), raw)
    if errors:
        return _connect_page(agency, info, 400, errors=errors, values=values)
    try:
        connect_connection(agency, info, raw)
    except HubError as exc:
        agency = agency_or_404(slug)
        return _connect_page(agency, info, 400, values=values, error=exc.message)

    flash(f"Connected to {info.label}.")
    return redirect(url_for("admin.connect", slug=slug, connector=info.name))


@bp.post("/agencies/<slug>/setup/configure")
@signed_in
def configure(slug: str):
    """Queue provisioning; the page then shows each step as it moves."""
    agency = agency_or_404(slug)
    found = sales_connection(agency)
    if found is None or found[1].connected_at is None:
        flash("Connect first, then configure.")
        return redirect(url_for("admin.setup", slug=slug))

    queue_provisioning(agency)
    update_setup(agency, configured_at=now_text())
    db.session.commit()

    return redirect(url_for("admin.connect", slug=slug, connector=found[0].name))


@bp.get("/agencies/<slug>/setup/provisioning.json")
@signed_in
def provisioning_status(slug: str):
    """Return each provisioning step's status, for the live status on the page."""
    agency = agency_or_404(slug)
    groups = step_groups(agency)
    steps = [s for g in groups for s in g["steps"]]
    settled = bool(steps) and all(s["status"] in SETTLED for s in steps)

    return jsonify(groups=groups, settled=settled, job=job_problem(agency))


@bp.route("/agencies/<slug>/setup/webhooks", methods=["GET", "POST"])
@signed_in
def webhooks(slug: str):
    """Show how each workflow calls the hub; Finish ends the wizard."""
    agency = agency_or_404(slug)
    blocked = _guard(agency, "webhooks")
    if blocked is not None:
        return blocked
    if request.method == "GET":
        return _render(
            agency,
            "webhooks",
            "admin/wizard/webhooks.html",
            workflows=workflows(agency),
        )

    if not setup_state(agency).get("finished_at"):
        found = sales_connection(agency)
        manual = []
        if found is not None:
            manual = [
                f"manual:{row.step}"
                for row in found[1].steps
                if row.status == StepStatus.MANUAL.value
            ]
        update_setup(agency, finished_at=now_text(), manual_steps=manual)
        record(agency, "Setup finished")
        db.session.commit()

    return redirect(url_for("admin.complete", slug=slug))


@bp.route("/agencies/<slug>/setup/complete", methods=["GET", "POST"])
@signed_in
def complete(slug: str):
    """Show the Finish in the CRM checklist; an admin may tick an item as done."""
    agency = agency_or_404(slug)
    blocked = _guard(agency, "complete")
    if blocked is not None:
        return blocked
    if request.method == "POST":
        key = request.form.get("item", "")
        if key not in {item.key for item in checklist(agency)}:
            abort(400, "That checklist item does not exist; reload the page.")
        acknowledged = set(setup_state(agency).get("acknowledged", []))
        if key not in acknowledged:
            update_setup(agency, acknowledged=sorted(acknowledged | {key}))
            record(agency, "Checklist item done", detail=key)
            db.session.commit()
        return redirect(
            safe_next(request.form.get("back")) or url_for("admin.complete", slug=slug)
        )

    return _render(
        agency,
        "complete",
        "admin/wizard/complete.html",
        items=checklist(agency),
        workflows=workflows(agency),
    )


__all__ = ["connectors"]
