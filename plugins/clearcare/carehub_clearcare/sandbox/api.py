"""The sandbox's vendor routes: token, organizations, locations, patients and
subscriptions, as ClearCare's Connect API answers them."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, g, jsonify, request

from carehub_clearcare.sandbox import gateway, patients, state, store
from carehub_clearcare.sandbox.gateway import message
from carehub_clearcare.sandbox.subscriptions import one_subscription, subscriptions
from hub.sandbox import transaction

#: How long a sandbox token lasts, in seconds on the sandbox's clock.
TOKEN_LIFETIME = 3600
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def bundle(
    resources: list[dict[str, Any]], total: int, wrapped: bool = True
) -> Response:
    """Return a searchset Bundle, with entries wrapped in ``resource`` or bare."""
    entries = [{"resource": r} for r in resources] if wrapped else resources
    return jsonify(
        resourceType="Bundle", type="searchset", totalRecords=total, entry=entries
    )


def paging(params: dict[str, Any]) -> tuple[int, int] | Response:
    """Return ``_count`` and ``_page`` from the parameters, or the 422 answer."""
    try:
        count = int(params.get("_count", 20))
        page = int(params.get("_page", 0))
    except (TypeError, ValueError):
        return message(422, "'_count' and '_page' must be whole numbers.")
    if not 1 <= count <= 100:
        return message(422, "'_count' must be between 1 and 100.")
    if page < 0:
        return message(422, "'_page' must be 0 or more.")
    return count, page


def json_body() -> dict[str, Any] | None:
    """Return the request's JSON object, or None when it has none."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def token() -> Response:
    """Answer the client-credentials grant in ClearCare's shape."""
    form = json_body() or request.form
    if form.get("grant_type") != "client_credentials":
        return message(400, "Unsupported grant type.")
    with state().engine.begin() as conn:
        account = conn.execute(
            sa.select(store.accounts).where(
                store.accounts.c.client_id == str(form.get("client_id", ""))
            )
        ).first()
        if account is None or not secrets.compare_digest(
            account.client_secret, str(form.get("client_secret", ""))
        ):
            return message(401, "Invalid client credentials.")
        g.cc_account = account
        issued = store.now(conn)
        access_token = secrets.token_urlsafe(24)
        conn.execute(
            store.tokens.insert().values(
                token=access_token,
                agency_id=account.agency_id,
                expires_at=issued + TOKEN_LIFETIME,
            )
        )

    return jsonify(
        access_token=access_token,
        token_type="BearerToken",
        expires_in=str(TOKEN_LIFETIME - 1),
        issued_at=int(issued * 1000),
        refresh_token_expires_in="0",
        status="approved",
        scope="",
    )


def organizations() -> Response:
    """List the agency the token belongs to, without paging."""
    account = g.cc_account
    organization = {
        "resourceType": "Organization",
        "id": str(account.agency_id),
        "name": account.name,
        "subdomain": account.subdomain,
    }
    return bundle([organization], 1)


def locations() -> Response:
    """List the agency's locations; bare resources in ``entry``, as ClearCare does."""
    account = g.cc_account
    if request.method == "GET" and not account.locations_get:
        return gateway.gateway_refusal()
    with state().engine.begin() as conn:
        rows = conn.execute(
            sa.select(store.locations)
            .where(store.locations.c.agency_id == account.agency_id)
            .order_by(store.locations.c.id)
        ).all()
    found = [
        {"resourceType": "Location", "id": str(r.id), "name": r.name} for r in rows
    ]
    return bundle(found, len(found), wrapped=False)


def list_patients() -> Response:
    """Search the agency's patients with query parameters or a JSON body."""
    params: dict[str, Any] = dict(request.args)
    if request.method == "POST":
        params.update(json_body() or {})
    pages = paging(params)
    if isinstance(pages, Response):
        return pages
    count, page = pages
    filters = {k: v for k, v in params.items() if not k.startswith("_")}

    with state().engine.begin() as conn:
        rows = conn.execute(
            sa.select(store.patients).where(
                store.patients.c.agency_id == g.cc_account.agency_id
            )
        ).all()
    try:
        found = [row for row in rows if patients.matches(row, filters)]
    except ValueError:
        return message(422, "'updated' must be a date such as ge2026-07-01T00:00:00.")
    order = params.get("_sort", "created")
    key = order.lstrip("-")
    found.sort(
        key=lambda r: (getattr(r, key, r.created), r.id),
        reverse=order.startswith("-"),
    )
    chosen = found[page * count : (page + 1) * count]

    return bundle([patients.shown(row) for row in chosen], len(found))


