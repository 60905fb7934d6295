"""Reading and writing a portal's definitions: properties, groups, pipelines, flows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from carehub_hubspot.sandbox import store
from carehub_hubspot.sandbox.errors import ApiError

OBJECT_TYPES = {
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
    "deals": "deals",
    "deal": "deals",
    "0-3": "deals",
}

OBJECT_TYPE_IDS = {"contacts": "0-1", "deals": "0-3"}


def object_type(raw: str) -> str:
    """Return the sandbox's name for an object type given by name or id."""
    try:
        return OBJECT_TYPES[raw.lower()]
    except KeyError:
        raise ApiError(400, f"Unable to infer object type from: {raw}") from None


def get(
    conn: sa.Connection,
    portal_id: int,
    kind: str,
    object_type_: str,
    key: str,
    archived: bool = False,
) -> dict[str, Any] | None:
    """Return one definition's body, or None."""
    d = store.definitions
    row = conn.execute(
        sa.select(d.c.body).where(
            d.c.portal_id == portal_id,
            d.c.kind == kind,
            d.c.object_type == object_type_,
            d.c.key == key,
            d.c.archived == archived,
        )
    ).first()

    return None if row is None else dict(row.body)


def all_of(
    conn: sa.Connection,
    portal_id: int,
    kind: str,
    object_type_: str | None = None,
    archived: bool = False,
) -> list[dict[str, Any]]:
    """Return every definition of a kind, in the order they were made."""
    d = store.definitions
    query = sa.select(d.c.body).where(
        d.c.portal_id == portal_id, d.c.kind == kind, d.c.archived == archived
    )
    if object_type_ is not None:
        query = query.where(d.c.object_type == object_type_)

    return [dict(row.body) for row in conn.execute(query.order_by(d.c.key))]


def put(
    conn: sa.Connection,
    portal_id: int,
    kind: str,
    object_type_: str,
    key: str,
    body: dict[str, Any],
) -> None:
    """Create or replace a definition (it is then not archived)."""
    d = store.definitions
    where = (
        (d.c.portal_id == portal_id)
        & (d.c.kind == kind)
        & (d.c.object_type == object_type_)
        & (d.c.key == key)
    )
    updated = conn.execute(d.update().where(where).values(body=body, archived=False))
    if not updated.rowcount:
        conn.execute(
            d.insert().values(
                portal_id=portal_id,
                kind=kind,
                object_type=object_type_,
                key=key,
                body=body,
                archived=False,
            )
        )


def archive(
    conn: sa.Connection, portal_id: int, kind: str, object_type_: str, key: str
) -> bool:
    """Archive a definition; return whether there was one to archive."""
    d = store.definitions
    body = get(conn, portal_id, kind, object_type_, key)
    if body is None:
        return False
    body["archived"] = True
    conn.execute(
        d.update()
        .where(
            d.c.portal_id == portal_id,
            d.c.kind == kind,
            d.c.object_type == object_type_,
            d.c.key == key,
        )
        .values(body=body, archived=True)
    )

    return True


def remove(
    conn: sa.Connection, portal_id: int, kind: str, object_type_: str, key: str
) -> bool:
    """Delete a definition for good; return whether there was one."""
    d = store.definitions
    deleted = conn.execute(
        d.delete().where(
            d.c.portal_id == portal_id,
            d.c.kind == kind,
            d.c.object_type == object_type_,
            d.c.key == key,
        )
    )

    return bool(deleted.rowcount)


def properties(conn: sa.Connection, portal_id: int, object_type_: str) -> dict:
    """Return a portal's live properties of an object type, by name, with the
    pipeline and stage options filled in from its pipelines."""
    found = {
        body["name"]: body for body in all_of(conn, portal_id, "property", object_type_)
    }
    if object_type_ == "deals" and "pipeline" in found:
        pipelines = all_of(conn, portal_id, "pipeline", "deals")
        found["pipeline"]["options"] = [
            _option(p["id"], p["label"], p["displayOrder"]) for p in pipelines
        ]
        found["dealstage"]["options"] = [
            _option(s["id"], s["label"], s["displayOrder"])
            for p in pipelines
            for s in p["stages"]
        ]

    return found


def _option(value: str, label: str, order: int) -> dict[str, Any]:
    return {"label": label, "value": value, "displayOrder": order, "hidden": False}
