"""The objects API's batches: read, create, update, upsert, archive; 100 a call."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

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
from carehub_hubspot.sandbox.objects import not_found
from carehub_hubspot.sandbox.payload import batch_answer, batch_inputs, json_body


def register(bp: Blueprint) -> None:
    """Add the batch endpoints under both path families."""
    for verb, view in BATCHES.items():
        routing.add(bp, "objects", f"/<object_type>/batch/{verb}", view, ["POST"])


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
    inputs = batch_inputs(body)
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
                shapes.show(
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

    return batch_answer(started, results, errors, 200)


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
    inputs = batch_inputs(json_body())
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
    inputs = batch_inputs(json_body())
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

    return batch_answer(started, results, errors, ok_status)


def _create_one(conn, portal: dict, object_type: str, item: dict) -> dict:
    record = records.create(conn, portal, object_type, item, routing.date_based())
    enrollment.after_write(conn, portal, object_type, record, None)

    return shapes.show(conn, record, list(record["properties"]))


def _update_one(conn, portal: dict, object_type: str, item: dict) -> dict:
    key = str(item.get("id", ""))
    record = records.resolve(
        conn, portal["id"], object_type, key, item.get("idProperty")
    )
    if record is None:
        raise not_found(object_type, key)
    record, changed = records.update(
        conn, portal, object_type, record, item.get("properties") or {}
    )
    enrollment.after_write(conn, portal, object_type, record, changed)

    return shapes.show(conn, record, list(record["properties"]))


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
    shown = shapes.show(conn, record, list(record["properties"]))
    shown["new"] = new

    return shown


BATCHES = {
    "read": batch_read,
    "create": batch_create,
    "update": batch_update,
    "upsert": batch_upsert,
    "archive": batch_archive,
}
