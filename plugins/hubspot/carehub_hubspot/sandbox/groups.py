"""Property groups: create, read, update and archive, with HubSpot's checks."""

from __future__ import annotations

from flask import Blueprint, jsonify

from carehub_hubspot.sandbox import definitions, routing, seed, state
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.payload import json_body
from carehub_hubspot.sandbox.properties import NAME


def register(bp: Blueprint) -> None:
    """Add the property group endpoints under both path families."""
    add = routing.add
    add(bp, "properties", "/<object_type>/groups", list_groups, ["GET"])
    add(bp, "properties", "/<object_type>/groups", create_group, ["POST"])
    add(bp, "properties", "/<object_type>/groups/<name>", read_group, ["GET"])
    add(bp, "properties", "/<object_type>/groups/<name>", update_group, ["PATCH"])
    add(bp, "properties", "/<object_type>/groups/<name>", archive_group, ["DELETE"])


def list_groups(object_type: str):
    """Answer every property group of an object type."""
    object_type = definitions.object_type(object_type)
    with state.tx() as conn:
        groups = definitions.all_of(conn, state.portal()["id"], "group", object_type)

    return jsonify({"results": sorted(groups, key=lambda g: g["displayOrder"])})


def read_group(object_type: str, name: str):
    """Answer one property group."""
    object_type = definitions.object_type(object_type)
    with state.tx() as conn:
        group = definitions.get(conn, state.portal()["id"], "group", object_type, name)
    if group is None:
        raise ApiError(404, f"Property group {name} does not exist.")

    return jsonify(group)


def create_group(object_type: str):
    """Create a property group; answer 201, or 409 when the name is taken."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    name, label = body.get("name"), body.get("label")
    if not isinstance(name, str) or not isinstance(label, str) or not label:
        raise ApiError(400, "A property group needs a 'name' and a 'label'.")
    if not NAME.match(name):
        raise ApiError(
            400,
            f"{name} is not a valid group name: use lowercase letters, "
            "digits and underscores, starting with a letter.",
        )
    portal_id = state.portal()["id"]
    with state.tx() as conn:
        if definitions.get(conn, portal_id, "group", object_type, name) is not None:
            raise ApiError(
                409,
                f"A property group named '{name}' already exists.",
                category="OBJECT_ALREADY_EXISTS",
            )
        order = body.get("displayOrder", -1)
        group = {"name": name, "label": label, "displayOrder": order, "archived": False}
        definitions.put(conn, portal_id, "group", object_type, name, group)

    return jsonify(group), 201


def update_group(object_type: str, name: str):
    """Change a property group's label or display order."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    portal_id = state.portal()["id"]
    with state.tx() as conn:
        group = definitions.get(conn, portal_id, "group", object_type, name)
        if group is None:
            raise ApiError(404, f"Property group {name} does not exist.")
        group.update({k: body[k] for k in ("label", "displayOrder") if k in body})
        definitions.put(conn, portal_id, "group", object_type, name, group)

    return jsonify(group)


def archive_group(object_type: str, name: str):
    """Archive a property group that HubSpot did not define; answer 204."""
    object_type = definitions.object_type(object_type)
    if name in dict(seed.GROUPS[object_type]):
        raise ApiError(
            400, f"{name} is a HubSpot-defined group; it cannot be archived."
        )
    with state.tx() as conn:
        if not definitions.archive(
            conn, state.portal()["id"], "group", object_type, name
        ):
            raise ApiError(404, f"Property group {name} does not exist.")

    return "", 204
