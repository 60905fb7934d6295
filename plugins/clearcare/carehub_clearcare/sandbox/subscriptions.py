"""The sandbox's subscriptions: ClearCare's FHIR-style webhook registrations."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, g, jsonify, request

from carehub_clearcare.sandbox import gateway, patients, state, store
from carehub_clearcare.sandbox.gateway import message
from hub.sandbox import transaction


def json_body() -> dict[str, Any] | None:
    """Return the request's JSON object, or None when it has none."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def bare_bundle(resources: list[dict[str, Any]]) -> Response:
    """Return a searchset Bundle with bare resources in ``entry``."""
    return jsonify(
        resourceType="Bundle",
        type="searchset",
        totalRecords=len(resources),
        entry=resources,
    )


def subscription_problem(body: dict[str, Any] | None) -> str | None:
    """Return the 422 message for a subscription ClearCare would refuse, or None."""
    if body is None:
        return "The body must be a Subscription resource."
    if not patients.tag(body, "agencyId"):
        return "'agencyId' is required."
    if body.get("criteria") not in patients.CRITERIA:
        return f"'criteria' {body.get('criteria')!r} is not supported."
    channel = body.get("channel") or {}
    if channel.get("type") != "rest-hook" or not channel.get("endpoint"):
        return "'channel' needs type rest-hook and an endpoint."
    return None


def subscriptions() -> Response:
    """List the agency's subscriptions, or create one."""
    account = g.cc_account
    sandbox = state()
    if request.method == "GET":
        with sandbox.engine.begin() as conn:
            rows = conn.execute(
                sa.select(store.subscriptions)
                .where(store.subscriptions.c.agency_id == account.agency_id)
                .order_by(store.subscriptions.c.id)
            ).all()
        found = [{**r.resource, "id": r.id} for r in rows]
        return bare_bundle(found)

    body = json_body()
    problem = subscription_problem(body)
    if problem:
        return message(422, problem)
    if patients.tag(body, "agencyId") != str(account.agency_id):
        return gateway.gateway_refusal()
    with transaction(sandbox.engine, "clearcare") as conn:
        new_id = store.next_id(
            conn, store.subscriptions, "id", store.FIRST_SUBSCRIPTION_ID
        )
        resource = {k: v for k, v in body.items() if k != "id"}
        resource["resourceType"] = "Subscription"
        conn.execute(
            store.subscriptions.insert().values(
                id=new_id, agency_id=account.agency_id, resource=resource
            )
        )
    response = jsonify(id=new_id)
    response.status_code = 201
    return response


def one_subscription(subscription_id: int) -> Response:
    """Read, replace or delete one subscription."""
    account = g.cc_account
    table = store.subscriptions
    with state().engine.begin() as conn:
        row = conn.execute(
            sa.select(table).where(
                table.c.id == subscription_id, table.c.agency_id == account.agency_id
            )
        ).first()
        if row is None:
            return message(404, f"Subscription {subscription_id} was not found.")
        if request.method == "DELETE":
            conn.execute(table.delete().where(table.c.id == row.id))
            return Response(status=204)
        if request.method == "PUT":
            body = json_body()
            problem = subscription_problem(body)
            if problem:
                return message(422, problem)
            resource = {**body, "resourceType": "Subscription"}
            resource.pop("id", None)
            conn.execute(
                table.update().where(table.c.id == row.id).values(resource=resource)
            )
            return jsonify(id=row.id)
    return jsonify({**row.resource, "id": row.id})
