"""Contacts and deals: property values checked, written with history, shown."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from carehub_hubspot.sandbox import definitions, links, store, values
from carehub_hubspot.sandbox.errors import ApiError

#: Properties a read returns when it names none.
MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
SINGULAR = {"contacts": "contact", "deals": "deal"}
FIRST_ID = {"contacts": 101, "deals": 5001}


def load(
    conn: sa.Connection,
    portal_id: int,
    object_type: str,
    object_id: Any,
    archived: bool = False,
) -> dict | None:
    """Return a record by id, or None."""
    if not str(object_id).isdigit():
        return None
    r = store.records
    row = conn.execute(
        sa.select(r).where(
            r.c.portal_id == portal_id,
            r.c.object_type == object_type,
            r.c.id == int(object_id),
            r.c.archived.is_(archived),
        )
    ).first()

    return None if row is None else dict(row._mapping)


def live(conn: sa.Connection, portal_id: int, object_type: str) -> list[dict]:
    """Return every live record of a type, by id."""
    r = store.records
    rows = conn.execute(
        sa.select(r)
        .where(
            r.c.portal_id == portal_id,
            r.c.object_type == object_type,
            r.c.archived.is_(False),
        )
        .order_by(r.c.id)
    )

    return [dict(row._mapping) for row in rows]


def unique_properties(object_type: str, props: dict[str, dict]) -> list[str]:
    """Return the names of the properties whose values must be unique."""
    names = [name for name, body in props.items() if body.get("hasUniqueValue")]
    if object_type == "contacts":
        names.append("email")

    return names


def find_by(
    conn: sa.Connection, portal_id: int, object_type: str, name: str, value: Any
) -> dict | None:
    """Return the live record whose property ``name`` holds ``value``, or None."""
    if name == "hs_object_id":
        return load(conn, portal_id, object_type, value)
    u = store.unique_values
    holder = conn.execute(
        sa.select(u.c.record_id).where(
            u.c.portal_id == portal_id,
            u.c.object_type == object_type,
            u.c.name == name,
            u.c.value == _comparable(name, value),
        )
    ).scalar()

    return None if holder is None else load(conn, portal_id, object_type, holder)


def resolve(
    conn: sa.Connection,
    portal_id: int,
    object_type: str,
    key: Any,
    id_property: str | None,
) -> dict | None:
    """Return the record named by id, or by a unique property when one is given."""
    if id_property and id_property != "hs_object_id":
        props = definitions.properties(conn, portal_id, object_type)
        if id_property not in unique_properties(object_type, props):
            raise ApiError(
                400,
                f"{id_property} is not a unique identifier property for "
                f"{SINGULAR[object_type]}s; use hs_object_id or a property with "
                "hasUniqueValue.",
            )
        return find_by(conn, portal_id, object_type, id_property, key)

    return load(conn, portal_id, object_type, key)


def _comparable(name: str, value: Any) -> str:
    text = str(value)
    return text.lower() if name == "email" else text


def required_on_create(conn: sa.Connection, portal_id: int, object_type: str) -> list:
    """Return the properties a portal's admin made required on create."""
    return json.loads(
        store.get_value(conn, f"required:{portal_id}:{object_type}", "[]")
    )


def create(
    conn: sa.Connection,
    portal: dict,
    object_type: str,
    body: dict,
    enforce_required: bool = False,
) -> dict:
    """Create a record from a create body; return it.

    :param enforce_required: apply the admin's "required on create" rules, as
        the date-based API versions do.
    """
    given = body.get("properties") or {}
    if not isinstance(given, dict):
        raise ApiError(400, "'properties' must be an object of property values.")
    now = store.now(conn)
    props = definitions.properties(conn, portal["id"], object_type)
    clean = values.check(conn, portal["id"], object_type, props, given, None)
    if enforce_required:
        missing = [
            name
            for name in required_on_create(conn, portal["id"], object_type)
            if clean.get(name) in (None, "")
        ]
        if missing:
            raise values.invalid_values(
                [
                    values.problem(name, "REQUIRED_PROPERTY", f"{name} is required.")
                    for name in missing
                ]
            )
    if object_type == "deals":
        values.place_deal(conn, portal["id"], clean, None)
    planned = _planned_associations(conn, portal["id"], object_type, body)
    _check_unique(conn, portal["id"], object_type, props, clean, None)

    object_id = store.next_id(
        conn, f"{portal['id']}:{object_type}", FIRST_ID[object_type]
    )
    stamp = store.iso(now)
    clean.setdefault("createdate", stamp)
    clean["hs_object_id"] = str(object_id)
    clean[MODIFIED[object_type]] = stamp
    record = {
        "portal_id": portal["id"],
        "object_type": object_type,
        "id": object_id,
        "properties": clean,
        "history": _history({}, clean, now),
        "created_at": now,
        "updated_at": now,
        "archived": False,
    }
    conn.execute(store.records.insert().values(**record))
    _index_unique(conn, portal["id"], object_type, object_id, props, clean)
    for to_type, to_id in planned:
        links.link(conn, portal["id"], object_type, object_id, to_type, to_id)

    return record


