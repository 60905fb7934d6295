"""limits: under injected 429s and 5xx the connector backs off and succeeds; a
create whose answer is lost leaves one record."""

from __future__ import annotations

import uuid

from hub.canonical import Change, ChangeKind, RecordRef
from hub.testing.kit.declaration import check, not_declared, wait
from hub.testing.kit.expect import succeeds
from hub.testing.kit.suites.records import create_sample

#: How many answers in a row the sandbox refuses.
FAULTS = 2


class LimitsSuite:
    """What the connector does when the remote refuses, fails or goes quiet."""

    def _storm(self, kit, status: int) -> None:
        handle = kit.new_connection()
        kit.ready(handle)
        _, change, applied, ref = create_sample(self, kit, handle)
        before = kit.requests(handle)
        kit.control.fault(FAULTS, status=status, path_prefix=self.fault_path_prefix)
        edited = change.prospect.replace(city=f"Faultville{status}")
        update = Change(
            kind=ChangeKind.UPDATED,
            ref=ref,
            prospect=edited,
            link_key=change.link_key,
            remote_ids=dict(applied.remote_ids),
        )

        wrote, errors = succeeds(
            lambda: kit.retried("apply_change", handle, change=update),
            f"apply_change after {FAULTS} answers of {status}",
        )
        fetched = kit.hook("fetch_record", handle, ref=ref)

        assert wrote.wrote and fetched.city == f"Faultville{status}"
        assert kit.requests(handle) - before > FAULTS, (
            f"The connector did not try again after {status} answers."
        )
        for error in errors:
            assert error.retryable, f"{error!r} is not marked retryable."

    @check("limits", "rate_limited")
    def test_limits_rate_limited(self, kit):
        self._storm(kit, 429)

    @check("limits", "server_errors")
    def test_limits_server_errors(self, kit):
        self._storm(kit, 503)

    @check("limits", "lost_create")
    def test_limits_lost_create(self, kit):
        fault = self.lost_answer_fault
        if not fault:
            raise not_declared(
                "a fault that loses a create's answer",
                "limits",
                "lost_answer_fault = {'latency_ms': ..., 'path_prefix': ...}",
            )
        handle = kit.new_connection()
        kit.ready(handle)
        start = kit.hook("fetch_changes", handle, cursor=None)
        kit.control.advance_clock(1)
        prospect = self.sample_prospect()
        link_key = str(uuid.uuid4())
        create = Change(
            kind=ChangeKind.CREATED,
            prospect=prospect,
            link_key=link_key,
            other_ids=self.other_ids(link_key),
        )
        kit.control.fault(1, **fault)
        # The engine tries again only later, once the slowed request has finished.
        later = (fault.get("latency_ms") or 0) / 1000 + 0.3

        applied, _ = succeeds(
            lambda: kit.retried("apply_change", handle, change=create, pause=later),
            "apply_change of a create whose answer was lost",
        )
        wait(later)
        kind = self.record_kind or next(iter(applied.remote_ids))
        batch = kit.hook("fetch_changes", handle, cursor=start.cursor)
        same = set()
        for change in batch.changes:
            if change.ref is None or change.ref.kind != kind:
                continue
            found = change.prospect or kit.hook(
                "fetch_record", handle, ref=RecordRef(kind, change.ref.id)
            )
            if found is not None and found.last_name == prospect.last_name:
                same.add(change.ref.id)

        assert same == {str(applied.remote_ids[kind])}, (
            f"The remote holds {len(same)} {kind} records of one person after a "
            "create whose answer was lost; look for what the lost call made "
            "before creating again."
        )
