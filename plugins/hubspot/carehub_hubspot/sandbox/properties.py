"""The properties API: properties, with HubSpot's checks."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request

from carehub_hubspot.sandbox import definitions, routing, seed, state, store
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.payload import batch_answer, batch_inputs, json_body

VALID_PAIRS = {
    "string": {"text", "textarea", "phonenumber"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "number": {"number"},
    "bool": {"booleancheckbox"},
    "date": {"date"},
    "datetime": {"date"},
}
MAX_UNIQUE = 10
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED = ("name", "label", "type", "fieldType", "groupName")
EDITABLE = (
    "label", "description", "groupName", "options", "displayOrder", "hidden",
    "formField", "type", "fieldType",
)  # fmt: skip


def register(bp: Blueprint) -> None:
    """Add the properties endpoints under both path families."""
    add = routing.add
    add(bp, "properties", "/<object_type>", list_properties, ["GET"])
    add(bp, "properties", "/<object_type>", create_property, ["POST"])
    add(bp, "properties", "/<object_type>/batch/create", batch_create, ["POST"])
    add(bp, "properties", "/<object_type>/batch/read", batch_read, ["POST"])
    add(bp, "properties", "/<object_type>/batch/archive", batch_archive, ["POST"])
    add(bp, "properties", "/<object_type>/<name>", read_property, ["GET"])
    add(bp, "properties", "/<object_type>/<name>", update_property, ["PATCH"])
    add(bp, "properties", "/<object_type>/<name>", archive_property, ["DELETE"])


def list_properties(object_type: str):
    """Answer every property of an object type."""
    object_type = definitions.object_type(object_type)
    archived = request.args.get("archived", "false").lower() == "true"
    with state.tx() as conn:
        if archived:
            found = definitions.all_of(
                conn, state.portal()["id"], "property", object_type, archived=True
            )
        else:
            found = list(
                definitions.properties(conn, state.portal()["id"], object_type).values()
            )

    return jsonify({"results": found})


def read_property(object_type: str, name: str):
    """Answer one property."""
    object_type = definitions.object_type(object_type)
    with state.tx() as conn:
        found = definitions.properties(conn, state.portal()["id"], object_type).get(
            name
        )
    if found is None:
        raise _missing_property(name, object_type)

    return jsonify(found)


def create_property(object_type: str):
    """Create a property; answer 201, or 409 when the name is taken."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    with state.tx() as conn:
        created = _create(conn, state.portal()["id"], object_type, body)

    return jsonify(created), 201


def batch_create(object_type: str):
    """Create several properties; answer 201, or 207 for those that failed."""
    object_type = definitions.object_type(object_type)
    inputs = batch_inputs(json_body())
    results, errors = [], []
    with state.tx() as conn:
        started = store.iso(store.now(conn))
        for item in inputs:
            try:
                results.append(_create(conn, state.portal()["id"], object_type, item))
            except ApiError as error:
                errors.append(
                    {
                        "status": "error",
                        "category": error.category,
                        "message": error.message,
                        "context": {"name": [str((item or {}).get("name"))]},
                    }
                )

    return batch_answer(started, results, errors, 201)


def batch_read(object_type: str):
    """Answer several properties by name."""
    object_type = definitions.object_type(object_type)
    inputs = batch_inputs(json_body())
    with state.tx() as conn:
        props = definitions.properties(conn, state.portal()["id"], object_type)
        started = store.iso(store.now(conn))
    names = [str((item or {}).get("name")) for item in inputs]
    results = [props[name] for name in names if name in props]

    return jsonify(
        {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": started,
        }
    )


def batch_archive(object_type: str):
    """Archive several properties; answer 204."""
    object_type = definitions.object_type(object_type)
    inputs = batch_inputs(json_body())
    with state.tx() as conn:
        for item in inputs:
            _archive(
                conn, state.portal()["id"], object_type, str((item or {}).get("name"))
            )

    return "", 204


