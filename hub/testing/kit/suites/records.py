"""records: a prospect written, read back (alone and in a batch), listed and polled;
the hub's own write is recognised by its fingerprint."""

from __future__ import annotations

import uuid

import pytest

from hub.canonical import (
    Applied,
    Change,
    ChangeBatch,
    ChangeKind,
    Prospect,
    RecordPage,
    RecordRef,
    Role,
)
from hub.testing.kit.declaration import check
from hub.testing.kit.expect import succeeds


def create_sample(declaration, kit, handle, prospect=None):
    """Create a sample prospect; return it, the change, the result and the ref."""
    prospect = prospect or declaration.sample_prospect()
    link_key = str(uuid.uuid4())
    change = Change(
        kind=ChangeKind.CREATED,
        prospect=prospect,
        link_key=link_key,
        other_ids=declaration.other_ids(link_key),
    )
    applied, _ = kit.retried("apply_change", handle, change=change)
    assert isinstance(applied, Applied), (
        f"apply_change returned {applied!r}; return a hub.Applied."
    )
    assert applied.remote_ids, "apply_change of a create returned no remote ids."
    kind = declaration.record_kind or next(iter(applied.remote_ids))
    assert kind in applied.remote_ids, (
        f"apply_change returned {dict(applied.remote_ids)}, without a {kind!r}."
    )
    ref = RecordRef(kind, str(applied.remote_ids[kind]))

    return prospect, change, applied, ref


def read_back(kit, handle, remote_ids) -> Prospect:
    """Return what every remote object of a person reads back as, merged: each
    field and the status from the first object that holds it."""
    values: dict = {}
    for kind, remote_id in remote_ids.items():
        found = kit.hook("fetch_record", handle, ref=RecordRef(kind, str(remote_id)))
        assert found is not None, f"fetch_record({kind}:{remote_id}) found nothing."
        for name, value in {**found.fields(), "status": found.status}.items():
            if values.get(name) is None:
                values[name] = value

    return Prospect(**values)


class RecordsSuite:
    """``apply_change``, ``fetch_record`` and ``fetch_changes`` together."""

    def _ready(self, kit):
        handle = kit.new_connection()
        kit.ready(handle)
        return handle

    @check("records", "create_and_read_back")
    def test_records_create_and_read_back(self, kit):
        handle = self._ready(kit)

        prospect, _, applied, ref = create_sample(self, kit, handle)
        fetched = succeeds(
            lambda: kit.hook("fetch_record", handle, ref=ref), "fetch_record"
        )

        assert applied.wrote, "apply_change of a create says it wrote nothing."
        assert fetched is not None, f"fetch_record({ref}) found nothing after a create."
        for name, value in prospect.fields().items():
            if value is not None:
                assert getattr(fetched, name) == value, (
                    f"{name} was written as {value!r} but read back as "
                    f"{getattr(fetched, name)!r}."
                )

    @check("records", "own_write_recognised")
    def test_records_own_write_recognised(self, kit):
        handle = self._ready(kit)

        _, _, applied, _ = create_sample(self, kit, handle)
        held = read_back(kit, handle, applied.remote_ids)

        assert applied.fingerprint, "Applied.fingerprint is empty."
        assert held.fingerprint() == applied.fingerprint, (
            "What the remote holds after the write, read back through fetch_record, "
            "has another fingerprint than Applied.fingerprint, so the hub would "
            "take the webhook of its own write for a person's edit. Return the "
            "fingerprint of what the remote now holds."
        )

    @check("records", "update_round_trip")
    def test_records_update_round_trip(self, kit):
        handle = self._ready(kit)
        prospect, change, applied, ref = create_sample(self, kit, handle)
        edited = prospect.replace(first_name="Kitty", city="Shelbyville")
        update = Change(
            kind=ChangeKind.UPDATED,
            ref=ref,
            prospect=edited,
            link_key=change.link_key,
            remote_ids=dict(applied.remote_ids),
            other_ids=change.other_ids,
        )

        wrote, _ = kit.retried("apply_change", handle, change=update)
        again, _ = kit.retried("apply_change", handle, change=update)
        fetched = kit.hook("fetch_record", handle, ref=ref)

        assert wrote.wrote, "An update with new values says it wrote nothing."
        assert not again.wrote, (
            "Writing the same values again says it wrote; answer wrote=False when "
            "the remote already holds them."
        )
        assert (fetched.first_name, fetched.city) == ("Kitty", "Shelbyville")

    @check("records", "fetch_changes")
    def test_records_fetch_changes(self, kit):
        handle = self._ready(kit)
        start = succeeds(
            lambda: kit.hook("fetch_changes", handle, cursor=None), "fetch_changes"
        )
        assert isinstance(start, ChangeBatch), (
            f"fetch_changes returned {start!r}; return a hub.ChangeBatch."
        )
        kit.control.advance_clock(1)

        _, _, _, ref = create_sample(self, kit, handle)
        batch = kit.hook("fetch_changes", handle, cursor=start.cursor)

        assert start.cursor is not None, "fetch_changes(None) gave no cursor."
        assert ref in [c.ref for c in batch.changes], (
            f"fetch_changes since the last cursor did not find {ref}."
        )
        assert batch.cursor is not None

    @check("records", "gone_is_none")
    def test_records_gone_is_none(self, kit):
        handle = self._ready(kit)
        _, _, _, ref = create_sample(self, kit, handle)

        gone = kit.hook("fetch_record", handle, ref=RecordRef(ref.kind, "987654321"))

        assert gone is None, "fetch_record of an object that does not exist is None."

    @check("records", "batch_read")
    def test_records_batch_read(self, kit):
        handle = self._ready(kit)
        refs = [create_sample(self, kit, handle)[3] for _ in range(2)]
        gone = RecordRef(refs[0].kind, "987654321")

        found = succeeds(
            lambda: kit.hook("fetch_records", handle, refs=[*refs, gone]),
            "fetch_records",
        )
        one_by_one = {ref: kit.hook("fetch_record", handle, ref=ref) for ref in refs}

        assert found.get(gone) is None, "fetch_records found an object that is gone."
        for ref in refs:
            assert found.get(ref) == one_by_one[ref], (
                f"fetch_records read {ref} as {found.get(ref)!r}, but fetch_record "
                f"reads it as {one_by_one[ref]!r}; both must read an object alike."
            )

    @check("records", "list_pages")
    def test_records_list_pages(self, kit):
        if kit.info.role != Role.SALES:
            pytest.skip(
                "records.list_pages: only a sales connector is backfilled from."
            )
        handle = self._ready(kit)
        made = {}
        for _ in range(3):
            prospect, _, _, ref = create_sample(self, kit, handle)
            made[ref] = prospect

        seen, after = {}, None
        for _ in range(1000):
            page = succeeds(
                lambda after=after: kit.hook(
                    "list_records", handle, after=after, limit=2
                ),
                "list_records",
            )
            assert isinstance(page, RecordPage), (
                f"list_records returned {page!r}; return a hub.RecordPage."
            )
            assert len(page.records) <= 2, "list_records gave more than the limit."
            for record in page.records:
                assert record.ref not in seen, f"list_records gave {record.ref} twice."
                seen[record.ref] = record
            if page.after is None:
                break
            after = page.after

        for ref, prospect in made.items():
            assert ref in seen, f"list_records never gave {ref}."
            listed = seen[ref].prospect
            for name, value in prospect.fields().items():
                if value is not None:
                    assert getattr(listed, name) == value, (
                        f"list_records gave {ref}'s {name} as "
                        f"{getattr(listed, name)!r}, not {value!r}."
                    )