def create_patient() -> Response:
    """Create a patient; answer only its id, as ClearCare does."""
    body = json_body()
    account = g.cc_account
    problem = patients.problem(body, account.required_fields or [])
    if problem:
        return message(422, problem)
    if patients.tag(body, "agencyId") != str(account.agency_id):
        return gateway.gateway_refusal()

    sandbox = state()
    resource = patients.merged({}, body)
    patients.set_tag(
        resource, "isClient", "true" if patients.is_client(resource) else "false"
    )
    with transaction(sandbox.engine, "clearcare") as conn:
        moment = store.now(conn)
        patient_id = store.next_id(conn, store.patients, "id", store.FIRST_PATIENT_ID)
        conn.execute(
            store.patients.insert().values(
                id=patient_id,
                agency_id=account.agency_id,
                resource=resource,
                created=moment,
                updated=moment,
            )
        )
        sandbox.sender.enqueue(conn, account.agency_id, ["patient.created"], patient_id)
    sandbox.sender.wake()

    response = jsonify(resourceType="Patient", id=str(patient_id))
    response.status_code = 201
    return response


def patient_row(conn: sa.Connection, patient_id: int):
    """Return the agency's patient row, or None when it is not the agency's."""
    return conn.execute(
        sa.select(store.patients).where(
            store.patients.c.id == patient_id,
            store.patients.c.agency_id == g.cc_account.agency_id,
        )
    ).first()


def one_patient(patient_id: int) -> Response:
    """Read, partially update or delete one patient."""
    sandbox = state()
    if request.method == "PUT":
        return update_patient(patient_id)

    with sandbox.engine.begin() as conn:
        row = patient_row(conn, patient_id)
        if row is None:
            return message(404, f"Patient {patient_id} was not found.")
        if request.method == "DELETE":
            conn.execute(store.patients.delete().where(store.patients.c.id == row.id))
            return Response(status=204)
    return jsonify(patients.shown(row))


def update_patient(patient_id: int) -> Response:
    """Apply a partial update: only the fields sent change."""
    body = json_body()
    account = g.cc_account
    if body is None:
        return message(422, "The body must be a Patient resource.")
    if not patients.tag(body, "agencyId"):
        return message(422, "'agencyId' is required.")
    if patients.tag(body, "agencyId") != str(account.agency_id):
        return gateway.gateway_refusal()

    sandbox = state()
    with sandbox.engine.begin() as conn:
        row = patient_row(conn, patient_id)
        if row is None:
            return message(404, f"Patient {patient_id} was not found.")
        resource = patients.merged(row.resource, body)
        problem = patients.problem(resource, account.required_fields or [])
        if problem:
            return message(422, problem)
        save_patient(conn, row, resource)
    sandbox.sender.wake()

    return jsonify(resourceType="Patient", id=str(patient_id))


def save_patient(conn: sa.Connection, row, resource: dict[str, Any]) -> list[str]:
    """Store a changed patient and queue the webhooks it fires; return the criteria."""
    fired = patients.criteria_fired(row.resource, resource)
    conn.execute(
        store.patients.update()
        .where(store.patients.c.id == row.id)
        .values(resource=resource, updated=store.now(conn))
    )
    state().sender.enqueue(conn, row.agency_id, fired, row.id)
    return fired


def refuse() -> Response:
    """Answer any other path as ClearCare's gateway does."""
    return gateway.gateway_refusal()


def register(bp: Blueprint) -> None:
    """Add the vendor routes and the gateway in front of them to the blueprint.

    Rules do not enforce slashes themselves, so that Flask never redirects; the
    gateway refuses a path whose trailing slash does not match its rule.
    """
    gateway.register(bp)

    def route(rule: str, view, methods: list[str], endpoint: str | None = None):
        bp.add_url_rule(
            rule,
            endpoint=endpoint or view.__name__,
            view_func=view,
            methods=methods,
            strict_slashes=False,
            merge_slashes=False,
        )

    route("/oauth/accesstoken", token, ["POST"])
    route("/v1/organizations/", organizations, ["GET"])
    route("/v1/locations/", locations, ["GET"])
    route("/v1/locations/_search", locations, ["POST"], "search_locations")
    route("/v1/patients/", list_patients, ["GET"])
    route("/v1/patients/", create_patient, ["POST"])
    route("/v1/patients/_search/", list_patients, ["POST"], "search_patients")
    route("/v1/patients/<int:patient_id>/", one_patient, ["GET", "PUT", "DELETE"])
    route("/v1/subscriptions/", subscriptions, ["GET", "POST"])
    route(
        "/v1/subscriptions/<int:subscription_id>/",
        one_subscription,
        ["GET", "PUT", "DELETE"],
    )
    route("/", refuse, METHODS, "gateway")
    route("/<path:anything>", lambda anything: refuse(), METHODS, "gateway_any")
