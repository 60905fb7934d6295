"""status: all 12 statuses map to native values and back unchanged."""

from __future__ import annotations

from hub.canonical import Direction, ProspectStatus
from hub.testing.kit.declaration import check
from hub.testing.kit.expect import succeeds


class StatusSuite:
    """``map_status`` both ways, on a connected (and provisioned) connection."""

    @check("status", "round_trip")
    def test_status_round_trip(self, kit):
        handle = kit.new_connection()
        kit.ready(handle)

        natives = {}
        for status in ProspectStatus:
            native = succeeds(
                lambda s=status: kit.hook(
                    "map_status", handle, status=s, direction=Direction.TO_NATIVE
                ),
                f"map_status of {status.name} to native",
            )
            assert native is not None, f"{status.name} maps to no native value."
            back = kit.hook(
                "map_status", handle, status=native, direction=Direction.FROM_NATIVE
            )
            assert back is status, (
                f"{status.name} maps to {native!r}, which maps back to {back!r}."
            )
            natives[status] = native

        assert len({repr(v) for v in natives.values()}) == len(ProspectStatus), (
            "Two statuses map to one native value."
        )

    @check("status", "unknown_native")
    def test_status_unknown_native(self, kit):
        handle = kit.new_connection()
        kit.ready(handle)

        found = kit.hook(
            "map_status",
            handle,
            status=self.unknown_native,
            direction=Direction.FROM_NATIVE,
        )

        assert found is None, (
            f"The native value {self.unknown_native!r} mapped to {found!r}; a value "
            "that maps to no status must give None."
        )
