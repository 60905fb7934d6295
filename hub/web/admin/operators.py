"""The operators' pages: every agency's health, new agencies and their admins."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from werkzeug.security import generate_password_hash

from hub.extensions import db
from hub.models import Agency, Role, User
from hub.web.admin import bp
from hub.web.admin.dashboard import health_counts
from hub.web.admin.progress import setup_state
from hub.web.auth import operator_only

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MIN_PASSWORD = 10


def _page(status=200, errors=None, agency_values=None, admin_values=None):
    agencies = db.session.scalars(sa.select(Agency).order_by(Agency.name)).all()
    rows = [
        {
            "agency": agency,
            "counts": health_counts(agency),
            "finished": bool(setup_state(agency).get("finished_at")),
            "admins": db.session.scalars(
                sa.select(User.email).filter_by(agency_id=agency.id)
            ).all(),
        }
        for agency in agencies
    ]
    page = render_template(
        "admin/agencies.html",
        rows=rows,
        errors=errors or {},
        agency_values=agency_values or {},
        admin_values=admin_values or {},
    )

    return page, status


@bp.get("/agencies")
@operator_only
def agencies():
    """List every agency with its health and its admins."""
    return _page()


@bp.post("/agencies")
@operator_only
def create_agency():
    """Create an agency from its slug and name."""
    slug = request.form.get("slug", "").strip().lower()
    name = request.form.get("name", "").strip()
    errors = {}
    if not SLUG.match(slug):
        errors["slug"] = (
            "Use 2–63 lowercase letters, digits and dashes, such as sunrise."
        )
    elif db.session.scalar(sa.select(Agency).filter_by(slug=slug)) is not None:
        errors["slug"] = f"The agency {slug!r} exists already; choose another slug."
    if not name:
        errors["name"] = "Enter the agency's name as people know it."
    if errors:
        return _page(400, errors, agency_values={"slug": slug, "name": name})

    db.session.add(Agency(slug=slug, name=name, settings={}))
    db.session.commit()
    log.info("Operator created the agency %s.", slug)
    flash(f"Created the agency {name}.")

    return redirect(url_for("admin.agencies"))


@bp.post("/agencies/admins")
@operator_only
def create_admin():
    """Create an agency admin with an email and a first password."""
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    slug = request.form.get("agency", "")
    agency = db.session.scalar(sa.select(Agency).filter_by(slug=slug))
    errors = {}
    if "@" not in email:
        errors["email"] = "Enter the admin's email address."
    elif db.session.scalar(sa.select(User).filter_by(email=email)) is not None:
        errors["email"] = "Someone signs in with this email already."
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"Use a password of at least {MIN_PASSWORD} characters."
    if agency is None:
        errors["agency"] = "Choose the admin's agency."
    if errors:
        return _page(400, errors, admin_values={"email": email, "agency": slug})

    db.session.add(
        User(
            email=email,
            password_hash=generate_password_hash(password),
            role=Role.ADMIN.value,
            agency=agency,
        )
    )
    db.session.commit()
    log.info("Operator created an admin for agency %s.", slug)
    flash(f"Created the admin {email} for {agency.name}.")

    return redirect(url_for("admin.agencies"))