def update_property(object_type: str, name: str):
    """Change a property's label, group, options or field type."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    portal_id = state.portal()["id"]
    with state.tx() as conn:
        found = definitions.get(conn, portal_id, "property", object_type, name)
        if found is None:
            raise _missing_property(name, object_type)
        if found["modificationMetadata"]["readOnlyDefinition"]:
            raise ApiError(
                400,
                f"{name} is a HubSpot-defined property; its "
                "definition cannot be changed.",
            )
        merged = {**found, **{k: body[k] for k in EDITABLE if k in body}}
        _check(conn, portal_id, object_type, merged)
        merged["options"] = _options(merged)
        merged["updatedAt"] = store.iso(store.now(conn))
        definitions.put(conn, portal_id, "property", object_type, name, merged)

    return jsonify(merged)


def archive_property(object_type: str, name: str):
    """Archive a property; answer 204."""
    object_type = definitions.object_type(object_type)
    with state.tx() as conn:
        _archive(conn, state.portal()["id"], object_type, name)

    return "", 204


def _create(conn, portal_id: int, object_type: str, body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "Each property must be a JSON object.")
    missing = [field for field in REQUIRED if not body.get(field)]
    if missing:
        raise ApiError(400, "A property needs " + ", ".join(missing) + ".")
    name = body["name"]
    if not isinstance(name, str) or not NAME.match(name) or name.startswith("hs_"):
        raise ApiError(
            400,
            f"{name} is not a valid property name: use lowercase "
            "letters, digits and underscores, starting with a letter "
            "and not with hs_.",
        )
    if definitions.get(conn, portal_id, "property", object_type, name) is not None:
        raise ApiError(
            409,
            f"Property named '{name}' already exists.",
            category="OBJECT_ALREADY_EXISTS",
        )
    _check(conn, portal_id, object_type, body)
    if body.get("hasUniqueValue"):
        unique = [
            p
            for p in definitions.all_of(conn, portal_id, "property", object_type)
            if p.get("hasUniqueValue")
        ]
        if len(unique) >= MAX_UNIQUE:
            raise ApiError(
                400,
                f"An object type can have at most {MAX_UNIQUE} properties with "
                "unique values; archive one before adding another.",
            )
    stamp = store.iso(store.now(conn))
    created = seed.property_body(
        name, body["label"], body["type"], body["fieldType"], body["groupName"], stamp,
        options=_options(body),
        description=body.get("description") or "",
        display_order=body.get("displayOrder", -1),
        has_unique_value=bool(body.get("hasUniqueValue", False)),
        hidden=bool(body.get("hidden", False)),
        form_field=bool(body.get("formField", False)),
    )  # fmt: skip
    definitions.put(conn, portal_id, "property", object_type, name, created)

    return created


def _check(conn, portal_id: int, object_type: str, body: dict) -> None:
    type_, field_type = body.get("type"), body.get("fieldType")
    if field_type not in VALID_PAIRS.get(type_, ()):
        raise ApiError(
            400,
            f"fieldType {field_type!r} is not valid for type {type_!r}; "
            "valid pairs: "
            + "; ".join(f"{t}: {', '.join(sorted(f))}" for t, f in VALID_PAIRS.items()),
        )
    if (
        definitions.get(conn, portal_id, "group", object_type, body["groupName"])
        is None
    ):
        raise ApiError(
            400, f"Property group {body['groupName']} does not exist; create it first."
        )
    if body.get("hasUniqueValue") and type_ not in ("string", "number"):
        raise ApiError(400, "Only string and number properties can have unique values.")
    if type_ == "enumeration":
        options = body.get("options")
        if not isinstance(options, list) or not options:
            raise ApiError(400, "An enumeration property needs a list of 'options'.")
        seen = set()
        for option in options:
            if not isinstance(option, dict) or not all(
                k in option for k in ("label", "value", "hidden")
            ):
                raise ApiError(
                    400,
                    "Each option needs a 'label', a 'value' and "
                    f"'hidden'; got {option!r}.",
                )
            if option["value"] in seen:
                raise ApiError(400, f"Option value {option['value']!r} appears twice.")
            seen.add(option["value"])


def _options(body: dict) -> list[dict]:
    if body.get("type") == "bool" and not body.get("options"):
        return [
            {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
            {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
        ]
    if body.get("type") != "enumeration":
        return []
    return [
        {
            "label": str(option["label"]),
            "value": str(option["value"]),
            "displayOrder": option.get("displayOrder", index),
            "hidden": bool(option["hidden"]),
        }
        for index, option in enumerate(body.get("options") or [])
    ]


def _archive(conn, portal_id: int, object_type: str, name: str) -> None:
    found = definitions.get(conn, portal_id, "property", object_type, name)
    if found is None:
        raise _missing_property(name, object_type)
    if not found["modificationMetadata"]["archivable"]:
        raise ApiError(
            400, f"{name} is a HubSpot-defined property; it cannot be archived."
        )
    definitions.archive(conn, portal_id, "property", object_type, name)


def _missing_property(name: str, object_type: str) -> ApiError:
    return ApiError(
        404,
        f"Unable to find property {name} for object type "
        f"{definitions.OBJECT_TYPE_IDS[object_type]}.",
    )
