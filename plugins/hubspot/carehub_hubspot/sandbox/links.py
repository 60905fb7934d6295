"""Associations between records, stored once in each direction."""

from __future__ import annotations

import sqlalchemy as sa

from carehub_hubspot.sandbox import store

#: HubSpot's default association type ids between contacts and deals.
TYPE_IDS = {("contacts", "deals"): 4, ("deals", "contacts"): 3}
PAIRS = {type_id: pair for pair, type_id in TYPE_IDS.items()}
LABELS = {
    ("contacts", "deals"): "contact_to_deal",
    ("deals", "contacts"): "deal_to_contact",
}


def link(
    conn: sa.Connection,
    portal_id: int,
    from_type: str,
    from_id: int,
    to_type: str,
    to_id: int,
) -> None:
    """Associate two records, in both directions."""
    a = store.associations
    for row in (
        (from_type, from_id, to_type, to_id),
        (to_type, to_id, from_type, from_id),
    ):
        exists = conn.execute(
            sa.select(a.c.portal_id).where(
                a.c.portal_id == portal_id,
                a.c.from_type == row[0],
                a.c.from_id == row[1],
                a.c.to_type == row[2],
                a.c.to_id == row[3],
            )
        ).first()
        if exists is None:
            conn.execute(
                a.insert().values(
                    portal_id=portal_id,
                    from_type=row[0],
                    from_id=row[1],
                    to_type=row[2],
                    to_id=row[3],
                )
            )


def unlink(
    conn: sa.Connection,
    portal_id: int,
    from_type: str,
    from_id: int,
    to_type: str,
    to_id: int,
) -> None:
    """Remove the association between two records, both directions."""
    a = store.associations
    for row in (
        (from_type, from_id, to_type, to_id),
        (to_type, to_id, from_type, from_id),
    ):
        conn.execute(
            a.delete().where(
                a.c.portal_id == portal_id,
                a.c.from_type == row[0],
                a.c.from_id == row[1],
                a.c.to_type == row[2],
                a.c.to_id == row[3],
            )
        )


def targets(
    conn: sa.Connection, portal_id: int, from_type: str, from_id: int, to_type: str
) -> list[int]:
    """Return the ids of live records of ``to_type`` associated with a record."""
    a = store.associations
    r = store.records
    query = (
        sa.select(a.c.to_id)
        .join(
            r,
            (r.c.portal_id == a.c.portal_id)
            & (r.c.object_type == a.c.to_type)
            & (r.c.id == a.c.to_id),
        )
        .where(
            a.c.portal_id == portal_id,
            a.c.from_type == from_type,
            a.c.from_id == from_id,
            a.c.to_type == to_type,
            r.c.archived.is_(False),
        )
        .order_by(a.c.to_id)
    )

    return [row.to_id for row in conn.execute(query)]
