"""Writing many changes at once: the backfill's linked changes, 100 people a batch.

A linked change does what :func:`carehub_hubspot.apply.apply_change` does for it
(the contact's fields and ClearCare Prospect Id, the deal upserted by its link id
and associated with the contact), but for up to 100 people in three calls: one
contacts batch update, one deals batch upsert and one associations batch create
(and one deals batch update for the people who have a deal already, which keeps
its name and takes the link id). HubSpot's batch upsert takes no associations,
hence the associations call. Every call is
safe to repeat, so the whole batch is too. Changes of other kinds are applied one
by one, in their place.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from carehub_hubspot import apply, paths
from carehub_hubspot.client import BATCH_SIZE, HubSpotClient
from carehub_hubspot.errors import from_batch_error
from carehub_hubspot.records import LINK_ID
from hub.canonical import Applied, Change, ChangeKind, Prospect
from hub.errors import RemoteError


@dataclass(frozen=True)
class LinkPlan:
    """What one linked change writes, worked out before any call."""

    change: Change
    #: The person's ids before the deal: the change's, with its ref.
    ids: dict[str, str]
    contact: dict[str, str]
    deal: dict[str, str]
    fingerprint: str | None

    @property
    def contact_id(self) -> str:
        """Return the id of the contact the change links."""
        return str(self.ids["contact"])


def apply_changes(
    client: HubSpotClient, agency, connection, changes: list[Change]
) -> list[Applied]:
    """Write the changes in order; return one ``Applied`` for each, as
    ``apply_change`` would return it, batching the linked ones.

    :raises hub.errors.NeedsAttention: when HubSpot refuses the data.
    """
    applied: list[Applied] = []
    for group in _groups(list(changes)):
        if isinstance(group, Change):
            applied.append(apply.apply_change(client, agency, connection, group))
        else:
            applied.extend(link_many(client, agency, connection, group))

    return applied


def batchable(change: Change) -> bool:
    """Return whether a change can be written in a batch of linked changes."""
    return (
        change.kind == ChangeKind.LINKED
        and bool(change.link_key)
        and "contact" in _ids_of(change)
    )


def _groups(changes: list[Change]) -> Iterator[Change | list[Change]]:
    """Yield, in order, runs of linked changes to batch and single other changes.

    A run holds at most 100 changes and no two of one contact or one link id, so
    the batch never writes one record twice.
    """
    run: list[Change] = []
    contacts: set[str] = set()
    keys: set[str] = set()
    for change in changes:
        if not batchable(change):
            if run:
                yield run
                run, contacts, keys = [], set(), set()
            yield change
            continue

        contact_id = str(_ids_of(change)["contact"])
        full = len(run) >= BATCH_SIZE
        if run and (full or contact_id in contacts or change.link_key in keys):
            yield run
            run, contacts, keys = [], set(), set()
        run.append(change)
        contacts.add(contact_id)
        keys.add(change.link_key)
    if run:
        yield run


def _ids_of(change: Change) -> dict[str, str]:
    ids = dict(change.remote_ids)
    if change.ref is not None:
        ids.setdefault(change.ref.kind, change.ref.id)
    return ids


def plan(connection, change: Change) -> LinkPlan:
    """Return what a linked change writes.

    :raises hub.errors.NeedsAttention: before the pipeline is provisioned.
    """
    prospect = change.prospect or Prospect()

    return LinkPlan(
        change=change,
        ids=_ids_of(change),
        contact=apply.wanted_contact_properties(change, prospect),
        deal=apply.deal_properties(connection, change, prospect),
        fingerprint=prospect.fingerprint() if change.prospect else None,
    )


def link_many(
    client: HubSpotClient, agency, connection, changes: list[Change]
) -> list[Applied]:
    """Write up to 100 linked changes of distinct people in three calls; return
    what each wrote."""
    plans = [plan(connection, change) for change in changes]
    count = len(plans)

    with apply.refusals_need_attention(agency):
        updates = [
            {"id": p.contact_id, "properties": p.contact} for p in plans if p.contact
        ]
        if updates:
            client.batch(
                paths.CONTACTS,
                "update",
                updates,
                what=f"writing the ClearCare Prospect Ids of {len(updates)} contacts",
            )

        held = [p for p in plans if p.ids.get("deal")]
        if held:
            client.batch(
                paths.DEALS,
                "update",
                [apply.existing_deal_input(p.ids["deal"], p.deal) for p in held],
                what=f"linking the deals {len(held)} people have already",
            )
        new = [p for p in plans if not p.ids.get("deal")]
        rows = []
        if new:
            rows = client.batch(
                paths.DEALS,
                "upsert",
                [apply.deal_upsert_input(p.change.link_key, p.deal) for p in new],
                what=f"upserting the deals of {len(new)} linked people",
            )
        keys = [p.change.link_key for p in new]
        upserted = dict(zip(keys, _deal_ids(new, rows), strict=True))
        deal_ids = [
            str(p.ids["deal"]) if p.ids.get("deal") else upserted[p.change.link_key]
            for p in plans
        ]

        pairs = [(deal_ids[i], p.contact_id) for i, p in enumerate(plans)]
        what = f"associating {count} deals with their contacts"
        answer = apply.associate_deals(client, pairs, what=what) or {}
        if answer.get("errors"):
            raise from_batch_error(answer["errors"][0], what)

    return [
        Applied(
            remote_ids={**p.ids, "deal": deal_ids[i]},
            fingerprint=p.fingerprint,
            wrote=True,
        )
        for i, p in enumerate(plans)
    ]


def _deal_ids(plans: list[LinkPlan], rows: list[dict]) -> list[str]:
    """Return each plan's deal id from a batch upsert's answer.

    HubSpot does not promise its batch results in the order of the inputs, so each
    deal is found by its link id.
    """
    by_key = {
        str((row.get("properties") or {}).get(LINK_ID)): str(row["id"]) for row in rows
    }
    missing = [p.change.link_key for p in plans if p.change.link_key not in by_key]
    if missing:
        raise RemoteError(
            f"HubSpot's answer to a deal upsert left out the deals of links "
            f"{', '.join(missing[:5])}. The hub writes them again one at a time.",
            retryable=True,
        )

    return [by_key[p.change.link_key] for p in plans]
