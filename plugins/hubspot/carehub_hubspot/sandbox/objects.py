"""The objects API for contacts and deals: one record, lists, and batches."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from carehub_hubspot.sandbox import (
    definitions,
    enrollment,
    records,
    routing,
    state,
    store,
)
from carehub_hubspot.sandbox.errors import ApiError

BATCH_LIMIT = 100


def register(bp: Blueprint) -> None:
    """Add the objects API under both path families."""
    routing.add(bp, "objects", "/<object_type>", list_records, ["GET"])
    routing.add(bp, "objects", "/<object_type>", create_record, ["POST"])
    routing.add(bp, "objects", "/<object_type>/<object_id>", read_record, ["GET"])
    routing.add(bp, "objects", "/<object_type>/<object_id>", update_record, ["PATCH"])
    routing.add(bp, "objects", "/<object_type>/<object_id>", archive_record, ["DELETE"])
    for verb in ("read", "create", "update", "upsert", "archive"):
        routing.add(
            bp, "objects", f"/<object_type>/batch/{verb}", BATCHES[verb], ["POST"]
        )


def json_body() -> dict[str, Any]:
    """Return the request's JSON object, or raise HubSpot's 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid input JSON: send a JSON object as the body.")

    return body


def _names(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [name for name in raw.split(",") if name]


def _list_arg(name: str) -> list[str] | None:
    values = request.args.getlist(name)
    if not values:
        return None
    return [n for value in values for n in value.split(",") if n]


def _not_found(object_type: str, object_id: str) -> ApiError:
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
            records.show(conn, row, _list_arg("properties"), _list_arg("associations"))
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
        shown = records.show(conn, record, list(record["properties"]))
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
            raise _not_found(object_type, object_id)
        shown = records.show(
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
            raise _not_found(object_type, object_id)
        record, changed = records.update(
            conn, portal, object_type, record, body.get("properties") or {}
        )
        enrollment.after_write(conn, portal, object_type, record, changed)
        shown = records.show(conn, record, list(record["properties"]))
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


def _inputs(body: dict) -> list:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError(400, "Invalid input JSON: 'inputs' must be a list.")
    if len(inputs) > BATCH_LIMIT:
        raise ApiError(
            400,
            f"Batch input size {len(inputs)} exceeds the limit of {BATCH_LIMIT}; "
            "split the inputs into several calls.",
        )

    return inputs


def _batch_answer(started: str, results: list, errors: list, ok_status: int):
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": started,
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return jsonify(body), 207

    return jsonify(body), ok_status


def _input_error(error: ApiError, item: Any) -> dict[str, Any]:
    context = dict(error.extra.get("context") or {})
    trace = item.get("objectWriteTraceId") if isinstance(item, dict) else None
    if trace is not None:
        context["objectWriteTraceId"] = [str(trace)]
    return {
        "status": "error",
        "category": error.category,
        "message": error.message,
        "context": context,
    }


def batch_read(object_type: str):
    """Answer several records by id or by a unique property."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    inputs = _inputs(body)
    portal = state.portal()
    results, missing = [], []
    with state.tx() as conn:
        started = store.iso(store.now(conn))
        for item in inputs:
            key = str((item or {}).get("id", ""))
            record = records.resolve(
                conn, portal["id"], object_type, key, body.get("idProperty")
            )
            if record is None:
                missing.append(key)
                continue
            results.append(
                records.show(
                    conn,
                    record,
                    body.get("properties") or [],
                    None,
                    body.get("propertiesWithHistory"),
                )
            )
    errors = []
    if missing:
        errors.append(
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {object_type[:-1].upper()} objects, "
                "they may be deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing},
            }
        )

    return _batch_answer(started, results, errors, 200)


def batch_create(object_type: str):
    """Create several records; answer 201, or 207 naming each input that failed."""
    return _batch_write(object_type, _create_one, 201)


def batch_update(object_type: str):
    """Update several records by id; answer 207 for those that failed."""
    return _batch_write(object_type, _update_one, 200)


def batch_upsert(object_type: str):
    """Create or update several records by a unique property."""
    return _batch_write(object_type, _upsert_one, 200)


def batch_archive(object_type: str):
    """Archive several records; answer 204."""
    object_type = definitions.object_type(object_type)
    inputs = _inputs(json_body())
    portal = state.portal()
    with state.tx() as conn:
        for item in inputs:
            record = records.load(
                conn, portal["id"], object_type, (item or {}).get("id")
            )
            if record is not None:
                records.archive(conn, portal["id"], object_type, record)

    return "", 204


def _batch_write(object_type: str, write_one, ok_status: int):
    object_type = definitions.object_type(object_type)
    inputs = _inputs(json_body())
    portal = state.portal()
    results, errors = [], []
    with state.tx() as conn:
        started = store.iso(store.now(conn))
        for item in inputs:
            if not isinstance(item, dict):
                errors.append(
                    _input_error(ApiError(400, "Each input must be an object."), item)
                )
                continue
            savepoint = conn.begin_nested()
            try:
                shown = write_one(conn, portal, object_type, item)
            except ApiError as error:
                savepoint.rollback()
                errors.append(_input_error(error, item))
                continue
            savepoint.commit()
            results.append(shown)
    state.wake_sender()

    return _batch_answer(started, results, errors, ok_status)


def _create_one(conn, portal: dict, object_type: str, item: dict) -> dict:
    record = records.create(conn, portal, object_type, item, routing.date_based())
    enrollment.after_write(conn, portal, object_type, record, None)

    return records.show(conn, record, list(record["properties"]))


def _update_one(conn, portal: dict, object_type: str, item: dict) -> dict:
    key = str(item.get("id", ""))
    record = records.resolve(
        conn, portal["id"], object_type, key, item.get("idProperty")
    )
    if record is None:
        raise _not_found(object_type, key)
    record, changed = records.update(
        conn, portal, object_type, record, item.get("properties") or {}
    )
    enrollment.after_write(conn, portal, object_type, record, changed)

    return records.show(conn, record, list(record["properties"]))


def _upsert_one(conn, portal: dict, object_type: str, item: dict) -> dict:
    key = item.get("id")
    id_property = item.get("idProperty")
    if key in (None, "") or not id_property:
        raise ApiError(400, "Each upsert input needs an 'id' and an 'idProperty'.")
    record = records.resolve(conn, portal["id"], object_type, key, id_property)
    properties = dict(item.get("properties") or {})
    if record is None:
        if id_property != "hs_object_id":
            properties[id_property] = key
        record = records.create(
            conn, portal, object_type, {"properties": properties}, routing.date_based()
        )
        enrollment.after_write(conn, portal, object_type, record, None)
        new = True
    else:
        record, changed = records.update(conn, portal, object_type, record, properties)
        enrollment.after_write(conn, portal, object_type, record, changed)
        new = False
    shown = records.show(conn, record, list(record["properties"]))
    shown["new"] = new

    return shown


BATCHES = {
    "read": batch_read,
    "create": batch_create,
    "update": batch_update,
    "upsert": batch_upsert,
    "archive": batch_archive,
}
