"""The control API under ``/_control/``: what tests and the demo use to steer it."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from carehub_hubspot.sandbox import accounts, definitions, oauth, state, store
from carehub_hubspot.sandbox.errors import ApiError

KINDS = ("pipeline", "stage", "property", "group", "workflow")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "Send a JSON object to the control API.")

    return body


def register(bp: Blueprint) -> None:
    """Add the control verbs to the sandbox's blueprint."""
    bp.add_url_rule("/_control/reset", view_func=reset, methods=["POST"])
    bp.add_url_rule("/_control/accounts", view_func=create_account, methods=["POST"])
    bp.add_url_rule("/_control/faults", view_func=add_fault, methods=["POST"])
    bp.add_url_rule("/_control/counters", view_func=counters, methods=["GET"])
    bp.add_url_rule("/_control/clock", view_func=clock, methods=["POST", "GET"])
    bp.add_url_rule(
        "/_control/delete_object", view_func=delete_object, methods=["POST"]
    )
    bp.add_url_rule("/_control/app_secret", view_func=app_secret, methods=["POST"])
    bp.add_url_rule("/_control/rotate_token", view_func=rotate_token, methods=["POST"])
    bp.add_url_rule("/_control/deliveries", view_func=deliveries, methods=["GET"])
    bp.add_url_rule(
        "/_control/required_properties", view_func=required_properties, methods=["POST"]
    )
    bp.add_url_rule("/_control/search_lag", view_func=search_lag, methods=["POST"])


def reset():
    """Empty the sandbox: accounts, records, webhooks, faults, counters, clock."""
    with state.tx() as conn:
        store.drop_all(conn)

    return jsonify({})


def create_account():
    """Create a seeded portal; answer its token and portal id."""
    body = _body()
    kind = body.get("token_kind") or "private_app"
    if kind not in oauth.TOKEN_KINDS:
        raise ApiError(
            400, f"'token_kind' must be one of {', '.join(oauth.TOKEN_KINDS)}."
        )
    with state.tx() as conn:
        created = accounts.create(conn, body)
        if kind == "oauth":
            token, until = oauth.issue(conn, created["portal_id"], store.now(conn))
            accounts.set_token(conn, created["portal_id"], token)
            created.update(token=token, access_token=token, expires_at=store.iso(until))

    return jsonify({**created, "token_kind": kind}), 201


def add_fault():
    """Make the next ``count`` matching API requests fail or slow down."""
    body = _body()
    count = body.get("count", 1)
    status = body.get("status")
    latency = body.get("latency_ms")
    if not isinstance(count, int) or count < 1:
        raise ApiError(400, "'count' must be a positive whole number.")
    if status is None and latency is None:
        raise ApiError(400, "A fault needs a 'status', a 'latency_ms', or both.")
    prefix = body.get("path_prefix") or "/"
    mount = state.current().prefix
    if mount and prefix.startswith(mount + "/"):
        prefix = prefix[len(mount) :]
    with state.tx() as conn:
        conn.execute(
            store.faults.insert().values(
                status=status, latency_ms=latency, remaining=count, path_prefix=prefix
            )
        )

    return jsonify({"count": count, "status": status, "latency_ms": latency}), 201


def counters():
    """Answer how many reads and writes an account (or all) made, and where."""
    account = request.args.get("account")
    u = store.usage
    query = sa.select(u)
    if account:
        if not account.isdigit():
            raise ApiError(400, "'account' is the portal id, a number.")
        query = query.where(u.c.portal_id == int(account))
    reads = writes = 0
    by_path: dict[str, int] = {}
    with state.tx() as conn:
        for row in conn.execute(query):
            reads += row.reads
            writes += row.writes
            by_path[row.path] = by_path.get(row.path, 0) + row.reads + row.writes

    return jsonify({"reads": reads, "writes": writes, "by_path": by_path})


def clock():
    """Move the sandbox's clock forward, and wake the webhook sender."""
    with state.tx() as conn:
        if request.method == "POST":
            seconds = _body().get("advance_seconds")
            if not isinstance(seconds, int | float) or seconds < 0:
                raise ApiError(400, "'advance_seconds' must be a number, zero or more.")
            offset = float(store.get_value(conn, "clock_offset", "0")) + seconds
            store.set_value(conn, "clock_offset", repr(offset))
        now = store.now(conn)
    state.wake_sender()

    return jsonify({"now": store.iso(now), "now_ms": store.millis(now)})


