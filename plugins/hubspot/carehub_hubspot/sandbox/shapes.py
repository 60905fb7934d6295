"""How the objects API shows a record: its properties, associations and history."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from carehub_hubspot.sandbox import definitions, links, store

DEFAULT_PROPERTIES = {
    "contacts": [
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ],
    "deals": [
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ],
}

#: Properties a read always returns, besides those it names.
ALWAYS = {
    "contacts": ["createdate", "hs_object_id", "lastmodifieddate"],
    "deals": ["createdate", "hs_lastmodifieddate", "hs_object_id"],
}


def show(
    conn: sa.Connection,
    record: dict,
    names: list[str] | None = None,
    association_types: list[str] | None = None,
    with_history: list[str] | None = None,
) -> dict[str, Any]:
    """Return a record as the objects API shows it."""
    object_type = record["object_type"]
    held = record["properties"]
    if names is None:
        wanted = DEFAULT_PROPERTIES[object_type]
    else:
        props = definitions.properties(conn, record["portal_id"], object_type)
        asked = [n for n in names if n in props or n in held]
        wanted = sorted(set(ALWAYS[object_type]) | set(asked))
    shown: dict[str, Any] = {
        "id": str(record["id"]),
        "properties": {name: held.get(name) for name in wanted},
        "createdAt": store.iso(record["created_at"]),
        "updatedAt": store.iso(record["updated_at"]),
        "archived": bool(record["archived"]),
    }
    if record["archived"]:
        shown["archivedAt"] = store.iso(record["updated_at"])
    if with_history:
        shown["propertiesWithHistory"] = {
            name: [
                {
                    "value": version["value"],
                    "timestamp": store.iso(version["timestamp"] / 1000),
                    "sourceType": version["sourceType"],
                }
                for version in record["history"].get(name, [])
            ]
            for name in with_history
        }
    found = {}
    for to_type in association_types or []:
        to_type = definitions.OBJECT_TYPES.get(to_type.lower())
        if to_type is None or to_type == object_type:
            continue
        ids = links.targets(
            conn, record["portal_id"], object_type, record["id"], to_type
        )
        if ids:
            label = links.LABELS[(object_type, to_type)]
            found[to_type] = {"results": [{"id": str(i), "type": label} for i in ids]}
    if found:
        shown["associations"] = found

    return shown
