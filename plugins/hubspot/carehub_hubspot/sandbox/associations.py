"""The associations API (v4 shape): batch create, read and archive."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from carehub_hubspot.sandbox import definitions, links, records, routing, state, store
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.payload import batch_answer, batch_inputs, json_body

V3 = "/crm/v3/associations/<from_type>/<to_type>/batch"


def register(bp: Blueprint) -> None:
    """Add the associations endpoints: the v4 shape under both path families, and
    the older v3 shape under ``/crm/v3/associations``."""
    bp.add_url_rule(f"{V3}/create", view_func=v3_create, methods=["POST"])
    bp.add_url_rule(f"{V3}/read", view_func=v3_read, methods=["POST"])
    bp.add_url_rule(f"{V3}/archive", view_func=v3_archive, methods=["POST"])
    routing.add(
        bp,
        "associations",
        "/<from_type>/<to_type>/batch/create",
        batch_create,
        ["POST"],
    )
    routing.add(
        bp, "associations", "/<from_type>/<to_type>/batch/read", batch_read, ["POST"]
    )
    routing.add(
        bp,
        "associations",
        "/<from_type>/<to_type>/batch/archive",
        batch_archive,
        ["POST"],
    )


def _pair(from_type: str, to_type: str) -> tuple[str, str]:
    pair = (definitions.object_type(from_type), definitions.object_type(to_type))
    if pair not in links.TYPE_IDS:
        raise ApiError(400, f"{from_type} cannot be associated with {to_type} here.")

    return pair


def _object_id(item: Any, side: str) -> str:
    value = ((item or {}).get(side) or {}).get("id")
    return "" if value is None else str(value)


def batch_create(from_type: str, to_type: str):
    """Associate pairs of records; answer 201, or 207 for pairs that failed."""
    pair = _pair(from_type, to_type)
    inputs = batch_inputs(json_body())
    portal = state.portal()
    results, errors = [], []
    with state.tx() as conn:
        started = store.iso(store.now(conn))
        for item in inputs:
            from_id, to_id = _object_id(item, "from"), _object_id(item, "to")
            type_ids = [
                spec.get("associationTypeId")
                for spec in (item or {}).get("types") or []
            ]
            if not type_ids or any(links.PAIRS.get(_int(t)) != pair for t in type_ids):
                errors.append(
                    _error(
                        400,
                        "VALIDATION_ERROR",
                        f"Invalid association types {type_ids} for "
                        f"{pair[0]} to {pair[1]}.",
                        [from_id, to_id],
                    )
                )
                continue
            missing = [
                object_id
                for object_type, object_id in ((pair[0], from_id), (pair[1], to_id))
                if records.load(conn, portal["id"], object_type, object_id) is None
            ]
            if missing:
                errors.append(
                    _error(
                        404,
                        "OBJECT_NOT_FOUND",
                        "No records with ids " + ", ".join(missing),
                        missing,
                    )
                )
                continue
            links.link(conn, portal["id"], pair[0], int(from_id), pair[1], int(to_id))
            results.append(
                {
                    "fromObjectTypeId": definitions.OBJECT_TYPE_IDS[pair[0]],
                    "fromObjectId": int(from_id),
                    "toObjectTypeId": definitions.OBJECT_TYPE_IDS[pair[1]],
                    "toObjectId": int(to_id),
                    "labels": [],
                }
            )

    return batch_answer(started, results, errors, 201)


def batch_read(from_type: str, to_type: str):
    """Answer the records associated with each given record."""
    pair = _pair(from_type, to_type)
    inputs = batch_inputs(json_body())
    portal = state.portal()
    results, errors = [], []
    type_id = links.TYPE_IDS[pair]
    with state.tx() as conn:
        started = store.iso(store.now(conn))
        for item in inputs:
            from_id = str((item or {}).get("id", ""))
            if records.load(conn, portal["id"], pair[0], from_id) is None:
                errors.append(
                    _error(
                        404,
                        "OBJECT_NOT_FOUND",
                        f"No {pair[0][:-1]} with id {from_id}.",
                        [from_id],
                    )
                )
                continue
            targets = links.targets(conn, portal["id"], pair[0], int(from_id), pair[1])
            if not targets:
                errors.append(
                    _error(
                        404,
                        "NO_ASSOCIATIONS_FOUND",
                        f"No {pair[1][:-1]} is associated with "
                        f"{pair[0][:-1]} {from_id}.",
                        [from_id],
                    )
                )
                continue
            results.append(
                {
                    "from": {"id": from_id},
                    "to": [
                        {
                            "toObjectId": target,
                            "associationTypes": [
                                {
                                    "category": "HUBSPOT_DEFINED",
                                    "typeId": type_id,
                                    "label": None,
                                }
                            ],
                        }
                        for target in targets
                    ],
                }
            )

    return batch_answer(started, results, errors, 200)


def batch_archive(from_type: str, to_type: str):
    """Remove associations between pairs of records; answer 204."""
    pair = _pair(from_type, to_type)
    inputs = batch_inputs(json_body())
    portal = state.portal()
    with state.tx() as conn:
        for item in inputs:
            from_id = str((item or {}).get("from", {}).get("id", ""))
            for target in (item or {}).get("to") or []:
                to_id = str((target or {}).get("id", ""))
                if from_id.isdigit() and to_id.isdigit():
                    links.unlink(
                        conn, portal["id"], pair[0], int(from_id), pair[1], int(to_id)
                    )

    return "", 204


def _error(status: int, category: str, message: str, ids: list[str]) -> dict:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": ids},
        "subCategory": None if status != 404 else "OBJECT_NOT_FOUND",
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _v3_pairs(pair: tuple[str, str], inputs: list) -> list[tuple[str, str, Any]]:
    label = links.LABELS[pair]
    found = []
    for item in inputs:
        kind = (item or {}).get("type")
        if kind not in (None, label):
            raise ApiError(400, f"{kind} is not a valid association type; use {label}.")
        found.append((_object_id(item, "from"), _object_id(item, "to"), item))

    return found


def v3_create(from_type: str, to_type: str):
    """Associate pairs of records, v3 shape: ``{"from", "to", "type"}``."""
    pair = _pair(from_type, to_type)
    inputs = batch_inputs(json_body())
    portal = state.portal()
    results, errors = [], []
    with state.tx() as conn:
        started = store.iso(store.now(conn))
        for from_id, to_id, _item in _v3_pairs(pair, inputs):
            missing = [
                object_id
                for object_type, object_id in ((pair[0], from_id), (pair[1], to_id))
                if records.load(conn, portal["id"], object_type, object_id) is None
            ]
            if missing:
                message = "No records with ids " + ", ".join(missing)
                errors.append(_error(404, "OBJECT_NOT_FOUND", message, missing))
                continue
            links.link(conn, portal["id"], pair[0], int(from_id), pair[1], int(to_id))
            results.append(
                {
                    "from": {"id": from_id},
                    "to": {"id": to_id},
                    "type": links.LABELS[pair],
                }
            )

    return batch_answer(started, results, errors, 201)


def v3_read(from_type: str, to_type: str):
    """Answer the records associated with each given record, v3 shape."""
    pair = _pair(from_type, to_type)
    inputs = batch_inputs(json_body())
    portal = state.portal()
    results = []
    with state.tx() as conn:
        started = store.iso(store.now(conn))
        for item in inputs:
            from_id = str((item or {}).get("id", ""))
            if records.load(conn, portal["id"], pair[0], from_id) is None:
                continue
            targets = links.targets(conn, portal["id"], pair[0], int(from_id), pair[1])
            if targets:
                label = links.LABELS[pair]
                results.append(
                    {
                        "from": {"id": from_id},
                        "to": [{"id": str(t), "type": label} for t in targets],
                    }
                )

    return batch_answer(started, results, [], 200)


def v3_archive(from_type: str, to_type: str):
    """Remove associations between pairs of records, v3 shape; answer 204."""
    pair = _pair(from_type, to_type)
    inputs = batch_inputs(json_body())
    portal = state.portal()
    with state.tx() as conn:
        for from_id, to_id, _item in _v3_pairs(pair, inputs):
            if from_id.isdigit() and to_id.isdigit():
                links.unlink(
                    conn, portal["id"], pair[0], int(from_id), pair[1], int(to_id)
                )

    return "", 204