def delete_object():
    """Delete a pipeline, stage, property, group or workflow as an admin would."""
    body = _body()
    kind = body.get("kind")
    if kind not in KINDS:
        raise ApiError(400, f"'kind' must be one of {', '.join(KINDS)}.")
    key = str(body.get("id") or body.get("name") or "")
    if not key:
        raise ApiError(400, "Name the object to delete by 'id' (or 'name').")
    default_type = "deals" if kind in ("pipeline", "stage") else ""
    object_type = body.get("object_type") or default_type
    if kind != "workflow":
        object_type = definitions.object_type(object_type or "?")

    with state.tx() as conn:
        portal = accounts.find(conn, body)
        if kind == "workflow":
            found = definitions.remove(conn, portal["id"], "flow", "flows", key)
        elif kind == "stage":
            found = _delete_stage(conn, portal["id"], object_type, body, key)
        else:
            found = definitions.remove(conn, portal["id"], kind, object_type, key)
    if not found:
        raise ApiError(404, f"No {kind} {key!r} in account {portal['id']}.")

    return jsonify({"deleted": True, "kind": kind, "id": key})


def _delete_stage(conn, portal_id: int, object_type: str, body: dict, key: str) -> bool:
    pipeline_id = str(body.get("pipeline_id") or "")
    if not pipeline_id:
        raise ApiError(400, "Deleting a stage needs its 'pipeline_id'.")
    pipeline = definitions.get(conn, portal_id, "pipeline", object_type, pipeline_id)
    if pipeline is None:
        return False
    kept = [stage for stage in pipeline["stages"] if stage["id"] != key]
    if len(kept) == len(pipeline["stages"]):
        return False
    pipeline["stages"] = kept
    definitions.put(conn, portal_id, "pipeline", object_type, pipeline_id, pipeline)

    return True


def app_secret():
    """Register an app's client secret, so workflow webhooks naming it get signed."""
    body = _body()
    app_id = str(body.get("app_id") or "")
    secret = body.get("client_secret")
    if not app_id or not isinstance(secret, str) or not secret:
        raise ApiError(400, "Send 'app_id' and 'client_secret'.")
    a = store.app_secrets
    with state.tx() as conn:
        conn.execute(a.delete().where(a.c.app_id == app_id))
        conn.execute(a.insert().values(app_id=app_id, client_secret=secret))

    return jsonify({"app_id": app_id})


def rotate_token():
    """Give an account a new token of the same kind; the old one stops at once."""
    body = _body()
    with state.tx() as conn:
        portal = accounts.find(conn, body)
        if oauth.expires_at(conn, portal["token"]) is None:
            token = accounts.new_token()
        else:
            token, _ = oauth.issue(conn, portal["id"], store.now(conn))
        accounts.set_token(conn, portal["id"], token)
        portal["token"] = token

    return jsonify(accounts.describe(portal))


def deliveries():
    """Answer the workflow webhooks queued or sent, with every attempt."""
    d = store.deliveries
    query = sa.select(d).order_by(d.c.id)
    account = request.args.get("account")
    if account and account.isdigit():
        query = query.where(d.c.portal_id == int(account))
    with state.tx() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        row["first_at"] = store.iso(row["first_at"])
        row["next_at"] = store.iso(row["next_at"])
        row.pop("claimed_until")
        row.pop("auth")

    return jsonify({"results": rows})


def required_properties():
    """Mark properties "required on create", as a portal admin would."""
    body = _body()
    names = body.get("properties")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "'properties' must be a list of property names.")
    object_type = definitions.object_type(str(body.get("object_type") or "contacts"))
    with state.tx() as conn:
        portal = accounts.find(conn, body)
        key = f"required:{portal['id']}:{object_type}"
        store.set_value(conn, key, json.dumps(names))

    return jsonify({"object_type": object_type, "properties": names})


def search_lag():
    """Set how many seconds (on the sandbox clock) new records stay out of search."""
    seconds = _body().get("seconds")
    if not isinstance(seconds, int | float) or seconds < 0:
        raise ApiError(400, "'seconds' must be a number, zero or more.")
    with state.tx() as conn:
        store.set_value(conn, "search_lag", repr(float(seconds)))

    return jsonify({"seconds": seconds})
