"""receive: a valid event parses; a tampered, stale or malformed one is refused;
nothing calls the remote meanwhile."""

from __future__ import annotations

from hub.canonical import Change, ChangeKind, Inbound, RecordRef
from hub.errors import MalformedEvent, VerificationFailed
from hub.testing.kit.declaration import check
from hub.testing.kit.expect import json_ready, raises, succeeds


class ReceiveSuite:
    """``receive_event`` with webhooks the declaration makes."""

    def _receive(self, kit, handle, variant: str, run):
        inbound = self.make_inbound(kit, handle, variant)
        assert isinstance(inbound, Inbound), (
            f"make_inbound({variant!r}) returned {inbound!r}; return a hub.Inbound."
        )
        before = kit.requests()

        result = run(lambda: kit.hook("receive_event", handle, inbound=inbound))

        assert kit.requests() == before, (
            f"receive_event called the remote ({kit.requests() - before} requests) "
            f"for a {variant} webhook; it must only verify and parse."
        )
        return result

    def _ready(self, kit):
        handle = kit.new_connection()
        kit.ready(handle)
        return handle

    @check("receive", "valid")
    def test_receive_valid(self, kit):
        handle = self._ready(kit)

        changes = self._receive(
            kit, handle, "valid", lambda call: succeeds(call, "receive_event")
        )

        assert changes, "A valid webhook gave no changes."
        for change in changes:
            assert isinstance(change, Change), f"{change!r} is not a hub.Change."
            assert isinstance(change.kind, ChangeKind)
            assert isinstance(change.ref, RecordRef), (
                "Each change must name the remote object in ref=RecordRef(kind, id)."
            )
            json_ready(change.to_dict(), "The change")
            assert Change.from_dict(change.to_dict()) == change, (
                "The change does not survive the inbox's JSON; keep data JSON-ready."
            )

    @check("receive", "tampered")
    def test_receive_tampered(self, kit):
        handle = self._ready(kit)

        self._receive(
            kit,
            handle,
            "tampered",
            lambda call: raises(VerificationFailed, call, "A tampered webhook"),
        )

    @check("receive", "stale")
    def test_receive_stale(self, kit):
        handle = self._ready(kit)

        self._receive(
            kit,
            handle,
            "stale",
            lambda call: raises(VerificationFailed, call, "A stale webhook"),
        )

    @check("receive", "malformed")
    def test_receive_malformed(self, kit):
        handle = self._ready(kit)

        self._receive(
            kit,
            handle,
            "malformed",
            lambda call: raises(MalformedEvent, call, "A malformed webhook"),
        )
