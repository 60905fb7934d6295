"""The objects API for contacts and deals: one record, lists, and batches."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from carehub_hubspot.sandbox import (
    definitions,
    enrollment,
    records,
    routing,
    shapes,
    state,
    store,
)
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.payload import json_body


def register(bp: Blueprint) -> None:
    """Add the objects API under both path families."""
    routing.add(bp, "objects", "/<object_type>", list_records, ["GET"])
    routing.add(bp, "objects", "/<object_type>", create_record, ["POST"])
    routing.add(bp, "objects", "/<object_type>/<object_id>", read_record, ["GET"])
    routing.add(bp, "objects", "/<object_type>/<object_id>", update_record, ["PATCH"])
    routing.add(bp, "objects", "/<object_type>/<object_id>", archive_record, ["DELETE"])


def _list_arg(name: str) -> list[str] | None:
    values = request.args.getlist(name)
    if not values:
        return None
    return [n for value in values for n in value.split(",") if n]


def not_found(object_type: str, object_id: str) -> ApiError:
    """Return HubSpot's 404 for a record that is not there."""
    return ApiError(
        404,
        "Object not found.  objectId are usually numeric.",
        context={"id": [str(object_id)]},
    )


def list_records(object_type: str):
    """Answer one page of live records, ordered by id."""
    object_type = definitions.object_type(object_type)
    limit = request.args.get("limit", "10")
    if not limit.isdigit() or not 1 <= int(limit) <= 100:
        raise ApiError(400, "limit must be a whole number from 1 to 100.")
    after = request.args.get("after", "0")
    if not after.isdigit():
        raise ApiError(400, f"{after} is not a valid 'after' cursor.")
    archived = request.args.get("archived", "false").lower() == "true"
    portal = state.portal()
    with state.tx() as conn:
        r = store.records
        rows = conn.execute(
            r.select()
            .where(
                r.c.portal_id == portal["id"],
                r.c.object_type == object_type,
                r.c.archived.is_(archived),
                r.c.id > int(after),
            )
            .order_by(r.c.id)
            .limit(int(limit) + 1)
        ).all()
        page = [dict(row._mapping) for row in rows[: int(limit)]]
        results = [
            shapes.show(conn, row, _list_arg("properties"), _list_arg("associations"))
            for row in page
        ]
    body: dict[str, Any] = {"results": results}
    if len(rows) > int(limit):
        cursor = str(page[-1]["id"])
        body["paging"] = {
            "next": {"after": cursor, "link": f"{request.base_url}?after={cursor}"}
        }

    return jsonify(body)


def create_record(object_type: str):
    """Create one record, with its associations; answer 201."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    portal = state.portal()
    with state.tx() as conn:
        record = records.create(conn, portal, object_type, body, routing.date_based())
        enrollment.after_write(conn, portal, object_type, record, None)
        shown = shapes.show(conn, record, list(record["properties"]))
    state.wake_sender()

    return jsonify(shown), 201


def read_record(object_type: str, object_id: str):
    """Answer one record with the properties and associations asked for."""
    object_type = definitions.object_type(object_type)
    archived = request.args.get("archived", "false").lower() == "true"
    portal = state.portal()
    with state.tx() as conn:
        id_property = request.args.get("idProperty")
        if id_property:
            record = records.resolve(
                conn, portal["id"], object_type, object_id, id_property
            )
        else:
            record = records.load(conn, portal["id"], object_type, object_id, archived)
        if record is None:
            raise not_found(object_type, object_id)
        shown = shapes.show(
            conn,
            record,
            _list_arg("properties"),
            _list_arg("associations"),
            _list_arg("propertiesWithHistory"),
        )

    return jsonify(shown)


def update_record(object_type: str, object_id: str):
    """Write property values into one record."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    portal = state.portal()
    with state.tx() as conn:
        record = records.resolve(
            conn, portal["id"], object_type, object_id, request.args.get("idProperty")
        )
        if record is None:
            raise not_found(object_type, object_id)
        record, changed = records.update(
            conn, portal, object_type, record, body.get("properties") or {}
        )
        enrollment.after_write(conn, portal, object_type, record, changed)
        shown = shapes.show(conn, record, list(record["properties"]))
    state.wake_sender()

    return jsonify(shown)


def archive_record(object_type: str, object_id: str):
    """Archive one record; answer 204 even when it was already gone."""
    object_type = definitions.object_type(object_type)
    portal = state.portal()
    with state.tx() as conn:
        record = records.load(conn, portal["id"], object_type, object_id)
        if record is not None:
            records.archive(conn, portal["id"], object_type, record)

    return "", 204