def update(
    conn: sa.Connection, portal: dict, object_type: str, record: dict, given: Any
) -> tuple[dict, list[str]]:
    """Write new property values into a record; return it and the names changed."""
    if not isinstance(given, dict):
        raise ApiError(400, "'properties' must be an object of property values.")
    now = store.now(conn)
    props = definitions.properties(conn, portal["id"], object_type)
    clean = values.check(conn, portal["id"], object_type, props, given, record)
    if object_type == "deals":
        values.place_deal(conn, portal["id"], clean, record["properties"])
    _check_unique(conn, portal["id"], object_type, props, clean, record["id"])
    _index_unique(conn, portal["id"], object_type, record["id"], props, clean)

    changed = [
        name for name, value in clean.items() if record["properties"].get(name) != value
    ]
    merged = {**record["properties"], **clean}
    merged[MODIFIED[object_type]] = store.iso(now)
    history = _history(record["history"], {n: clean[n] for n in changed}, now)
    r = store.records
    conn.execute(
        r.update()
        .where(
            r.c.portal_id == portal["id"],
            r.c.object_type == object_type,
            r.c.id == record["id"],
        )
        .values(properties=merged, history=history, updated_at=now)
    )
    record = {**record, "properties": merged, "history": history, "updated_at": now}

    return record, changed


def archive(
    conn: sa.Connection, portal_id: int, object_type: str, record: dict
) -> None:
    """Archive a record."""
    r = store.records
    conn.execute(
        r.update()
        .where(
            r.c.portal_id == portal_id,
            r.c.object_type == object_type,
            r.c.id == record["id"],
        )
        .values(archived=True, updated_at=store.now(conn))
    )
    u = store.unique_values
    conn.execute(
        u.delete().where(
            u.c.portal_id == portal_id,
            u.c.object_type == object_type,
            u.c.record_id == record["id"],
        )
    )


def _planned_associations(
    conn: sa.Connection, portal_id: int, object_type: str, body: dict
) -> list[tuple[str, int]]:
    planned = []
    for item in body.get("associations") or []:
        to = (item or {}).get("to") or {}
        types = item.get("types") or []
        if not types or not to.get("id"):
            raise ApiError(400, "Each association needs 'to.id' and 'types'.")
        for spec in types:
            pair = links.PAIRS.get(_int(spec.get("associationTypeId")))
            if pair is None or pair[0] != object_type:
                raise ApiError(
                    400,
                    f"association type id {spec.get('associationTypeId')} doesn't "
                    f"exist between {SINGULAR[object_type]} and the target object.",
                )
            if load(conn, portal_id, pair[1], to["id"]) is None:
                raise ApiError(
                    400,
                    f"One or more associations are invalid: {SINGULAR[pair[1]]} "
                    f"{to['id']} was not found.",
                )
            planned.append((pair[1], int(to["id"])))

    return planned


def _check_unique(
    conn: sa.Connection,
    portal_id: int,
    object_type: str,
    props: dict,
    clean: dict,
    own_id: int | None,
) -> None:
    for name in unique_properties(object_type, props):
        value = clean.get(name)
        if value in (None, ""):
            continue
        holder = find_by(conn, portal_id, object_type, name, value)
        if holder is None or holder["id"] == own_id:
            continue
        if name == "email":
            message = f"Contact already exists. Existing ID: {holder['id']}"
        else:
            message = (
                f"A {SINGULAR[object_type]} with {name} {json.dumps(value)} already "
                f"exists. Existing ID: {holder['id']}"
            )
        raise ApiError(409, message, category="CONFLICT")


def _index_unique(
    conn: sa.Connection,
    portal_id: int,
    object_type: str,
    record_id: int,
    props: dict,
    written: dict,
) -> None:
    u = store.unique_values
    for name in unique_properties(object_type, props):
        if name not in written:
            continue
        conn.execute(
            u.delete().where(
                u.c.portal_id == portal_id,
                u.c.object_type == object_type,
                u.c.name == name,
                u.c.record_id == record_id,
            )
        )
        if written[name] not in (None, ""):
            conn.execute(
                u.insert().values(
                    portal_id=portal_id,
                    object_type=object_type,
                    name=name,
                    value=_comparable(name, written[name]),
                    record_id=record_id,
                )
            )


def _history(history: dict, written: dict, now: float) -> dict:
    merged = {name: list(versions) for name, versions in history.items()}
    for name, value in written.items():
        version = {"value": value, "timestamp": store.millis(now), "sourceType": "API"}
        merged[name] = [version, *merged.get(name, [])]

    return merged


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
